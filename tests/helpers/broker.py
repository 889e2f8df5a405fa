"""A fake broker for the sans-IO core, built on the generated codec.

``FakeBroker`` encodes what a server sends and decodes what the client sent
(method frames, published messages reassembled from their content frames,
heartbeats). ``Pair`` couples it with a ``sansio.Connection``: scripts call
commands on ``pair.conn``, push server frames with ``pair.recv`` (split into
chunks by the pair's splitter) and read the client's frames with
``pair.sent()``. Every event and remote error lands in ``pair.log`` so that
runs of one script under different chunkings can be compared.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from amqpio import spec
from amqpio.codec.frames import (
    FRAME_BODY,
    FRAME_HEADER,
    FRAME_HEARTBEAT,
    FRAME_METHOD,
    HEARTBEAT_FRAME,
    PROTOCOL_HEADER,
    FrameReader,
    encode_content,
    encode_frame,
    encode_method_frame,
)
from amqpio.codec.values import Buffer
from amqpio.sansio import (
    Connection,
    ConnectionConfig,
    Event,
    RemoteProtocolError,
)
from amqpio.spec import BasicProperties, Method

Splitter = Callable[[bytes], Sequence[bytes]]

SERVER_PROPERTIES = {
    "product": "RabbitMQ",
    "version": "3.10.8",
    "capabilities": {"publisher_confirms": True, "basic.nack": True},
}


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
        self.reader = FrameReader(0)
        self.header: bytes | None = None
        self._content: dict[int, _Incoming] = {}

    # -- building server frames ---------------------------------------------

    @staticmethod
    def method(channel: int, method: Method) -> bytes:
        return encode_method_frame(channel, method.encode())

    @staticmethod
    def content(
        channel: int,
        method: Method,
        body: bytes = b"",
        properties: BasicProperties | None = None,
        frame_max: int = 4096,
    ) -> bytes:
        props = (properties or BasicProperties()).encode()
        parts = encode_content(channel, method.encode(), 60, props, body, frame_max)
        return b"".join(bytes(p) for p in parts)

    @staticmethod
    def heartbeat(channel: int = 0) -> bytes:
        if channel == 0:
            return HEARTBEAT_FRAME
        return encode_frame(FRAME_HEARTBEAT, channel, b"")

    # -- decoding client output ----------------------------------------------

    def decode(self, parts: Iterable[Buffer]) -> list[Sent]:
        data = b"".join(bytes(p) for p in parts)
        if self.header is None and data:
            assert data.startswith(PROTOCOL_HEADER), data[:8]
            self.header, data = data[:8], data[8:]
        self.reader.feed(data)
        out: list[Sent] = []
        while (frame := self.reader.read_frame()) is not None:
            ftype, channel, payload = frame
            if ftype == FRAME_HEARTBEAT:
                out.append(Heartbeat(channel))
            elif ftype == FRAME_METHOD:
                method = spec.decode_method(payload)
                if isinstance(method, spec.Basic.Publish):
                    self._content[channel] = _Incoming(method)
                else:
                    out.append((channel, method))
            elif ftype == FRAME_HEADER:
                incoming = self._content[channel]
                incoming.properties = BasicProperties.decode(payload, 12)
                incoming.size = int.from_bytes(payload[4:12], "big")
                if incoming.size == 0:
                    out.append(self._content.pop(channel).done(channel))
            else:
                assert ftype == FRAME_BODY
                incoming = self._content[channel]
                incoming.chunks.append(payload)
                if sum(map(len, incoming.chunks)) == incoming.size:
                    out.append(self._content.pop(channel).done(channel))
        return out


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
