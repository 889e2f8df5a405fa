"""encode -> decode is the identity for every generated method and properties.

Values come from ``strategies.wire_value``, derived from each class's
``FIELDS``; a handful of golden payloads pin the byte layout independently.
"""

from __future__ import annotations

import contextlib
import datetime
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amqpio import spec
from amqpio.codec.errors import (
    DecodeError,
    EncodeError,
    FrameDecodeError,
    SyntaxDecodeError,
)
from amqpio.codec.table import FieldTable
from amqpio.spec.properties import encode_properties

from .strategies import FULL, field_table, method_instances, properties_instances

ALL_METHODS = sorted(spec.METHODS.values(), key=lambda cls: cls.INDEX)
methods = pytest.mark.parametrize("cls", ALL_METHODS, ids=lambda cls: cls.NAME)

_settings = settings(max_examples=30, deadline=None)


@methods
@_settings
@given(data=st.data())
def test_method_roundtrip(cls: type[spec.Method], data: st.DataObject) -> None:
    original = data.draw(method_instances(cls, FULL), label="method")
    payload = original.encode()
    assert isinstance(payload, bytes)
    assert struct.unpack_from(">HH", payload) == (cls.CLASS_ID, cls.METHOD_ID)

    decoded = spec.decode_method(payload)
    assert type(decoded) is cls
    assert decoded == original
    for name, _ in cls.FIELDS:
        assert getattr(decoded, name) == getattr(original, name), name
    # the encoding is canonical: decoding then encoding gives the same bytes
    assert decoded.encode() == payload

    # any buffer type, and an offset into a larger buffer
    assert spec.decode_method(memoryview(payload)) == original
    assert spec.decode_method(bytearray(payload)) == original
    prefix = b"\xff" * 5
    assert cls.decode(prefix + payload, len(prefix) + 4) == original


@methods
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_method_payload_must_be_consumed_exactly(
    cls: type[spec.Method], data: st.DataObject
) -> None:
    payload = data.draw(method_instances(cls, FULL), label="method").encode()
    cut = data.draw(st.integers(0, len(payload) - 1), label="cut")
    with pytest.raises(DecodeError):
        spec.decode_method(payload[:cut])
    with pytest.raises(FrameDecodeError):
        spec.decode_method(payload + b"\x00")


@settings(max_examples=200, deadline=None)
@given(properties_instances(FULL))
def test_properties_roundtrip(props: spec.BasicProperties) -> None:
    encoded = props.encode()
    (flags,) = struct.unpack_from(">H", encoded)
    expected_flags = sum(
        1 << (15 - i)
        for i, (name, _) in enumerate(spec.BasicProperties.FIELDS)
        if getattr(props, name) is not None
    )
    assert flags == expected_flags

    decoded = spec.BasicProperties.decode(encoded)
    assert decoded == props
    for name, _ in spec.BasicProperties.FIELDS:
        assert getattr(decoded, name) == getattr(props, name), name
    assert decoded.encode() == encoded
    assert spec.BasicProperties.decode(memoryview(encoded)) == props
    assert spec.BasicProperties.decode(b"\x00" * 12 + encoded, 12) == props


@settings(max_examples=200, deadline=None)
@given(properties_instances(FULL))
def test_encode_properties_matches_the_class_encoding(
    props: spec.BasicProperties,
) -> None:
    values = [getattr(props, name) for name, _ in spec.BasicProperties.FIELDS]
    assert encode_properties(*values) == props.encode()


def test_encode_properties_names_an_oversize_property() -> None:
    with pytest.raises(EncodeError, match="property reply_to is longer than 255"):
        encode_properties(reply_to="r" * 256)
    with pytest.raises(EncodeError, match="cannot be encoded"):
        encode_properties(priority=256)
    assert encode_properties() == b"\x00\x00"


@settings(max_examples=100, deadline=None)
@given(properties_instances(FULL), st.data())
def test_truncated_properties_raise_decode_error(
    props: spec.BasicProperties, data: st.DataObject
) -> None:
    encoded = props.encode()
    cut = data.draw(st.integers(0, len(encoded) - 1), label="cut")
    with pytest.raises(DecodeError):
        spec.BasicProperties.decode(encoded[:cut])
    with pytest.raises(FrameDecodeError):
        spec.BasicProperties.decode(encoded + b"\x00")


@settings(max_examples=100, deadline=None)
@given(field_table(FULL))
def test_table_fields_roundtrip_inside_a_method(table: FieldTable) -> None:
    # tables nest arrays and tables; the round trip keeps every value and type
    original = spec.Queue.Declare(queue="q", arguments=table)
    decoded = spec.decode_method(original.encode())
    assert isinstance(decoded, spec.Queue.Declare)
    assert decoded.arguments == table
    assert _types(decoded.arguments) == _types(table)


def _types(value: object) -> object:
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_types(v) for v in value]
    return type(value)


# -- golden payloads: literal bytes, decoded and re-encoded ------------------------

GOLDEN: list[tuple[str, spec.Method, bytes]] = [
    (
        "Basic.Publish",
        spec.Basic.Publish(exchange="amq.direct", routing_key="rk", mandatory=True),
        b"\x00\x3c\x00\x28"  # class 60, method 40
        b"\x00\x00"  # reserved-1 (ticket)
        b"\x0aamq.direct"
        b"\x02rk"
        b"\x01",  # mandatory=1, immediate=0
    ),
    (
        "Basic.Ack",
        spec.Basic.Ack(delivery_tag=0x0102030405060708, multiple=True),
        b"\x00\x3c\x00\x50\x01\x02\x03\x04\x05\x06\x07\x08\x01",
    ),
    (
        "Basic.Deliver",
        spec.Basic.Deliver(
            consumer_tag="ctag",
            delivery_tag=2**64 - 1,
            redelivered=True,
            exchange="",
            routing_key="q",
        ),
        b"\x00\x3c\x00\x3c\x04ctag" + b"\xff" * 8 + b"\x01\x00\x01q",
    ),
    (
        "Basic.Qos",
        spec.Basic.Qos(prefetch_size=0, prefetch_count=10, global_=True),
        b"\x00\x3c\x00\x0a\x00\x00\x00\x00\x00\x0a\x01",
    ),
    (
        "Connection.Tune",
        spec.Connection.Tune(channel_max=2047, frame_max=131072, heartbeat=60),
        b"\x00\x0a\x00\x1e\x07\xff\x00\x02\x00\x00\x00\x3c",
    ),
    (
        "Connection.Open",
        spec.Connection.Open(virtual_host="/"),
        b"\x00\x0a\x00\x28\x01/"
        b"\x00"  # reserved-1 (capabilities): empty shortstr
        b"\x00",  # reserved-2 (insist): bit 0
    ),
    (
        "Connection.StartOk",
        spec.Connection.StartOk(
            client_properties={"product": "amqpio"},
            mechanism="PLAIN",
            response=b"\x00guest\x00guest",
            locale="en_US",
        ),
        b"\x00\x0a\x00\x0b"
        b"\x00\x00\x00\x13\x07productS\x00\x00\x00\x06amqpio"
        b"\x05PLAIN"
        b"\x00\x00\x00\x0c\x00guest\x00guest"
        b"\x05en_US",
    ),
    (
        "Channel.Close",
        spec.Channel.Close(
            reply_code=404, reply_text="NOT_FOUND", class_id=50, method_id=10
        ),
        b"\x00\x14\x00\x28\x01\x94\x09NOT_FOUND\x00\x32\x00\x0a",
    ),
    (
        "Queue.DeclareOk",
        spec.Queue.DeclareOk(queue="q", message_count=3, consumer_count=1),
        b"\x00\x32\x00\x0b\x01q\x00\x00\x00\x03\x00\x00\x00\x01",
    ),
    (
        "Exchange.Declare",
        spec.Exchange.Declare(
            exchange="x", exchange_type="topic", durable=True, no_wait=True
        ),
        b"\x00\x28\x00\x0a\x00\x00\x01x\x05topic"
        b"\x12"  # durable (bit 1) | no-wait (bit 4)
        b"\x00\x00\x00\x00",  # empty arguments table
    ),
]


@pytest.mark.parametrize(
    ("method", "payload"),
    [(m, p) for _, m, p in GOLDEN],
    ids=[name for name, _, _ in GOLDEN],
)
def test_golden_method_payloads(method: spec.Method, payload: bytes) -> None:
    assert method.encode() == payload
    assert spec.decode_method(payload) == method


def test_golden_properties() -> None:
    props = spec.BasicProperties(
        content_type="text/plain",
        delivery_mode=2,
        timestamp=datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
        headers={"x": True},
    )
    encoded = (
        b"\xb0\x40"  # content-type | headers | delivery-mode | timestamp
        b"\x0atext/plain"
        b"\x00\x00\x00\x04\x01xt\x01"
        b"\x02" + struct.pack(">Q", 1704164645)
    )
    assert props.encode() == encoded
    assert spec.BasicProperties.decode(encoded) == props


def test_empty_properties_are_a_zero_flag_word() -> None:
    assert spec.BasicProperties().encode() == b"\x00\x00"
    assert spec.BasicProperties.decode(b"\x00\x00") == spec.BasicProperties()


# -- decode errors ----------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_corrupted_payloads_raise_only_decode_errors(data: st.DataObject) -> None:
    cls = data.draw(st.sampled_from(ALL_METHODS), label="cls")
    payload = bytearray(data.draw(method_instances(cls, FULL), label="method").encode())
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        index = data.draw(st.integers(4, max(4, len(payload) - 1)), label="index")
        if index < len(payload):
            payload[index] = data.draw(st.integers(0, 0xFF), label="byte")
    # decoding may succeed; any failure must be a DecodeError
    with contextlib.suppress(DecodeError):
        spec.decode_method(bytes(payload))


def test_unknown_method_is_a_frame_error() -> None:
    with pytest.raises(FrameDecodeError) as info:
        spec.decode_method(b"\x00\x3c\x00\x99")
    assert info.value.reply_code == spec.ReplyCode.FRAME_ERROR


def test_invalid_utf8_shortstr_is_a_syntax_error() -> None:
    with pytest.raises(SyntaxDecodeError) as info:
        spec.decode_method(b"\x00\x3c\x00\x1f\x01\xff")  # Basic.CancelOk
    assert info.value.reply_code == spec.ReplyCode.SYNTAX_ERROR
    with pytest.raises(SyntaxDecodeError):
        spec.BasicProperties.decode(b"\x80\x00\x01\xff")  # content-type


def test_invalid_utf8_error_offset_points_into_the_payload_at_the_string() -> None:
    # DecodeError.offset is "the position in the examined buffer where
    # decoding failed". Basic.Deliver's exchange shortstr starts at 16 (its
    # length octet) and its bad byte is at 17.
    payload = (
        b"\x00\x3c\x00\x3c"
        b"\x02ok"  # consumer-tag: 4..6
        + bytes(8)  # delivery-tag: 7..14
        + b"\x00"  # redelivered: 15
        + b"\x01\xff"  # exchange: 16..17, not UTF-8
        + b"\x00"  # routing-key
    )
    with pytest.raises(SyntaxDecodeError) as info:
        spec.decode_method(payload)
    assert 16 <= info.value.offset <= 17
