"""pamqp 4 as an independent oracle for every method and for Basic.Properties.

Both directions, whole frames on a random channel:

* ours -> pamqp: our ``encode()`` in a frame, parsed by ``pamqp.frame.unmarshal``;
* pamqp -> ours: ``pamqp.frame.marshal`` parsed by our ``FrameReader`` and
  ``decode_method`` / ``BasicProperties.decode``.

Values are compared after ``normalise``, which folds only the representational
differences listed there. Value ranges pamqp cannot carry are excluded by the
``PAMQP_DECODES`` / ``PAMQP_ENCODES`` profiles in ``strategies.py``.
"""

from __future__ import annotations

import contextlib
import struct
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.reference import PAMQP_4

if not PAMQP_4:
    # aio-pika 9.6 (what pip installs on Python 3.10) pins pamqp 3.3, which
    # encodes some values differently; the codec does not depend on the Python
    # version and is checked against pamqp 4 on 3.11 to 3.13
    pytest.skip("the oracle is pamqp 4", allow_module_level=True)

from pamqp import base as pamqp_base
from pamqp import commands as pamqp_commands
from pamqp import constants as pamqp_constants
from pamqp import frame as pamqp_frame
from pamqp import header as pamqp_header

from amqpio import spec
from amqpio.codec.frames import FRAME_HEADER, FRAME_METHOD, FrameReader, encode_frame

from .strategies import (
    PAMQP_DECODES,
    PAMQP_ENCODES,
    PAMQP_NAME_RE,
    method_instances,
    properties_instances,
)

ALL_METHODS = sorted(spec.METHODS.values(), key=lambda cls: cls.INDEX)
methods = pytest.mark.parametrize("cls", ALL_METHODS, ids=lambda cls: cls.NAME)
channels = st.integers(0, 0xFFFF)
_settings = settings(max_examples=25, deadline=None)

# -- the one table of naming differences ----------------------------------------

# amqpio name -> pamqp attribute name, where they differ. Every other argument
# has the same name in both, including the aliases for names the XML cannot
# use: exchange_type (Exchange.Declare "type"), global_ (Basic.Qos "global"),
# message_type and cluster_id (properties "type" and "reserved").
PAMQP_NAMES: dict[str, str] = {
    "no_wait": "nowait",
}

# pamqp exposes the XML's reserved fields, which amqpio hides. pamqp name ->
# the value pamqp decodes from amqpio's zero/empty encoding.
PAMQP_RESERVED: dict[str, object] = {
    "ticket": 0,  # reserved-1 (short) of most channel-level requests
    "capabilities": "",  # Connection.Open reserved-1 (shortstr)
    "insist": False,  # Connection.Open reserved-2 (bit)
    "known_hosts": "",  # Connection.OpenOk reserved-1 (shortstr)
    "out_of_band": "",  # Channel.Open reserved-1 (shortstr); pamqp sends "0"
    "channel_id": "",  # Channel.OpenOk reserved-1 (longstr); pamqp sends "0"
    "cluster_id": "",  # Basic.GetEmpty reserved-1 (shortstr)
}

# Methods whose pamqp encoding differs in bytes (not in values) from ours even
# without field tables: pamqp writes "0" into the reserved string.
PAMQP_NONZERO_RESERVED = {"Channel.Open", "Channel.OpenOk"}


def pamqp_class(cls: type[spec.Method]) -> type[pamqp_base.Frame]:
    return pamqp_commands.INDEX_MAPPING[cls.INDEX]


@contextlib.contextmanager
def pamqp_quiet() -> Iterator[None]:
    """pamqp warns (DeprecationWarning) whenever it builds Basic.RecoverAsync,
    including while unmarshalling; the suite turns warnings into errors."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message=pamqp_constants.DEPRECATION_WARNING,
            category=DeprecationWarning,
        )
        yield


# -- the one normalisation helper -----------------------------------------------


def normalise(value: Any, wire: str) -> Any:
    """Fold the representational differences between pamqp and amqpio.

    * longstr: amqpio gives ``bytes``; pamqp gives ``str`` when the bytes are
      valid UTF-8 (else ``bytes``) and only accepts ``str`` to encode.
      Compared as bytes.
    * table values: pamqp decodes byte arrays ("x") as ``bytearray`` where we
      give ``bytes``; folded to ``bytes`` at any depth. pamqp also picks the
      smallest integer type ("b", "s", "u", "I", "i", "l") and sorts keys when
      encoding, we use "I"/"l" in insertion order: the decoded values are
      equal, so only values are compared, never table bytes.
    * shortstr property: pamqp never sends an empty-string property (its
      ``marshal`` drops ``""``) and defaults ``cluster_id`` to ``""``, so for
      properties ``""`` and absent (``None``) are the same (see
      ``properties_view``).
    """
    if wire == "longstr":
        return value.encode() if isinstance(value, str) else bytes(value)
    if wire == "table":
        return _fold(value)
    return value


def _fold(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _fold(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fold(v) for v in value]
    if isinstance(value, bytearray):
        return bytes(value)
    return value


def _to_pamqp(value: Any, wire: str) -> Any:
    """amqpio's Python value in the form pamqp's encoder accepts."""
    if wire == "longstr":
        return value.decode()
    if wire == "table":
        return _unfold(value)
    return value


def _unfold(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _unfold(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unfold(v) for v in value]
    if isinstance(value, bytes):
        return bytearray(value)  # pamqp encodes only bytearray as "x"
    return value


def method_view(cls: type[spec.Method], obj: object, pamqp: bool) -> dict[str, Any]:
    return {
        name: normalise(
            getattr(obj, PAMQP_NAMES.get(name, name) if pamqp else name), wire
        )
        for name, wire in cls.FIELDS
    }


def properties_view(obj: object) -> dict[str, Any]:
    view = {}
    for name, wire in spec.BasicProperties.FIELDS:
        value = getattr(obj, name)
        if wire == "shortstr" and value == "":
            value = None
        view[name] = None if value is None else normalise(value, wire)
    return view


def read_one_frame(data: bytes) -> tuple[int, int, bytes]:
    reader = FrameReader(frame_max=0)
    reader.feed(data)
    frame = reader.read_frame()
    assert frame is not None
    assert reader.read_frame() is None and reader.buffered == 0
    return frame.frame_type, frame.channel, frame.payload


# -- metadata -----------------------------------------------------------------------


def test_pamqp_knows_exactly_our_methods() -> None:
    assert set(pamqp_commands.INDEX_MAPPING) == set(spec.METHODS_BY_INDEX)


def test_pamqp_name_regex_is_the_one_the_strategies_assume() -> None:
    for domain in ("exchange-name", "queue-name"):
        assert pamqp_constants.DOMAIN_REGEX[domain].pattern == PAMQP_NAME_RE.pattern


@methods
def test_argument_names_and_types_match_pamqp(cls: type[spec.Method]) -> None:
    theirs = pamqp_class(cls)
    assert theirs.name == cls.NAME
    live = [s for s in theirs.__slots__ if s not in PAMQP_RESERVED]
    assert live == [PAMQP_NAMES.get(name, name) for name, _ in cls.FIELDS]
    assert [theirs.amqp_type(s) for s in live] == [wire for _, wire in cls.FIELDS]


@methods
def test_responses_match_pamqp(cls: type[spec.Method]) -> None:
    # pamqp's "synchronous" differs by convention (it is False for the *-ok
    # replies, which the XML marks synchronous), so only replies are compared.
    theirs = pamqp_class(cls).valid_responses
    assert [r.NAME for r in cls.RESPONSES] == theirs


def test_property_names_and_types_match_pamqp() -> None:
    theirs = pamqp_commands.Basic.Properties
    assert theirs.__slots__ == [name for name, _ in spec.BasicProperties.FIELDS]
    assert [theirs.amqp_type(name) for name in theirs.__slots__] == [
        wire for _, wire in spec.BasicProperties.FIELDS
    ]
    for position, name in enumerate(theirs.__slots__):
        assert theirs.flags[name] == 1 << (15 - position)


# -- methods ----------------------------------------------------------------------


@methods
@_settings
@given(data=st.data(), channel=channels)
def test_our_encoding_decodes_equal_in_pamqp(
    cls: type[spec.Method], data: st.DataObject, channel: int
) -> None:
    ours = data.draw(method_instances(cls, PAMQP_DECODES), label="method")
    frame_bytes = encode_frame(FRAME_METHOD, channel, ours.encode())

    with pamqp_quiet():
        consumed, their_channel, theirs = pamqp_frame.unmarshal(frame_bytes)

    assert (consumed, their_channel) == (len(frame_bytes), channel)
    assert type(theirs) is pamqp_class(cls)
    assert method_view(cls, theirs, pamqp=True) == method_view(cls, ours, pamqp=False)
    for name in theirs.__slots__:
        if name in PAMQP_RESERVED:
            assert getattr(theirs, name) == PAMQP_RESERVED[name], name


@methods
@_settings
@given(data=st.data(), channel=channels)
def test_pamqp_encoding_decodes_equal_in_ours(
    cls: type[spec.Method], data: st.DataObject, channel: int
) -> None:
    # Drawn in amqpio's form, then converted: the expected values are exact.
    expected = data.draw(method_instances(cls, PAMQP_ENCODES), label="method")
    kwargs = {
        PAMQP_NAMES.get(name, name): _to_pamqp(getattr(expected, name), wire)
        for name, wire in cls.FIELDS
    }
    with pamqp_quiet():
        frame_bytes = pamqp_frame.marshal(pamqp_class(cls)(**kwargs), channel)

    frame_type, our_channel, payload = read_one_frame(frame_bytes)
    assert (frame_type, our_channel) == (FRAME_METHOD, channel)
    ours = spec.decode_method(payload)
    assert type(ours) is cls
    assert method_view(cls, ours, pamqp=False) == method_view(
        cls, expected, pamqp=False
    )
    # Without field tables (whose integer encoding differs) the bytes are the
    # same too, except where pamqp fills a reserved string.
    tables = [getattr(expected, n) for n, w in cls.FIELDS if w == "table"]
    if not any(tables) and cls.NAME not in PAMQP_NONZERO_RESERVED:
        assert payload == expected.encode()


# -- properties (content header frames) -------------------------------------------


@settings(max_examples=100, deadline=None)
@given(
    props=properties_instances(PAMQP_DECODES),
    channel=channels,
    body_size=st.integers(0, 2**63 - 1),
)
def test_our_properties_decode_equal_in_pamqp(
    props: spec.BasicProperties, channel: int, body_size: int
) -> None:
    payload = struct.pack(">HHQ", spec.BasicProperties.CLASS_ID, 0, body_size)
    frame_bytes = encode_frame(FRAME_HEADER, channel, payload + props.encode())

    consumed, their_channel, header = pamqp_frame.unmarshal(frame_bytes)

    assert (consumed, their_channel) == (len(frame_bytes), channel)
    assert isinstance(header, pamqp_header.ContentHeader)
    class_id: object = header.class_id  # typed None in pamqp, set by unmarshal
    assert (class_id, header.weight, header.body_size) == (60, 0, body_size)
    assert properties_view(header.properties) == properties_view(props)


@settings(max_examples=100, deadline=None)
@given(
    expected=properties_instances(PAMQP_ENCODES),
    channel=channels,
    body_size=st.integers(0, 2**64 - 1),
)
def test_pamqp_properties_decode_equal_in_ours(
    expected: spec.BasicProperties, channel: int, body_size: int
) -> None:
    kwargs: dict[str, Any] = {}
    for name, wire in spec.BasicProperties.FIELDS:
        value = getattr(expected, name)
        if value is not None:
            kwargs[name] = _to_pamqp(value, wire)
    kwargs.setdefault("cluster_id", "")  # pamqp's default; None fails validation
    theirs = pamqp_commands.Basic.Properties(**kwargs)
    frame_bytes = pamqp_frame.marshal(
        pamqp_header.ContentHeader(0, body_size, theirs), channel
    )

    frame_type, our_channel, payload = read_one_frame(frame_bytes)
    assert (frame_type, our_channel) == (FRAME_HEADER, channel)
    class_id, weight, size = struct.unpack_from(">HHQ", payload)
    assert (class_id, weight, size) == (60, 0, body_size)
    ours = spec.BasicProperties.decode(payload, 12)
    assert properties_view(ours) == properties_view(expected)
