"""Fuzz invariant of the decoders: hostile bytes raise DecodeError subclasses, nothing else.

Random and mutated byte streams go through FrameReader; every frame it returns
goes through the payload decoder for its type (decode_method for method frames,
BasicProperties.decode after the 12-byte prefix for header frames). Any exception
that is not a DecodeError (IndexError, struct.error, UnicodeDecodeError,
RecursionError, MemoryError, ValueError, ...) propagates and fails the test.
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import itertools
import random
import struct
from collections.abc import Callable
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amqpio.codec.errors import DecodeError
from amqpio.codec.frames import (
    FRAME_HEADER,
    FRAME_METHOD,
    HEARTBEAT_FRAME,
    Frame,
    FrameReader,
    encode_content,
    encode_frame,
    encode_method_frame,
)
from amqpio.codec.table import FieldValue, decode_array, decode_table, encode_table
from amqpio.spec import METHODS, Basic, BasicProperties, Method, decode_method

FUZZ = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

TABLE: dict[str, FieldValue] = {
    "s": "text \u00e9",
    "n": -(2**40),
    "i": 7,
    "f": 0.5,
    "b": True,
    "d": decimal.Decimal("3.14"),
    "t": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
    "x": b"\x00\xff",
    "v": None,
    "a": [1, "two", [3.0, {"four": None}], {}],
    "nested": {"capabilities": {"publisher_confirms": True}},
}

PROPERTIES = BasicProperties(
    content_type="application/json",
    content_encoding="gzip",
    headers=TABLE,
    delivery_mode=2,
    priority=5,
    correlation_id="corr",
    reply_to="amq.rabbitmq.reply-to",
    expiration="60000",
    message_id="id-1",
    timestamp=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc),
    message_type="kind",
    user_id="guest",
    app_id="app",
    cluster_id="",
)

_SAMPLES: dict[str, object] = {
    "bit": True,
    "octet": 7,
    "short": 513,
    "long": 70000,
    "longlong": 2**40 + 3,
    "shortstr": "name.\u00e9",
    "longstr": b"\x00PLAIN\xff",
    "table": TABLE,
}


def populated(cls: type[Method]) -> Method:
    """An instance of ``cls`` with every argument set to a non-default value."""
    return cls(**{name: _SAMPLES[kind] for name, kind in cls.FIELDS})


METHOD_PAYLOADS: list[bytes] = sorted(
    {
        payload
        for cls in METHODS.values()
        for payload in (cls().encode(), populated(cls).encode())
    }
)


def _valid_stream() -> bytes:
    parts: list[bytes] = [HEARTBEAT_FRAME]
    for channel, payload in enumerate(METHOD_PAYLOADS):
        parts.append(encode_method_frame(channel % 3, payload))
    deliver = Basic.Deliver(
        consumer_tag="ctag", delivery_tag=1, exchange="ex", routing_key="rk"
    ).encode()
    body = bytes(range(256)) * 20
    for props in (PROPERTIES, BasicProperties()):
        for frame_max in (0, 4096, 1000):
            content = encode_content(1, deliver, 60, props.encode(), body, frame_max)
            parts.extend(bytes(p) for p in content)
    parts.append(HEARTBEAT_FRAME)
    return b"".join(parts)


VALID_STREAM = _valid_stream()


def _frame_starts(data: bytes) -> list[int]:
    starts, pos = [], 0
    while pos < len(data):
        starts.append(pos)
        pos += 8 + struct.unpack_from(">I", data, pos + 3)[0]
    return starts


FRAME_STARTS = _frame_starts(VALID_STREAM)


def decode_payload(frame: Frame) -> None:
    """Run the payload decoder for the frame's type; DecodeError is fine."""
    try:
        if frame.frame_type == FRAME_METHOD:
            method = decode_method(frame.payload)
            assert isinstance(method, Method)
        elif frame.frame_type == FRAME_HEADER:
            props = BasicProperties.decode(frame.payload, 12)
            assert isinstance(props, BasicProperties)
    except DecodeError:
        pass


class Outcome(NamedTuple):
    frames: list[Frame]
    error: str | None  # message of the FrameDecodeError that stopped the reader


def consume(data: bytes, cuts: list[int], frame_max: int = 131072) -> Outcome:
    """Feed ``data`` split at ``cuts``; decode every frame; stop at the first error."""
    reader = FrameReader(frame_max)
    frames: list[Frame] = []
    points = [0, *sorted(c % (len(data) + 1) for c in cuts), len(data)]
    try:
        for start, stop in itertools.pairwise(points):
            reader.feed(data[start:stop])
            while (frame := reader.read_frame()) is not None:
                frames.append(frame)
                decode_payload(frame)
    except DecodeError as exc:
        # a failed reader stays failed
        with pytest.raises(DecodeError):
            reader.read_frame()
        return Outcome(frames, exc.reason)
    return Outcome(frames, None)


def assert_chunking_invariant(data: bytes, cuts: list[int], frame_max: int) -> None:
    """Same frames and same error whether the bytes come at once or in pieces."""
    whole = consume(data, [], frame_max)
    assert consume(data, cuts, frame_max) == whole


def only_decode_errors(decode: Callable[..., object], *args: object) -> None:
    with contextlib.suppress(DecodeError):
        decode(*args)


def mutate(data: bytes, rng: random.Random, count: int) -> bytes:
    buf = bytearray(data)
    for _ in range(count):
        op = rng.randrange(6)
        pos = rng.randrange(len(buf) + 1)
        if op == 0 and pos < len(buf):  # flip bits
            buf[pos] ^= 1 << rng.randrange(8)
        elif op == 1 and pos < len(buf):  # replace with an interesting byte
            buf[pos] = rng.choice((0x00, 0x01, 0x7F, 0x80, 0xCE, 0xFF))
        elif op == 2:  # insert random bytes
            buf[pos:pos] = rng.randbytes(rng.randrange(1, 9))
        elif op == 3:  # delete a range
            del buf[pos : pos + rng.randrange(1, 9)]
        elif op == 4:  # duplicate a range
            buf[pos:pos] = buf[pos : pos + rng.randrange(1, 32)]
        elif pos + 4 <= len(buf):  # overwrite what may be a size field
            buf[pos : pos + 4] = struct.pack(
                ">I", rng.choice((0, 1, 0x7FFFFFFF, 0xFFFFFFFF))
            )
    return bytes(buf)


# -- sanity: the fixtures are valid --------------------------------------------


def test_valid_stream_decodes_completely() -> None:
    frames, error = consume(VALID_STREAM, [])
    assert error is None
    assert len(frames) > len(METHOD_PAYLOADS)
    for frame in frames:
        if frame.frame_type == FRAME_METHOD:
            assert decode_method(frame.payload).encode() == frame.payload
        elif frame.frame_type == FRAME_HEADER:
            assert BasicProperties.decode(frame.payload, 12) in (
                PROPERTIES,
                BasicProperties(),
            )


def test_every_method_has_a_populated_sample() -> None:
    for cls in METHODS.values():
        sample = populated(cls)
        assert decode_method(sample.encode()) == sample


# -- frame streams ----------------------------------------------------------------


@FUZZ
@given(
    st.binary(max_size=600),
    st.lists(st.integers(min_value=0), max_size=6),
    st.sampled_from([0, 4096, 131072]),
)
def test_random_bytes_raise_only_decode_errors(
    data: bytes, cuts: list[int], frame_max: int
) -> None:
    assert_chunking_invariant(data, cuts, frame_max)


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.sampled_from([1, 2, 3, 8]), st.integers(0, 3), st.binary(max_size=80)
        ),
        max_size=6,
    ),
    st.lists(st.integers(min_value=0), max_size=4),
)
def test_well_framed_random_payloads_raise_only_decode_errors(
    frames: list[tuple[int, int, bytes]], cuts: list[int]
) -> None:
    data = b"".join(encode_frame(t, c, p) for t, c, p in frames)
    assert_chunking_invariant(data, cuts, 131072)


@FUZZ
@given(
    st.randoms(use_true_random=False),
    st.integers(1, 8),
    st.lists(st.integers(0), max_size=4),
)
def test_mutated_valid_streams_raise_only_decode_errors(
    rng: random.Random, count: int, cuts: list[int]
) -> None:
    start = rng.choice(FRAME_STARTS)
    window = VALID_STREAM[start : start + 3000]
    assert_chunking_invariant(mutate(window, rng, count), cuts, 131072)


def test_seeded_mutation_loop_raises_only_decode_errors() -> None:
    rng = random.Random(0xA3C9)
    decoded = 0
    for _ in range(1000):
        data = mutate(VALID_STREAM, rng, rng.randrange(1, 6))
        cuts = [rng.randrange(len(data) + 1) for _ in range(rng.randrange(4))]
        outcome = consume(data, cuts)
        assert outcome == consume(data, [])
        decoded += len(outcome.frames)
    # the mutations leave most frames intact: the loop really exercised decoders
    assert decoded > 10_000


# -- payload decoders ----------------------------------------------------------------


@FUZZ
@given(
    st.sampled_from(METHOD_PAYLOADS),
    st.randoms(use_true_random=False),
    st.integers(1, 4),
)
def test_mutated_method_payloads_raise_only_decode_errors(
    payload: bytes, rng: random.Random, count: int
) -> None:
    mutated = payload[:4] + mutate(payload[4:], rng, count)
    only_decode_errors(decode_method, mutated)


@FUZZ
@given(st.sampled_from(sorted(METHODS)), st.binary(max_size=120))
def test_random_method_arguments_raise_only_decode_errors(
    ids: tuple[int, int], arguments: bytes
) -> None:
    only_decode_errors(decode_method, struct.pack(">HH", *ids) + arguments)


@FUZZ
@given(st.binary(max_size=64))
def test_random_method_payloads_raise_only_decode_errors(payload: bytes) -> None:
    only_decode_errors(decode_method, payload)


@FUZZ
@given(st.integers(0, 0xFFFF), st.binary(max_size=200))
def test_random_properties_raise_only_decode_errors(flags: int, data: bytes) -> None:
    payload = struct.pack(">HHQH", 60, 0, len(data), flags) + data
    only_decode_errors(BasicProperties.decode, payload, 12)
    only_decode_errors(BasicProperties.decode, payload[:12] + data, 12)


@FUZZ
@given(st.randoms(use_true_random=False), st.integers(1, 6))
def test_mutated_properties_raise_only_decode_errors(
    rng: random.Random, count: int
) -> None:
    payload = mutate(PROPERTIES.encode(), rng, count)
    only_decode_errors(BasicProperties.decode, b"\x00" * 12 + payload, 12)


# -- field tables ----------------------------------------------------------------------

TYPE_OCTETS = b"tbBsuIilfdDSATFVx"
TABLE_WIRE = encode_table(TABLE)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_as_table_raise_only_decode_errors(data: bytes) -> None:
    only_decode_errors(decode_table, data)
    only_decode_errors(decode_table, struct.pack(">I", len(data)) + data)
    only_decode_errors(decode_array, struct.pack(">I", len(data)) + data)


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.binary(max_size=4),
            st.sampled_from(list(TYPE_OCTETS)),
            st.binary(max_size=12),
        ),
        max_size=10,
    )
)
def test_table_shaped_random_bytes_raise_only_decode_errors(
    entries: list[tuple[bytes, int, bytes]],
) -> None:
    body = b"".join(bytes([len(k)]) + k + bytes([t]) + v for k, t, v in entries)
    only_decode_errors(decode_table, struct.pack(">I", len(body)) + body)
    items = b"".join(bytes([t]) + v for _, t, v in entries)
    only_decode_errors(decode_array, struct.pack(">I", len(items)) + items)


@FUZZ
@given(st.randoms(use_true_random=False), st.integers(1, 6))
def test_mutated_tables_raise_only_decode_errors(
    rng: random.Random, count: int
) -> None:
    data = mutate(TABLE_WIRE, rng, count)
    only_decode_errors(decode_table, data)
    only_decode_errors(decode_table, b"\x00" + data, 1, len(data) + 1)


def test_seeded_table_loop_raises_only_decode_errors() -> None:
    rng = random.Random(0x7AB1E)
    for _ in range(5000):
        data = mutate(TABLE_WIRE, rng, rng.randrange(1, 5))
        only_decode_errors(decode_table, data)
        noise = rng.randbytes(rng.randrange(40))
        only_decode_errors(decode_array, noise)
