"""Primitive AMQP values: integers, short/long strings, timestamps, decimals."""

from __future__ import annotations

import datetime
import decimal
import struct
from collections.abc import Callable

import pytest

from amqpio.codec import values
from amqpio.codec.errors import (
    FRAME_ERROR,
    SYNTAX_ERROR,
    UNEXPECTED_FRAME,
    DecodeError,
    EncodeError,
    FrameDecodeError,
    SyntaxDecodeError,
    UnexpectedFrameError,
)
from amqpio.codec.values import (
    LONG,
    LONGLONG,
    OCTET,
    SHORT,
    datetime_to_timestamp,
    decimal_to_wire,
    decode_longstr,
    decode_shortstr,
    encode_longstr,
    encode_shortstr,
    longstr_bytes,
    shortstr_bytes,
    timestamp_to_datetime,
    wire_to_decimal,
)
from amqpio.spec import Basic, BasicProperties, Method, ReplyCode

UTC = datetime.timezone.utc
D = decimal.Decimal

# -- errors ----------------------------------------------------------------


def test_codec_reply_codes_match_the_generated_spec() -> None:
    assert ReplyCode.FRAME_ERROR == FRAME_ERROR
    assert ReplyCode.SYNTAX_ERROR == SYNTAX_ERROR
    assert ReplyCode.UNEXPECTED_FRAME == UNEXPECTED_FRAME


def test_decode_errors_carry_their_reply_code() -> None:
    assert DecodeError.reply_code == 501
    assert FrameDecodeError("x").reply_code == 501
    assert SyntaxDecodeError("x").reply_code == 502
    assert UnexpectedFrameError("x").reply_code == 505
    err = SyntaxDecodeError("bad value", 17)
    assert isinstance(err, DecodeError)
    assert (err.reason, err.offset) == ("bad value", 17)
    assert "offset 17" in str(err)


def test_encode_error_is_a_value_error_and_not_a_decode_error() -> None:
    assert issubclass(EncodeError, ValueError)
    assert not issubclass(EncodeError, DecodeError)
    assert not issubclass(DecodeError, ValueError)


# -- fixed-width integers ----------------------------------------------------


@pytest.mark.parametrize(
    ("packer", "value", "wire"),
    [
        (OCTET, 0, b"\x00"),
        (OCTET, 0xFF, b"\xff"),
        (SHORT, 0x0102, b"\x01\x02"),
        (SHORT, 0xFFFF, b"\xff\xff"),
        (LONG, 0x01020304, b"\x01\x02\x03\x04"),
        (LONG, 0xFFFFFFFF, b"\xff\xff\xff\xff"),
        (LONGLONG, 0x0102030405060708, b"\x01\x02\x03\x04\x05\x06\x07\x08"),
        (LONGLONG, 2**64 - 1, b"\xff" * 8),
    ],
)
def test_integer_structs_are_unsigned_big_endian(
    packer: struct.Struct, value: int, wire: bytes
) -> None:
    assert packer.pack(value) == wire
    assert packer.unpack_from(b"\xaa" + wire, 1) == (value,)


@pytest.mark.parametrize("tag", [0, 1, 2**32, 2**64 - 1])
def test_longlong_in_basic_ack_round_trips(tag: int) -> None:
    payload = Basic.Ack(delivery_tag=tag, multiple=True).encode()
    assert payload == b"\x00\x3c\x00\x50" + struct.pack(">Q", tag) + b"\x01"
    decoded = Basic.Ack.decode(payload)
    assert (decoded.delivery_tag, decoded.multiple) == (tag, True)


@pytest.mark.parametrize(("size", "count"), [(0, 0), (0xFFFFFFFF, 0xFFFF)])
def test_long_and_short_in_basic_qos_round_trip(size: int, count: int) -> None:
    payload = Basic.Qos(prefetch_size=size, prefetch_count=count).encode()
    assert payload == b"\x00\x3c\x00\x0a" + struct.pack(">IHB", size, count, 0)
    decoded = Basic.Qos.decode(payload)
    assert (decoded.prefetch_size, decoded.prefetch_count) == (size, count)


@pytest.mark.parametrize("mode", [0, 2, 255])
def test_octet_property_round_trips(mode: int) -> None:
    payload = BasicProperties(delivery_mode=mode).encode()
    assert payload == b"\x10\x00" + bytes([mode])
    assert BasicProperties.decode(payload).delivery_mode == mode


# SRC BUG: the generated encoders pack user integers straight into structs, so an
# out-of-range value escapes as struct.error (not even a ValueError) instead of
# the EncodeError the codec documents for "a value that cannot be represented".
@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: Basic.Ack(delivery_tag=2**64), id="longlong-too-big"),
        pytest.param(lambda: Basic.Ack(delivery_tag=-1), id="longlong-negative"),
        pytest.param(lambda: Basic.Qos(prefetch_count=2**16), id="short-too-big"),
        pytest.param(lambda: Basic.Qos(prefetch_size=2**32), id="long-too-big"),
        pytest.param(lambda: BasicProperties(delivery_mode=256), id="octet-too-big"),
    ],
)
def test_out_of_range_integer_field_raises_encode_error(
    build: Callable[[], Method | BasicProperties],
) -> None:
    obj = build()
    with pytest.raises(EncodeError):
        obj.encode()


# -- shortstr ----------------------------------------------------------------


def test_encode_shortstr_prefixes_the_byte_length() -> None:
    assert encode_shortstr("") == b"\x00"
    assert encode_shortstr("amq.direct") == b"\x0aamq.direct"
    assert encode_shortstr(b"raw") == b"\x03raw"
    # length counts UTF-8 bytes, not characters
    assert encode_shortstr("\u00e9t\u00e9") == b"\x05\xc3\xa9t\xc3\xa9"


def test_shortstr_of_exactly_255_bytes_is_accepted() -> None:
    assert encode_shortstr("a" * 255) == b"\xff" + b"a" * 255
    assert shortstr_bytes("a" * 255) == b"a" * 255
    assert decode_shortstr(b"\xff" + b"a" * 255, 0) == ("a" * 255, 256)


@pytest.mark.parametrize(
    "value",
    [
        "a" * 256,
        b"a" * 256,
        "\u00e9" * 128,  # 128 characters, 256 bytes
        "\U0001f600" * 64,  # 64 characters, 256 bytes
    ],
)
def test_shortstr_over_255_bytes_raises_encode_error(value: str | bytes) -> None:
    with pytest.raises(EncodeError, match="256"):
        encode_shortstr(value)
    with pytest.raises(EncodeError):
        shortstr_bytes(value)


def test_multibyte_shortstr_of_exactly_255_bytes_is_accepted() -> None:
    value = "\u00e9" * 127 + "a"  # 128 characters, 255 bytes
    wire = encode_shortstr(value)
    assert wire[0] == 255 and len(wire) == 256
    assert decode_shortstr(wire, 0) == (value, 256)


def test_shortstr_limit_applies_to_generated_method_fields() -> None:
    assert Basic.Publish(routing_key="k" * 255).encode()
    with pytest.raises(EncodeError):
        Basic.Publish(routing_key="\u00e9" * 128).encode()


def test_decode_shortstr_threads_the_offset() -> None:
    buf = b"\x01\x02\x03hi!\x00tail"
    value, offset = decode_shortstr(buf, 2)
    assert (value, offset) == ("hi!", 6)
    assert decode_shortstr(buf, offset) == ("", 7)
    assert decode_shortstr(memoryview(buf), 2) == ("hi!", 6)
    assert decode_shortstr(bytearray(buf), 2) == ("hi!", 6)


@pytest.mark.parametrize(
    ("buf", "offset", "reason"),
    [
        (b"", 0, "shortstr length missing"),
        (b"\x00", 1, "shortstr length missing"),
        (b"\x03ab", 0, "shortstr runs past the end of the payload"),
        (b"\x05hello", 1, "shortstr runs past the end of the payload"),
        (b"\x00\xff" + b"a" * 254, 1, "shortstr runs past the end of the payload"),
    ],
)
def test_decode_truncated_shortstr_raises_frame_error(
    buf: bytes, offset: int, reason: str
) -> None:
    with pytest.raises(FrameDecodeError) as info:
        decode_shortstr(buf, offset)
    assert info.value.reply_code == 501
    assert (info.value.reason, info.value.offset) == (reason, offset)
    assert str(info.value) == f"{reason} (at offset {offset})"


@pytest.mark.parametrize("raw", [b"\xff", b"\xc3", b"ab\xc3\x28", b"\xed\xa0\x80"])
def test_decode_invalid_utf8_shortstr_raises_syntax_error(raw: bytes) -> None:
    with pytest.raises(SyntaxDecodeError) as info:
        decode_shortstr(b"x" + bytes([len(raw)]) + raw, 1)
    assert info.value.reply_code == 502
    assert (info.value.reason, info.value.offset) == ("shortstr is not valid UTF-8", 1)


def test_text_that_is_not_utf8_encodable_raises_encode_error() -> None:
    message = "text is not encodable as UTF-8: surrogates not allowed"
    with pytest.raises(EncodeError) as info:
        encode_shortstr("\ud800")
    assert str(info.value) == message
    with pytest.raises(EncodeError) as info:
        encode_longstr("a\udfff")
    assert str(info.value) == message


# -- longstr -----------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "caf\u00e9",
        b"caf\xc3\xa9",
        bytearray(b"caf\xc3\xa9"),
        memoryview(b"caf\xc3\xa9"),
    ],
)
def test_encode_longstr_accepts_text_and_bytes_like(
    value: str | bytes | bytearray | memoryview,
) -> None:
    assert encode_longstr(value) == b"\x00\x00\x00\x05caf\xc3\xa9"
    assert longstr_bytes(value) == b"caf\xc3\xa9"


def test_longstr_may_exceed_the_shortstr_limit_and_hold_any_bytes() -> None:
    raw = bytes(range(256)) * 300
    wire = encode_longstr(raw)
    assert wire[:4] == struct.pack(">I", len(raw))
    value, offset = decode_longstr(b"xx" + wire + b"yy", 2)
    assert value == raw and type(value) is bytes
    assert offset == 2 + 4 + len(raw)


def test_longstr_limit_is_enforced(monkeypatch: pytest.MonkeyPatch) -> None:
    # 4 GiB strings are impractical in a unit test; shrink the limit instead.
    monkeypatch.setattr(values, "LONGSTR_MAX", 3)
    assert encode_longstr(b"abc") == b"\x00\x00\x00\x03abc"
    with pytest.raises(EncodeError) as info:
        encode_longstr(b"abcd")
    assert str(info.value) == "longstr longer than 2**32 - 1 bytes"


def test_decode_empty_longstr() -> None:
    assert decode_longstr(b"\x00\x00\x00\x00", 0) == (b"", 4)


@pytest.mark.parametrize(
    ("buf", "offset", "reason"),
    [
        (b"", 0, "longstr length missing"),
        (b"\x00\x00\x00", 0, "longstr length missing"),
        (b"\x00\x00\x00\x00", 1, "longstr length missing"),
        (b"\x00\x00\x00\x05abcd", 0, "longstr runs past the end of the payload"),
        (b"\xff\xff\xff\xffabc", 0, "longstr runs past the end of the payload"),
        (b"-\x00\x00\x00\x02a", 1, "longstr runs past the end of the payload"),
    ],
)
def test_decode_truncated_longstr_raises_frame_error(
    buf: bytes, offset: int, reason: str
) -> None:
    with pytest.raises(FrameDecodeError) as info:
        decode_longstr(buf, offset)
    assert info.value.reply_code == 501
    assert (info.value.reason, info.value.offset) == (reason, offset)


# -- timestamps --------------------------------------------------------------


def test_naive_datetime_is_taken_as_utc() -> None:
    assert datetime_to_timestamp(datetime.datetime(2020, 1, 1)) == 1577836800
    assert datetime_to_timestamp(datetime.datetime(1970, 1, 1)) == 0


def test_aware_datetime_is_converted_to_utc() -> None:
    plus_two = datetime.timezone(datetime.timedelta(hours=2))
    assert datetime_to_timestamp(datetime.datetime(2020, 1, 1, 2, tzinfo=plus_two)) == (
        1577836800
    )
    assert datetime_to_timestamp(datetime.datetime(2020, 1, 1, tzinfo=UTC)) == (
        1577836800
    )


def test_sub_second_part_is_dropped() -> None:
    moment = datetime.datetime(2020, 1, 1, 0, 0, 0, 999999)
    assert datetime_to_timestamp(moment) == 1577836800


def test_timestamp_decodes_to_aware_utc_datetime() -> None:
    value = timestamp_to_datetime(1577836800)
    assert value == datetime.datetime(2020, 1, 1, tzinfo=UTC)
    assert value.utcoffset() == datetime.timedelta(0)
    assert timestamp_to_datetime(0) == datetime.datetime(1970, 1, 1, tzinfo=UTC)


def test_latest_whole_second_round_trips() -> None:
    latest = datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert timestamp_to_datetime(datetime_to_timestamp(latest)) == latest


@pytest.mark.parametrize(
    "moment",
    [
        datetime.datetime(1969, 12, 31, 23, 59, 59),
        datetime.datetime(1, 1, 1),
        datetime.datetime(
            1970, 1, 1, 0, 59, tzinfo=datetime.timezone(datetime.timedelta(hours=1))
        ),
    ],
)
def test_datetime_before_the_epoch_raises_encode_error(
    moment: datetime.datetime,
) -> None:
    with pytest.raises(EncodeError):
        datetime_to_timestamp(moment)


# SRC BUG: datetime_to_timestamp converts through float total_seconds() and int(),
# which truncates toward zero (a pre-epoch instant within one second of the epoch
# becomes 0) and rounds (datetime.max becomes 253402300800, which no decoder can
# turn back into a datetime).
def test_datetime_less_than_a_second_before_the_epoch_raises_encode_error() -> None:
    with pytest.raises(EncodeError):
        datetime_to_timestamp(datetime.datetime(1969, 12, 31, 23, 59, 59, 500000))


def test_every_encodable_datetime_decodes_back() -> None:
    seconds = datetime_to_timestamp(datetime.datetime.max)
    assert seconds == 253402300799
    assert timestamp_to_datetime(seconds) == datetime.datetime.max.replace(
        microsecond=0, tzinfo=UTC
    )


@pytest.mark.parametrize("seconds", [253402300800, 2**63, 2**64 - 1])
def test_decode_timestamp_beyond_year_9999_raises_syntax_error(seconds: int) -> None:
    with pytest.raises(SyntaxDecodeError) as info:
        timestamp_to_datetime(seconds)
    assert info.value.reply_code == 502


def test_timestamp_property_round_trips() -> None:
    moment = datetime.datetime(2024, 2, 29, 12, 30, 15, tzinfo=UTC)
    payload = BasicProperties(timestamp=moment).encode()
    assert payload == b"\x00\x40" + struct.pack(">Q", 1709209815)
    assert BasicProperties.decode(payload).timestamp == moment


# -- decimals ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (D("0"), (0, 0)),
        (D("1.23"), (2, 123)),
        (D("1.50"), (2, 150)),
        (D("42"), (0, 42)),
        (D("0.001"), (3, 1)),
        (D("1E+2"), (0, 100)),
        (D("4294967295"), (0, 4294967295)),
        (D("4.294967295"), (9, 4294967295)),
        (D((0, (1,), -255)), (255, 1)),
    ],
)
def test_decimal_to_wire(value: decimal.Decimal, wire: tuple[int, int]) -> None:
    assert decimal_to_wire(value) == wire
    back = wire_to_decimal(*wire)
    assert back == value
    assert back.as_tuple().exponent == -wire[0]


@pytest.mark.parametrize(
    "value",
    [D("-1"), D("-0.01"), D("NaN"), D("sNaN"), D("Infinity"), D("-Infinity")],
)
def test_negative_or_non_finite_decimal_raises_encode_error(
    value: decimal.Decimal,
) -> None:
    with pytest.raises(EncodeError):
        decimal_to_wire(value)


@pytest.mark.parametrize(
    "value",
    [
        D("4294967296"),  # unscaled value needs 33 bits
        D("42949672.96"),
        D("1E+10"),  # scale 0 after multiplying out the exponent
        D((0, (1,), -256)),  # scale does not fit an octet
    ],
)
def test_decimal_too_large_raises_encode_error(value: decimal.Decimal) -> None:
    with pytest.raises(EncodeError):
        decimal_to_wire(value)


# SRC BUG: wire_to_decimal uses Decimal.scaleb, which rounds to the caller's
# decimal context: under a lower precision the decoded value is silently wrong,
# and with the Inexact trap set decoding raises decimal.Inexact.
def test_decimal_decoding_ignores_the_ambient_decimal_context() -> None:
    with decimal.localcontext() as context:
        context.prec = 5
        context.traps[decimal.Inexact] = True
        assert wire_to_decimal(2, 4294967295) == D("42949672.95")
        assert wire_to_decimal(255, 4294967295).as_tuple().digits == (
            4, 2, 9, 4, 9, 6, 7, 2, 9, 5,
        )  # fmt: skip


@pytest.mark.parametrize("text", ["\ud800", "ok\udfff"])
def test_text_with_lone_surrogates_raises_encode_error(text: str) -> None:
    # SRC BUG: str.encode() raises UnicodeEncodeError, not EncodeError
    with pytest.raises(EncodeError):
        encode_shortstr(text)
    with pytest.raises(EncodeError):
        encode_longstr(text)
