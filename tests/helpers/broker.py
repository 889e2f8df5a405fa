"""A fake broker for the sans-IO core whose bytes never touch amqpio's codec.

``FakeBroker`` builds what a server sends and reads what the client sent
(method frames, published messages reassembled from their content frames,
heartbeats). ``Pair`` couples it with a ``sansio.Connection``: scripts call
commands on ``pair.conn``, push server frames with ``pair.recv`` (split into
chunks by the pair's splitter) and read the client's frames with
``pair.sent()``. Every event and remote error lands in ``pair.log`` so that
runs of one script under different chunkings can be compared.

Theory of operation
-------------------
Tests speak in amqpio's ``spec`` method objects, but the wire bytes in both
directions are made and parsed by pamqp, an independent AMQP codec, so that a
bug shared by amqpio's encoder and decoder (two fields swapped in both, a
wrong length prefix read back the same way) cannot pass unnoticed:

* server -> client: an amqpio method is converted, argument by argument, into
  the pamqp method with the same name (looked up by ``(class id, method id)``
  in ``pamqp.commands.INDEX_MAPPING``), then ``pamqp.frame.marshal`` writes the
  frame. The argument order on the wire is pamqp's, never amqpio's. Content
  header and body frames come from ``pamqp.header.ContentHeader`` and
  ``pamqp.body.ContentBody``, heartbeats from ``pamqp.heartbeat.Heartbeat``.
* client -> server: frames are cut out of the byte stream with the spec's
  frame header (section 4.2.3), parsed by ``pamqp.frame.unmarshal``, checked
  to be consumed exactly (pamqp itself ignores trailing bytes), and converted
  back into amqpio objects, which tests compare as before.

Nothing here calls amqpio's ``encode``/``decode``, ``decode_method``,
``FrameReader`` or frame builders; constructing ``amqpio.spec`` objects from
pamqp's values (and reading their attributes) is the only contact.
``FakeBroker.frame`` writes a raw frame by hand from the spec for the
deliberately malformed frames pamqp cannot express.

Known pamqp / amqpio differences, and what the fake does about them
--------------------------------------------------------------------
* Reserved fields (XML ``reserved="1"``): amqpio hides them, pamqp exposes them
  (``ticket``, ``capabilities``, ``insist``, ``known_hosts``, ``out_of_band``,
  ``channel_id``, ``cluster_id``). Sent: pamqp's defaults, which its
  ``validate()`` insists on (``"0"`` for Channel.OpenOk's ``channel_id``,
  where RabbitMQ sends ``""``; clients must ignore reserved values). Read: the
  client's reserved values must be zero/empty, else the fake raises.
* Names: amqpio's ``no_wait`` is pamqp's ``nowait``; every other argument has
  the same name (including ``global_``, ``exchange_type``, ``message_type``).
* longstr: amqpio uses ``bytes``, pamqp ``str`` (it can encode only UTF-8
  text, and decodes to ``bytes`` only when the bytes are not UTF-8). A
  non-UTF-8 longstr argument raises ``NotExpressible``: build such a frame by
  hand with ``FakeBroker.frame``.
* Field tables (RabbitMQ's type octets, the 0-9-1 errata): pamqp picks the
  smallest integer type (``b``/``s``/``u``/``I``/``i``/``l``) and sorts keys,
  amqpio sends ``I``/``l`` in insertion order; the decoded values are the same.
  pamqp encodes byte arrays (``x``) only from ``bytearray`` and decodes them to
  ``bytearray``: converted both ways. pamqp sends every float as ``f``
  (float32): a float that float32 would change raises ``NotExpressible``.
  pamqp decodes a decimal's value as signed and ``T`` above 2**32 - 1 as
  milliseconds (a heuristic): values the tests do not use.
* longlong: pamqp's is signed; a delivery tag or body size of 2**63 or more
  raises (pamqp's ``TypeError``) when sent and reads back negative.
* Properties: pamqp's ``marshal`` leaves out a property whose value is ``""``
  (so the client sees ``None``), and its constructor refuses ``cluster_id`` and
  ``delivery_mode`` values other than ``""`` and 1/2; the fake sets the values
  without that constructor so a test may send any ``delivery_mode``, and raises
  ``NotExpressible`` for an empty-string property. On reading, only the
  properties whose flag bit is set are taken (pamqp fills absent ones with its
  defaults, e.g. ``cluster_id=""``).
* pamqp validates some server-sent names when it marshals: Queue.DeclareOk's
  ``queue`` (at most 256 characters) and the ``exchange`` of Basic.Deliver,
  Return and GetOk (at most 127), all matching ``[a-zA-Z0-9-_.:@#,/+ ]*``.
  RabbitMQ's own names fit; a test needing others must hand-write the frame.
* A heartbeat is a channel-0 frame (spec 4.2.7) and pamqp can only write that
  one; ``heartbeat(channel)`` with a channel other than 0 is hand-written.
* Basic.Nack, Exchange.Bind/Unbind, Confirm, Connection.Blocked/Unblocked and
  UpdateSecret (RabbitMQ's extensions) are all in pamqp (3.3 and 4); Basic.RecoverAsync
  makes pamqp warn (deprecated), which the fake silences.
"""

from __future__ import annotations

import itertools
import struct
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pamqp import base as pamqp_base
from pamqp import body as pamqp_body
from pamqp import commands as pamqp_commands
from pamqp import constants as pamqp_constants
from pamqp import decode as pamqp_decode
from pamqp import frame as pamqp_frame
from pamqp import header as pamqp_header
from pamqp import heartbeat as pamqp_heartbeat

from amqpio import spec
from amqpio.sansio import (
    Connection,
    ConnectionConfig,
    Event,
    RemoteProtocolError,
)
from amqpio.spec import BasicProperties, Method

Splitter = Callable[[bytes], Sequence[bytes]]
#: What ``decode`` accepts: whatever ``Connection.data_to_send`` returns.
Parts = Iterable[bytes | bytearray | memoryview]

SERVER_PROPERTIES = {
    "product": "RabbitMQ",
    "version": "3.10.8",
    "capabilities": {"publisher_confirms": True, "basic.nack": True},
}

# -- the wire format, written from the spec (not imported from amqpio) --------

#: Spec 4.2.2: "AMQP" followed by 0, then the protocol version 0-9-1.
PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
#: Spec 4.2.3, general frame format: type (octet), channel (short), size
#: (long), then ``size`` payload octets and the frame-end octet.
FRAME_HEADER_STRUCT = struct.Struct(">BHI")
#: XML constants frame-method, frame-header, frame-body, frame-heartbeat,
#: frame-end.
FRAME_METHOD = 1
FRAME_HEADER = 2
FRAME_BODY = 3
FRAME_HEARTBEAT = 8
FRAME_END = 206
#: Spec 4.2.6.1: a content header starts with class-id (short), weight
#: (short, zero) and body size (longlong), then the property flags.
CONTENT_HEADER_PREFIX = struct.Struct(">HHQ")
#: Bytes a frame adds around its payload: 7 of header, 1 frame-end.
FRAME_OVERHEAD = FRAME_HEADER_STRUCT.size + 1

# -- the one table of naming differences ---------------------------------------

#: amqpio argument name -> pamqp attribute name, where they differ.
PAMQP_NAMES: Mapping[str, str] = {"no_wait": "nowait"}
AMQPIO_NAMES: Mapping[str, str] = {v: k for k, v in PAMQP_NAMES.items()}
#: pamqp attributes that are the XML's reserved fields, hidden by amqpio.
PAMQP_RESERVED = frozenset(
    {
        "ticket",
        "capabilities",
        "insist",
        "known_hosts",
        "out_of_band",
        "channel_id",
        "cluster_id",
    }
)


class NotExpressible(TypeError):
    """pamqp cannot put this value on the wire unchanged (see the module doc)."""


@contextmanager
def _pamqp_quiet() -> Iterator[None]:
    """pamqp warns whenever it builds Basic.RecoverAsync (deprecated in the
    spec), also while unmarshalling; the suite turns warnings into errors."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message=pamqp_constants.DEPRECATION_WARNING,
            category=DeprecationWarning,
        )
        yield


# -- amqpio values -> pamqp values ---------------------------------------------


def _float32_exact(value: float) -> bool:
    return struct.unpack(">f", struct.pack(">f", value))[0] == value


def _table_value_to_pamqp(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _table_value_to_pamqp(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_table_value_to_pamqp(v) for v in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytearray(value)  # pamqp writes "x" only for a bytearray
    if isinstance(value, float) and not _float32_exact(value):
        raise NotExpressible(f"pamqp sends floats as float32, changing {value!r}")
    return value


def _value_to_pamqp(value: Any, wire: str) -> Any:
    if wire == "longstr":
        try:
            return bytes(value).decode()
        except UnicodeDecodeError:
            raise NotExpressible(
                f"pamqp encodes a longstr only from UTF-8 text, not {value!r}"
            ) from None
    if wire == "table":
        return _table_value_to_pamqp(value)
    return value


def _amqpio_fields(cls: type[Method]) -> set[str]:
    return {name for name, _ in cls.FIELDS}


def _pamqp_class(method: Method) -> type[pamqp_base.Frame]:
    index = method.CLASS_ID << 16 | method.METHOD_ID
    theirs = pamqp_commands.INDEX_MAPPING[index]
    assert theirs.name == method.NAME, (theirs.name, method.NAME)
    return theirs


def method_to_pamqp(method: Method) -> pamqp_base.Frame:
    """The pamqp method carrying the same argument values as ``method``."""
    theirs = _pamqp_class(method)
    kwargs: dict[str, Any] = {}
    for slot in theirs.__slots__:
        if slot in PAMQP_RESERVED:
            continue  # pamqp's default: what its validate() accepts
        name = AMQPIO_NAMES.get(slot, slot)
        kwargs[slot] = _value_to_pamqp(getattr(method, name), theirs.amqp_type(slot))
    # every amqpio argument must have found its pamqp slot
    missing = _amqpio_fields(type(method)) - {AMQPIO_NAMES.get(s, s) for s in kwargs}
    assert not missing, (method.NAME, missing)
    with _pamqp_quiet():
        return theirs(**kwargs)


def properties_to_pamqp(properties: BasicProperties) -> pamqp_commands.Basic.Properties:
    theirs = pamqp_commands.Basic.Properties()
    for slot in theirs.__slots__:
        value = getattr(properties, slot)
        if value == "":
            raise NotExpressible(f"pamqp leaves out the empty property {slot}")
        if value is not None:
            value = _value_to_pamqp(value, theirs.amqp_type(slot))
        # set, not passed to the constructor, whose validate() allows only
        # delivery_mode 1/2 and an empty cluster_id (see the module doc)
        setattr(theirs, slot, value)
    return theirs


# -- pamqp values -> amqpio values ---------------------------------------------


def _table_value_from_pamqp(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _table_value_from_pamqp(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_table_value_from_pamqp(v) for v in value]
    if isinstance(value, bytearray):
        return bytes(value)
    return value


def _value_from_pamqp(value: Any, wire: str) -> Any:
    if wire == "longstr":
        return value.encode() if isinstance(value, str) else bytes(value)
    if wire == "table":
        return _table_value_from_pamqp(value)
    return value


def method_from_pamqp(theirs: pamqp_base.Frame) -> Method:
    """The amqpio method carrying the values pamqp decoded."""
    group, _, name = theirs.name.partition(".")
    cls: type[Method] = getattr(getattr(spec, group), name)
    kwargs: dict[str, Any] = {}
    for slot in theirs.__slots__:
        value = getattr(theirs, slot)
        if slot in PAMQP_RESERVED:
            # XML reserved="1": sent as zero / empty (RabbitMQ's clients do)
            assert value in (0, "", b"", False), (theirs.name, slot, value)
            continue
        kwargs[AMQPIO_NAMES.get(slot, slot)] = _value_from_pamqp(
            value, theirs.amqp_type(slot)
        )
    assert set(kwargs) == _amqpio_fields(cls), (theirs.name, set(kwargs))
    return cls(**kwargs)


def properties_from_pamqp(
    theirs: pamqp_commands.Basic.Properties, flags: int
) -> BasicProperties:
    """amqpio properties holding exactly those whose flag bit is set."""
    kwargs = {
        slot: _value_from_pamqp(getattr(theirs, slot), theirs.amqp_type(slot))
        for slot in theirs.__slots__
        if flags & theirs.flags[slot]
    }
    return BasicProperties(**kwargs)


# -- exact consumption (pamqp ignores trailing bytes) ---------------------------


def _arguments_size(cls: type[pamqp_base.Frame], data: bytes) -> int:
    """How many bytes of ``data`` pamqp's decoders read for ``cls``'s arguments.

    Walks the arguments as ``pamqp.base.Frame.unmarshal`` does; spec 4.2.5.2:
    consecutive bits share octets, eight to an octet.
    """
    offset, bits = 0, None
    for slot in cls.__slots__:
        wire = cls.amqp_type(slot)
        if wire == "bit":
            if bits is None or bits == 8:
                offset, bits = offset + 1, 0
            bits += 1
            continue
        bits = None
        consumed, _ = pamqp_decode.by_type(data[offset:], wire)
        offset += consumed
    return offset


def _properties_size(
    cls: type[pamqp_commands.Basic.Properties], flags: int, data: bytes
) -> int:
    offset = 0
    for slot in cls.__slots__:
        if flags & cls.flags[slot]:
            consumed, _ = pamqp_decode.by_type(data[offset:], cls.amqp_type(slot))
            offset += consumed
    return offset


def split_frames(data: bytearray) -> Iterator[bytes]:
    """Cut whole frames (spec 4.2.3) off the front of ``data``."""
    while len(data) >= FRAME_HEADER_STRUCT.size:
        _, _, size = FRAME_HEADER_STRUCT.unpack_from(data)
        end = FRAME_HEADER_STRUCT.size + size + 1
        if len(data) < end:
            return
        frame = bytes(data[:end])
        del data[:end]
        yield frame


# -- splitters -----------------------------------------------------------------


def whole(data: bytes) -> Sequence[bytes]:
    return [data]


def bytewise(data: bytes) -> Sequence[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def split_at(points: Iterable[int]) -> Splitter:
    """A splitter cutting every stream at the given offsets (clamped)."""
    cuts = sorted(set(points))

    def split(data: bytes) -> Sequence[bytes]:
        edges = [0, *(c for c in cuts if 0 < c < len(data)), len(data)]
        return [data[a:b] for a, b in itertools.pairwise(edges)]

    return split


@dataclass(frozen=True)
class Published:
    """A message the client published, reassembled from its frames."""

    channel: int
    method: spec.Basic.Publish
    properties: BasicProperties
    body: bytes
    body_frames: int


@dataclass(frozen=True)
class Heartbeat:
    channel: int = 0


Sent = tuple[int, Method] | Published | Heartbeat


class _Incoming:
    """A client publish whose content frames are still arriving."""

    def __init__(self, method: spec.Basic.Publish) -> None:
        self.method = method
        self.properties = BasicProperties()
        self.size = 0
        self.chunks: list[bytes] = []

    def done(self, channel: int) -> Published:
        body = b"".join(self.chunks)
        return Published(channel, self.method, self.properties, body, len(self.chunks))


class FakeBroker:
    """The server side: frame builders and a decoder of client output."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.header: bytes | None = None
        self._content: dict[int, _Incoming] = {}

    # -- building server frames ---------------------------------------------

    @staticmethod
    def frame(frame_type: int, channel: int, payload: bytes) -> bytes:
        """A frame written by hand from spec 4.2.3, for malformed input.

        Any type, channel and payload, with a correct size and frame-end; cut
        or patch the result for a wrong one.
        """
        return (
            FRAME_HEADER_STRUCT.pack(frame_type, channel, len(payload))
            + payload
            + bytes([FRAME_END])
        )

    @staticmethod
    def method(channel: int, method: Method) -> bytes:
        with _pamqp_quiet():
            return pamqp_frame.marshal(method_to_pamqp(method), channel)

    @staticmethod
    def content(
        channel: int,
        method: Method,
        body: bytes = b"",
        properties: BasicProperties | None = None,
        frame_max: int = 4096,
    ) -> bytes:
        """The method, its content header and as many body frames as
        ``frame_max`` needs (spec 4.2.6: none for an empty body)."""
        props = properties_to_pamqp(properties or BasicProperties())
        frames = [
            FakeBroker.method(channel, method),
            pamqp_frame.marshal(
                pamqp_header.ContentHeader(0, len(body), props), channel
            ),
        ]
        step = frame_max - FRAME_OVERHEAD
        for start in range(0, len(body), step):
            chunk = pamqp_body.ContentBody(body[start : start + step])
            frames.append(pamqp_frame.marshal(chunk, channel))
        return b"".join(frames)

    @staticmethod
    def heartbeat(channel: int = 0) -> bytes:
        if channel == 0:
            return pamqp_heartbeat.Heartbeat.marshal()
        # Spec 4.2.7: heartbeats belong on channel 0; pamqp writes no other.
        return FakeBroker.frame(FRAME_HEARTBEAT, channel, b"")

    # -- decoding client output ----------------------------------------------

    def decode(self, parts: Parts) -> list[Sent]:
        data = b"".join(bytes(p) for p in parts)
        if self.header is None and data:
            assert data.startswith(PROTOCOL_HEADER), data[:8]
            self.header, data = data[:8], data[8:]
        self.buffer += data
        out: list[Sent] = []
        for frame in split_frames(self.buffer):
            with _pamqp_quiet():
                consumed, channel, value = pamqp_frame.unmarshal(frame)
            assert consumed == len(frame), (consumed, frame)
            item = self._receive(channel, frame, value)
            if item is not None:
                out.append(item)
        return out

    def _receive(
        self, channel: int, frame: bytes, value: pamqp_frame.FrameTypes
    ) -> Sent | None:
        payload = frame[FRAME_HEADER_STRUCT.size : -1]
        if isinstance(value, pamqp_heartbeat.Heartbeat):
            return Heartbeat(channel)
        if isinstance(value, pamqp_base.Frame):
            # spec 4.2.4: class-id, method-id, then the arguments and
            # nothing else (pamqp itself would ignore extra bytes)
            size = 4 + _arguments_size(type(value), payload[4:])
            assert size == len(payload), (value.name, size, len(payload))
            method = method_from_pamqp(value)
            if isinstance(method, spec.Basic.Publish):
                self._content[channel] = _Incoming(method)
                return None
            return (channel, method)
        incoming = self._content[channel]
        if isinstance(value, pamqp_header.ContentHeader):
            class_id, weight, size = CONTENT_HEADER_PREFIX.unpack_from(payload)
            # XML: class basic has index 60; the weight "must be zero"
            assert (class_id, weight) == (60, 0), payload
            # the property flags (spec 4.2.6.1): one short, without the
            # continuation bit, since class basic has 14 properties
            (flags,) = struct.unpack_from(">H", payload, 12)
            assert not flags & 1, flags
            used = 14 + _properties_size(type(value.properties), flags, payload[14:])
            assert used == len(payload), (used, len(payload))
            incoming.properties = properties_from_pamqp(value.properties, flags)
            incoming.size = size
            if size == 0:
                return self._content.pop(channel).done(channel)
            return None
        assert isinstance(value, pamqp_body.ContentBody), value
        incoming.chunks.append(bytes(value.value))
        received = sum(map(len, incoming.chunks))
        assert received <= incoming.size, (received, incoming.size)
        if received == incoming.size:
            return self._content.pop(channel).done(channel)
        return None


class Pair:
    """A client core and a fake broker, with a chunking policy for input."""

    def __init__(
        self,
        config: ConnectionConfig | None = None,
        splitter: Splitter = whole,
    ) -> None:
        self.conn = Connection(config or ConnectionConfig())
        self.broker = FakeBroker()
        self.split = splitter
        self.now = 0.0
        self.log: list[object] = []

    def recv(self, *frames: bytes, now: float | None = None) -> list[Event]:
        """Feed server bytes (split by the splitter); return all events.

        A ``RemoteProtocolError`` is re-raised with ``events`` holding every
        event of this call, whatever the chunking.
        """
        if now is not None:
            self.now = now
        events: list[Event] = []
        try:
            for chunk in self.split(b"".join(frames)):
                events.extend(self.conn.receive_data(chunk, self.now))
        except RemoteProtocolError as exc:
            events.extend(exc.events)
            exc.events = events
            self.log.extend(events)
            self.log.append(("error", exc.reply_code, exc.class_id, exc.method_id))
            raise
        self.log.extend(events)
        return events

    def sent(self) -> list[Sent]:
        """Decode and return what the client queued since the last call."""
        return self.broker.decode(self.conn.data_to_send())

    def methods(self) -> list[tuple[int, Method]]:
        """Like ``sent`` but asserting that only method frames were queued."""
        out = self.sent()
        assert all(isinstance(item, tuple) for item in out), out
        return [item for item in out if isinstance(item, tuple)]

    # -- common conversations ----------------------------------------------

    def handshake(
        self,
        tune: spec.Connection.Tune | None = None,
        mechanisms: bytes = b"PLAIN AMQPLAIN",
    ) -> list[Event]:
        """Run the handshake to ConnectionOpened; return the events."""
        self.conn.initiate()
        self.sent()
        events = self.recv(
            self.broker.method(
                0,
                spec.Connection.Start(
                    server_properties=SERVER_PROPERTIES, mechanisms=mechanisms
                ),
            )
        )
        self.sent()
        tune = tune or spec.Connection.Tune(2047, 131072, 60)
        events += self.recv(self.broker.method(0, tune))
        self.sent()
        events += self.recv(self.broker.method(0, spec.Connection.OpenOk()))
        return events

    def open_channel(self, channel_id: int | None = None) -> int:
        number = self.conn.open_channel(channel_id)
        assert self.methods() == [(number, spec.Channel.Open())]
        self.recv(self.broker.method(number, spec.Channel.OpenOk()))
        return number


SCRIPTS: dict[str, Callable[[Pair], None]] = {}


def scripted(fn: Callable[[Pair], None]) -> Callable[[Pair], None]:
    """Register a scripted conversation for the chunking property test."""
    SCRIPTS[f"{fn.__module__}.{fn.__name__}"] = fn
    return fn
