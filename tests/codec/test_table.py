"""Field tables and arrays: golden bytes per type, encode choices, hostile input."""

from __future__ import annotations

import collections
import datetime
import decimal
import enum
import struct
import tracemalloc
import types
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amqpio.codec.errors import (
    DecodeError,
    EncodeError,
    FrameDecodeError,
    SyntaxDecodeError,
)
from amqpio.codec.table import (
    MAX_DEPTH,
    FieldValue,
    decode_array,
    decode_table,
    encode_array,
    encode_table,
)

UTC = datetime.timezone.utc
D = decimal.Decimal


# -- hand-built wire helpers (independent of the code under test) -----------


def sized(payload: bytes) -> bytes:
    """A table or array body with its 32-bit size prefix."""
    return struct.pack(">I", len(payload)) + payload


def entry(key: bytes, type_octet: bytes, value: bytes) -> bytes:
    """One table entry: shortstr key, type octet, value bytes."""
    return bytes([len(key)]) + key + type_octet + value


def one(type_octet: bytes, value: bytes, key: bytes = b"k") -> bytes:
    """A whole table holding a single entry."""
    return sized(entry(key, type_octet, value))


def decode_whole_table(buf: bytes) -> dict[str, FieldValue]:
    table, offset = decode_table(buf)
    assert offset == len(buf)
    return table


# -- golden bytes for every RabbitMQ field type -------------------------------

GOLDEN: list[tuple[str, bytes, bytes, object]] = [
    ("t-true", b"t", b"\x01", True),
    ("t-false", b"t", b"\x00", False),
    ("t-nonzero", b"t", b"\x07", True),
    ("b", b"b", struct.pack(">b", -128), -128),
    ("B", b"B", struct.pack(">B", 255), 255),
    ("s", b"s", struct.pack(">h", -300), -300),
    ("u", b"u", struct.pack(">H", 65000), 65000),
    ("I", b"I", struct.pack(">i", -70000), -70000),
    ("i", b"i", struct.pack(">I", 4000000000), 4000000000),
    ("l", b"l", struct.pack(">q", -(2**40)), -(2**40)),
    ("f", b"f", struct.pack(">f", 1.5), 1.5),
    ("d", b"d", struct.pack(">d", -2.25), -2.25),
    ("D", b"D", struct.pack(">BI", 2, 12345), D("123.45")),
    ("S", b"S", struct.pack(">I", 5) + b"hello", "hello"),
    ("S-not-utf8", b"S", struct.pack(">I", 4) + b"\xc3\xa9t\xc3", b"\xc3\xa9t\xc3"),
    ("S-empty", b"S", struct.pack(">I", 0), ""),
    (
        "A",
        b"A",
        sized(b"I" + struct.pack(">i", 1) + b"S" + struct.pack(">I", 1) + b"a" + b"V"),
        [1, "a", None],
    ),
    ("A-empty", b"A", sized(b""), []),
    (
        "T",
        b"T",
        struct.pack(">Q", 1577836800),
        datetime.datetime(2020, 1, 1, tzinfo=UTC),
    ),
    ("F", b"F", sized(entry(b"n", b"B", b"\x07")), {"n": 7}),
    ("F-empty", b"F", sized(b""), {}),
    ("V", b"V", b"", None),
    ("x", b"x", struct.pack(">I", 3) + b"\x00\xff\x01", b"\x00\xff\x01"),
]


@pytest.mark.parametrize(
    ("type_octet", "value", "expected"),
    [pytest.param(t, v, e, id=name) for name, t, v, e in GOLDEN],
)
def test_decode_golden_field_value(
    type_octet: bytes, value: bytes, expected: object
) -> None:
    table = decode_whole_table(one(type_octet, value))
    assert list(table) == ["k"]
    got = table["k"]
    assert got == expected
    assert type(got) is type(expected)


def test_every_rabbitmq_type_octet_is_covered_by_golden_bytes() -> None:
    covered = {t for _, t, _, _ in GOLDEN}
    assert covered == {bytes([c]) for c in b"tbBsuIilfdDSATFVx"}


def test_signedness_of_the_32_bit_types() -> None:
    raw = b"\xff\xff\xff\xff"
    assert decode_whole_table(one(b"I", raw))["k"] == -1
    assert decode_whole_table(one(b"i", raw))["k"] == 0xFFFFFFFF


def test_decode_golden_table_with_several_entries_keeps_order() -> None:
    payload = (
        entry(b"x-max-length", b"I", struct.pack(">i", 10))
        + entry(b"x-queue-type", b"S", struct.pack(">I", 6) + b"quorum")
        + entry(b"\xc3\xa9", b"t", b"\x01")
    )
    table = decode_whole_table(sized(payload))
    assert list(table.items()) == [
        ("x-max-length", 10),
        ("x-queue-type", "quorum"),
        ("\u00e9", True),
    ]


def test_golden_array_of_every_type() -> None:
    items = b"".join(t + v for _, t, v, _ in GOLDEN)
    array, offset = decode_array(sized(items))
    assert offset == 4 + len(items)
    assert array == [e for _, _, _, e in GOLDEN]


def test_long_string_that_is_not_utf8_decodes_to_bytes() -> None:
    raw = b"\xff\xfe\x00binary"
    table = decode_whole_table(one(b"S", struct.pack(">I", len(raw)) + raw))
    assert table["k"] == raw and type(table["k"]) is bytes


def test_decode_threads_offset_and_end() -> None:
    body = one(b"B", b"\x01")
    buf = b"\xaa\xbb" + body + b"\xcc"
    table, offset = decode_table(buf, 2)
    assert (table, offset) == ({"k": 1}, 2 + len(body))
    assert decode_table(memoryview(buf), 2, 2 + len(body)) == ({"k": 1}, offset)
    assert decode_table(bytearray(buf), 2) == ({"k": 1}, offset)
    with pytest.raises(FrameDecodeError):
        decode_table(buf, 2, 2 + len(body) - 1)


# SRC BUG: decode_table/decode_array trust an ``end`` beyond len(buf), so a
# declared size that runs past the data is silently truncated by slicing.
@pytest.mark.parametrize("decode", [decode_table, decode_array])
def test_end_beyond_the_buffer_does_not_hide_truncation(
    decode: Callable[[bytes, int, int], object],
) -> None:
    if decode is decode_table:
        buf = sized(entry(b"k", b"S", struct.pack(">I", 5) + b"abcde"))[:-3]
    else:
        buf = sized(b"x" + struct.pack(">I", 5) + b"abcde")[:-3]
    with pytest.raises(FrameDecodeError):
        decode(buf, 0, len(buf) + 3)


def test_decode_array_threads_offset() -> None:
    body = sized(b"t\x01V")
    assert decode_array(b"\x00" + body + b"\x00", 1) == ([True, None], 1 + len(body))


# -- encode choices ----------------------------------------------------------


class Colour(enum.IntEnum):
    RED = 1


class Text(str):
    pass


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        pytest.param(True, b"t\x01", id="true"),
        pytest.param(False, b"t\x00", id="false"),
        pytest.param(0, b"I" + struct.pack(">i", 0), id="int-zero"),
        pytest.param(2**31 - 1, b"I" + struct.pack(">i", 2**31 - 1), id="int32-max"),
        pytest.param(-(2**31), b"I" + struct.pack(">i", -(2**31)), id="int32-min"),
        pytest.param(2**31, b"l" + struct.pack(">q", 2**31), id="int32-max+1"),
        pytest.param(
            -(2**31) - 1, b"l" + struct.pack(">q", -(2**31) - 1), id="int32-min-1"
        ),
        pytest.param(2**63 - 1, b"l" + struct.pack(">q", 2**63 - 1), id="int64-max"),
        pytest.param(-(2**63), b"l" + struct.pack(">q", -(2**63)), id="int64-min"),
        pytest.param(Colour.RED, b"I" + struct.pack(">i", 1), id="int-subclass"),
        pytest.param(1.0, b"d" + struct.pack(">d", 1.0), id="float"),
        pytest.param(float("inf"), b"d" + struct.pack(">d", float("inf")), id="inf"),
        pytest.param(D("1.50"), b"D\x02" + struct.pack(">I", 150), id="decimal"),
        pytest.param("h\u00e9", b"S\x00\x00\x00\x03h\xc3\xa9", id="str"),
        pytest.param(Text("ab"), b"S\x00\x00\x00\x02ab", id="str-subclass"),
        pytest.param(b"\x00\x01", b"x\x00\x00\x00\x02\x00\x01", id="bytes"),
        pytest.param(bytearray(b"\x02"), b"x\x00\x00\x00\x01\x02", id="bytearray"),
        pytest.param(memoryview(b"\x03"), b"x\x00\x00\x00\x01\x03", id="memoryview"),
        pytest.param(
            datetime.datetime(2020, 1, 1, tzinfo=UTC),
            b"T" + struct.pack(">Q", 1577836800),
            id="datetime-aware",
        ),
        pytest.param(
            datetime.datetime(2020, 1, 1),
            b"T" + struct.pack(">Q", 1577836800),
            id="datetime-naive-utc",
        ),
        pytest.param({}, b"F\x00\x00\x00\x00", id="empty-dict"),
        pytest.param({"a": None}, b"F\x00\x00\x00\x03\x01aV", id="dict"),
        pytest.param(
            collections.OrderedDict(a=None), b"F\x00\x00\x00\x03\x01aV", id="mapping"
        ),
        pytest.param(
            types.MappingProxyType({"a": None}),
            b"F\x00\x00\x00\x03\x01aV",
            id="mapping-proxy",
        ),
        pytest.param([], b"A\x00\x00\x00\x00", id="empty-list"),
        pytest.param([None, True], b"A\x00\x00\x00\x03Vt\x01", id="list"),
        pytest.param((None, True), b"A\x00\x00\x00\x03Vt\x01", id="tuple"),
        pytest.param(None, b"V", id="none"),
    ],
)
def test_encode_choice(value: Any, wire: bytes) -> None:
    expected = sized(b"\x01k" + wire)
    assert encode_table({"k": value}) == expected
    assert encode_array([value]) == sized(wire)


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 2**100])
def test_integer_beyond_int64_raises_encode_error(value: int) -> None:
    with pytest.raises(EncodeError):
        encode_table({"k": value})
    with pytest.raises(EncodeError):
        encode_array([value])


@pytest.mark.parametrize(
    "value",
    [
        object(),
        {1, 2},
        frozenset(),
        1j,
        datetime.date(2020, 1, 1),
        datetime.timedelta(seconds=1),
        D("-1"),
        datetime.datetime(1960, 1, 1),
    ],
    ids=repr,
)
def test_unencodable_value_raises_encode_error(value: object) -> None:
    with pytest.raises(EncodeError):
        encode_table({"k": value})  # type: ignore[dict-item]
    with pytest.raises(EncodeError):
        encode_array([value])  # type: ignore[list-item]


# SRC BUG: text is encoded with str.encode(), so a lone surrogate escapes as
# UnicodeEncodeError, and a key that is not a str as AttributeError.
@pytest.mark.parametrize(
    "table",
    [{"k": "\ud800"}, {"\udfff": 1}, {"k": ["\ud800"]}, {1: "x"}, {b"k": "x"}],
    ids=[
        "surrogate-value",
        "surrogate-key",
        "surrogate-in-array",
        "int-key",
        "bytes-key",
    ],
)
def test_unencodable_text_or_key_raises_encode_error(table: dict[Any, Any]) -> None:
    with pytest.raises((EncodeError, TypeError)) as info:
        encode_table(table)
    assert not isinstance(info.value, (UnicodeError, AttributeError))


def test_empty_or_missing_table_encodes_as_four_zero_bytes() -> None:
    assert encode_table({}) == b"\x00\x00\x00\x00"
    assert encode_table(None) == b"\x00\x00\x00\x00"
    assert encode_array([]) == b"\x00\x00\x00\x00"


def test_key_of_255_bytes_is_accepted() -> None:
    key = "\u00e9" * 127 + "a"
    wire = encode_table({key: None})
    assert wire[4] == 255
    assert decode_whole_table(wire) == {key: None}


@pytest.mark.parametrize("key", ["k" * 256, "\u00e9" * 128])
def test_key_over_255_bytes_raises_encode_error(key: str) -> None:
    with pytest.raises(EncodeError):
        encode_table({key: 1})
    with pytest.raises(EncodeError):
        encode_table({"outer": [{key: 1}]})


def test_nested_tables_and_arrays_encode_to_golden_bytes() -> None:
    value = {"a": [1, {"b": [True, []]}], "c": {}}
    inner_table = sized(entry(b"b", b"A", sized(b"t\x01" + b"A" + sized(b""))))
    array = sized(b"I" + struct.pack(">i", 1) + b"F" + inner_table)
    expected = sized(entry(b"a", b"A", array) + entry(b"c", b"F", sized(b"")))
    assert encode_table(value) == expected
    assert decode_whole_table(expected) == value


# -- hostile input ------------------------------------------------------------


@pytest.mark.parametrize("type_octet", [b"Z", b"\x00", b"\xff", b"U", b"L", b"c"])
def test_unknown_type_octet_raises_syntax_error(type_octet: bytes) -> None:
    with pytest.raises(SyntaxDecodeError) as info:
        decode_table(one(type_octet, b"\x00" * 8))
    assert info.value.reply_code == 502
    with pytest.raises(SyntaxDecodeError) as info:
        decode_array(sized(type_octet + b"\x00" * 8))
    assert info.value.reply_code == 502


def test_key_that_is_not_utf8_raises_syntax_error() -> None:
    with pytest.raises(SyntaxDecodeError):
        decode_table(one(b"V", b"", key=b"\xff"))


HUGE = 0xFFFFFFF0

OVERSIZED: list[tuple[str, bytes]] = [
    ("table", struct.pack(">I", HUGE)),
    ("table-with-some-data", struct.pack(">I", HUGE) + b"\x01kV"),
    ("S", one(b"S", struct.pack(">I", HUGE) + b"abc")),
    ("x", one(b"x", struct.pack(">I", HUGE) + b"abc")),
    ("F", one(b"F", struct.pack(">I", HUGE))),
    ("A", one(b"A", struct.pack(">I", HUGE) + b"V")),
    ("S-one-past", one(b"S", struct.pack(">I", 4) + b"abc")),
    ("F-one-past", one(b"F", struct.pack(">I", 4) + b"\x01kV")),
    ("key-past-end", sized(b"\x05ab")),
    ("type-octet-missing", sized(b"\x01k")),
    ("fixed-value-past-end", sized(b"\x01kl\x00\x00")),
    ("table-size-truncated", b"\x00\x00"),
    ("empty-buffer", b""),
]


@pytest.mark.parametrize("buf", [pytest.param(b, id=name) for name, b in OVERSIZED])
def test_declared_size_beyond_the_data_raises_frame_error(buf: bytes) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(FrameDecodeError) as info:
            decode_table(buf)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.reply_code == 501
    # nothing was allocated from the declared (multi-gigabyte) size
    assert peak < 1 << 20


@pytest.mark.parametrize(
    "buf",
    [
        struct.pack(">I", HUGE),
        sized(b"S" + struct.pack(">I", HUGE)),
        sized(b"x" + struct.pack(">I", 2)),
        sized(b"A" + struct.pack(">I", HUGE)),
        sized(b"d\x00\x00"),
    ],
)
def test_array_declared_size_beyond_the_data_raises_frame_error(buf: bytes) -> None:
    with pytest.raises(FrameDecodeError) as info:
        decode_array(buf)
    assert info.value.reply_code == 501


def nested_tables(levels: int) -> bytes:
    """A table holding ``levels`` tables nested one inside the other."""
    wire = sized(b"")
    for _ in range(levels):
        wire = sized(entry(b"n", b"F", wire))
    return wire


def nested_arrays(levels: int) -> bytes:
    wire = sized(b"")
    for _ in range(levels):
        wire = sized(b"A" + wire)
    return wire


def nested_dicts(levels: int) -> dict[str, FieldValue]:
    value: dict[str, FieldValue] = {}
    for _ in range(levels):
        value = {"n": value}
    return value


def test_nesting_up_to_max_depth_round_trips() -> None:
    wire = nested_tables(MAX_DEPTH)
    table = decode_whole_table(wire)
    assert table == nested_dicts(MAX_DEPTH)
    assert encode_table(table) == wire
    array, _ = decode_array(nested_arrays(MAX_DEPTH))
    assert encode_array(array) == nested_arrays(MAX_DEPTH)


def test_table_nested_deeper_than_max_depth_raises_syntax_error() -> None:
    with pytest.raises(SyntaxDecodeError) as info:
        decode_table(nested_tables(MAX_DEPTH + 1))
    assert info.value.reply_code == 502
    with pytest.raises(SyntaxDecodeError):
        decode_array(nested_arrays(MAX_DEPTH + 1))


def test_absurdly_deep_nesting_raises_syntax_error_not_recursion_error() -> None:
    with pytest.raises(SyntaxDecodeError):
        decode_table(nested_tables(5000))
    with pytest.raises(SyntaxDecodeError):
        decode_array(nested_arrays(5000))


def test_encoding_deeper_than_max_depth_raises_encode_error() -> None:
    with pytest.raises(EncodeError):
        encode_table(nested_dicts(MAX_DEPTH + 1))
    deep: list[FieldValue] = []
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]
    with pytest.raises(EncodeError):
        encode_array(deep)


def test_self_referencing_containers_raise_encode_error() -> None:
    loop: list[FieldValue] = []
    loop.append(loop)
    with pytest.raises(EncodeError):
        encode_array(loop)
    cycle: dict[str, FieldValue] = {}
    cycle["self"] = cycle
    with pytest.raises(EncodeError):
        encode_table(cycle)


# -- round trip ----------------------------------------------------------------

keys = st.text(max_size=20)  # at most 80 UTF-8 bytes, well below 255
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.builds(
        lambda unscaled, scale: D(unscaled).scaleb(-scale),
        st.integers(min_value=0, max_value=2**32 - 1),
        st.integers(min_value=0, max_value=255),
    ),
    st.text(),
    st.binary(),
    st.datetimes(
        min_value=datetime.datetime(1970, 1, 1),
        max_value=datetime.datetime(9999, 12, 31, 23, 59, 59),
    ).map(lambda d: d.replace(microsecond=0, tzinfo=UTC)),
)
field_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(keys, children, max_size=5),
    ),
    max_leaves=30,
)
tables = st.dictionaries(keys, field_values, max_size=8)


def assert_same(decoded: object, original: object) -> None:
    """Equal value and type, recursively (so True is not 1 and 1 is not 1.0)."""
    assert type(decoded) is type(original), (decoded, original)
    if isinstance(original, dict):
        assert isinstance(decoded, dict)
        assert list(decoded) == list(original)
        for key, value in original.items():
            assert_same(decoded[key], value)
    elif isinstance(original, list):
        assert isinstance(decoded, list)
        assert len(decoded) == len(original)
        for got, want in zip(decoded, original, strict=True):
            assert_same(got, want)
    elif isinstance(original, float):
        assert struct.pack(">d", decoded) == struct.pack(">d", original)  # type: ignore[arg-type]
    else:
        assert decoded == original


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables)
def test_random_tables_round_trip(table: dict[str, FieldValue]) -> None:
    wire = encode_table(table)
    decoded, offset = decode_table(wire)
    assert offset == len(wire)
    assert_same(decoded, table)
    assert encode_table(decoded) == wire


@settings(max_examples=60, deadline=None)
@given(st.lists(field_values, max_size=8))
def test_random_arrays_round_trip(array: list[FieldValue]) -> None:
    wire = encode_array(array)
    decoded, offset = decode_array(b"pre" + wire, 3)
    assert offset == 3 + len(wire)
    assert_same(decoded, array)


@settings(max_examples=80, deadline=None)
@given(tables, st.data())
def test_truncated_valid_table_raises_only_decode_errors(
    table: dict[str, FieldValue], data: st.DataObject
) -> None:
    wire = encode_table(table)
    cut = data.draw(st.integers(min_value=0, max_value=len(wire) - 1))
    with pytest.raises(DecodeError):
        decode_table(wire[:cut])


# -- error reasons and offsets (each checked: a wrong one survived mutation) --


@pytest.mark.parametrize(
    ("decode", "what"),
    [(decode_table, "field table"), (decode_array, "field array")],
)
@pytest.mark.parametrize("prefix", [b"", b"xyz"])
def test_a_cut_size_prefix_is_reported_at_its_offset(
    decode: Callable[..., Any], what: str, prefix: bytes
) -> None:
    with pytest.raises(FrameDecodeError) as info:
        decode(prefix + b"\x00\x00", len(prefix))
    assert (info.value.reason, info.value.offset) == (f"truncated {what}", len(prefix))


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_arrays_and_tables_decode_from_any_buffer(kind: Callable[..., Any]) -> None:
    array = [1, "two", b"three", [4.5], {"six": None}]
    wire = b"--" + encode_array(array)
    assert decode_array(kind(wire), 2) == (array, len(wire))
    table = {"a": array, "b": True}
    wire = b"-" + encode_table(table)
    assert decode_table(kind(wire), 1) == (table, len(wire))


def test_an_array_may_not_run_past_the_end_it_is_given() -> None:
    wire = encode_array(["abc", 1])
    assert decode_array(wire, 0, len(wire)) == (["abc", 1], len(wire))
    with pytest.raises(DecodeError):
        decode_array(wire + b"tail", 0, len(wire) - 1)


@pytest.mark.parametrize(
    ("value", "name"), [(object(), "object"), ({1, 2}, "set"), (1j, "complex")]
)
def test_a_value_of_no_field_type_names_its_type(value: Any, name: str) -> None:
    with pytest.raises(EncodeError) as info:
        encode_table({"k": value})
    assert str(info.value) == f"cannot encode {name} in a field table"
    with pytest.raises(EncodeError) as info:
        encode_array([value])
    assert str(info.value) == f"cannot encode {name} in a field table"


def test_an_array_value_that_cannot_be_encoded_says_why() -> None:
    with pytest.raises(EncodeError) as info:
        encode_array(["\ud800"])
    assert str(info.value).startswith("field array value cannot be encoded: ")
    assert "surrogates not allowed" in str(info.value)


# Each malformed table with the error it must raise: the reason, and the offset
# of the field at fault (a size or length field, a key, a type octet). Worked
# out from the bytes (``one``: size @0, key length @4, key @5, type @6, value
# @7; each nesting level 7 bytes for a table, 5 for an array; the table one
# level too deep is refused), not read from the decoder.
MALFORMED_TABLES: list[tuple[str, bytes, type[DecodeError], str, int]] = [
    ("table", struct.pack(">I", HUGE), FrameDecodeError,
     "field table runs past the end of its container", 0),
    ("S", one(b"S", struct.pack(">I", HUGE) + b"abc"), FrameDecodeError,
     "long string runs past the end of its table", 7),
    ("S-one-past", one(b"S", struct.pack(">I", 4) + b"abc"), FrameDecodeError,
     "long string runs past the end of its table", 7),
    ("x", one(b"x", struct.pack(">I", HUGE) + b"abc"), FrameDecodeError,
     "byte array runs past the end of its table", 7),
    ("F", one(b"F", struct.pack(">I", HUGE)), FrameDecodeError,
     "field table runs past the end of its container", 7),
    ("A", one(b"A", struct.pack(">I", HUGE) + b"V"), FrameDecodeError,
     "field array runs past the end of its table", 7),
    ("key-past-end", sized(b"\x05ab"), FrameDecodeError,
     "field table key runs past the end of its table", 4),
    ("type-octet-missing", sized(b"\x01k"), FrameDecodeError,
     "field table key runs past the end of its table", 4),
    ("value-past-its-table", sized(b"\x01kb\x01\x01kb") + b"\x02", FrameDecodeError,
     "field table value runs past the end of its table", 12),
    ("size-truncated", b"\x00\x00", FrameDecodeError, "truncated field table", 0),
    ("key-not-utf8", one(b"V", b"", key=b"\xff"), SyntaxDecodeError,
     "field table key is not valid UTF-8", 4),
    ("unknown-type", one(b"Z", b"\x00" * 8), SyntaxDecodeError,
     "unknown field value type 0x5a", 6),
    ("too-deep", nested_tables(MAX_DEPTH + 1), SyntaxDecodeError,
     f"field table nested deeper than {MAX_DEPTH}", 7 * (MAX_DEPTH + 1)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("buf", "kind", "reason", "offset"),
    [pytest.param(*case[1:], id=case[0]) for case in MALFORMED_TABLES],
)
def test_malformed_tables_name_the_fault_and_where_it_is(
    buf: bytes, kind: type[DecodeError], reason: str, offset: int
) -> None:
    with pytest.raises(kind) as info:
        decode_table(buf)
    assert (info.value.reason, info.value.offset) == (reason, offset)
    # the same table inside a larger buffer: offsets move with it
    with pytest.raises(kind) as info:
        decode_table(b"\x00" * 3 + buf, 3)
    assert (info.value.reason, info.value.offset) == (reason, offset + 3)


MALFORMED_ARRAYS: list[tuple[str, bytes, type[DecodeError], str, int]] = [
    ("array", struct.pack(">I", HUGE), FrameDecodeError,
     "field array runs past the end of its table", 0),
    ("S", sized(b"S" + struct.pack(">I", HUGE)), FrameDecodeError,
     "long string runs past the end of its table", 5),
    ("x", sized(b"x" + struct.pack(">I", 2)), FrameDecodeError,
     "byte array runs past the end of its table", 5),
    ("A", sized(b"A" + struct.pack(">I", HUGE)), FrameDecodeError,
     "field array runs past the end of its table", 5),
    ("d-truncated", sized(b"d\x00\x00"), FrameDecodeError, "truncated field array", 0),
    ("unknown-type", sized(b"Z" + b"\x00" * 8), SyntaxDecodeError,
     "unknown field value type 0x5a", 4),
    ("too-deep", nested_arrays(MAX_DEPTH + 1), SyntaxDecodeError,
     f"field array nested deeper than {MAX_DEPTH}", 5 * (MAX_DEPTH + 1)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("buf", "kind", "reason", "offset"),
    [pytest.param(*case[1:], id=case[0]) for case in MALFORMED_ARRAYS],
)
def test_malformed_arrays_name_the_fault_and_where_it_is(
    buf: bytes, kind: type[DecodeError], reason: str, offset: int
) -> None:
    with pytest.raises(kind) as info:
        decode_array(buf)
    assert (info.value.reason, info.value.offset) == (reason, offset)
    with pytest.raises(kind) as info:
        decode_array(b"\x00\x00" + buf, 2)
    assert (info.value.reason, info.value.offset) == (reason, offset + 2)
