"""Field tables and field arrays, with RabbitMQ's value types.

Type octets (RabbitMQ's table of the 0-9-1 errata): ``t`` bool, ``b``/``B``
signed/unsigned 8-bit, ``s``/``u`` signed/unsigned 16-bit, ``I``/``i``
signed/unsigned 32-bit, ``l`` signed 64-bit, ``f``/``d`` float/double, ``D``
decimal, ``S`` long string, ``A`` array, ``T`` timestamp, ``F`` table, ``V``
void and ``x`` byte array.

Python values encode as: bool ``t``, int ``I`` (or ``l`` beyond 32 bits),
float ``d``, Decimal ``D``, str ``S``, bytes-like ``x``, datetime ``T``,
mapping ``F``, list/tuple ``A``, None ``V``. ``S`` decodes to ``str`` when it
is valid UTF-8 and to ``bytes`` otherwise.

Declared sizes are checked against the bytes actually present before any
slice is taken, and nesting is bounded by ``MAX_DEPTH`` so hostile input
cannot exhaust the stack.
"""

from __future__ import annotations

import datetime
import decimal
import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Final, TypeAlias, Union

from .errors import EncodeError, FrameDecodeError, SyntaxDecodeError
from .values import (
    LONG,
    Buffer,
    datetime_to_timestamp,
    decimal_to_wire,
    timestamp_to_datetime,
    wire_to_decimal,
)

__all__ = [
    "MAX_DEPTH",
    "FieldArray",
    "FieldTable",
    "FieldValue",
    "decode_array",
    "decode_table",
    "encode_array",
    "encode_table",
    "read_table",
]

FieldValue: TypeAlias = Union[
    bool,
    int,
    float,
    decimal.Decimal,
    str,
    bytes,
    bytearray,
    memoryview,
    datetime.datetime,
    "FieldTable",
    "FieldArray",
    None,
]
FieldTable: TypeAlias = Mapping[str, FieldValue]
FieldArray: TypeAlias = Sequence[FieldValue]

MAX_DEPTH: Final = 64
EMPTY_TABLE: Final = b"\x00\x00\x00\x00"

_B: Final = struct.Struct(">B")
_BB: Final = struct.Struct(">cB")
_Bb: Final = struct.Struct(">cb")
_Bh: Final = struct.Struct(">ch")
_BH: Final = struct.Struct(">cH")
_Bi: Final = struct.Struct(">ci")
_BI: Final = struct.Struct(">cI")
_Bq: Final = struct.Struct(">cq")
_BQ: Final = struct.Struct(">cQ")
_Bf: Final = struct.Struct(">cf")
_Bd: Final = struct.Struct(">cd")
_BBI: Final = struct.Struct(">cBI")
_b: Final = struct.Struct(">b")
_h: Final = struct.Struct(">h")
_H: Final = struct.Struct(">H")
_i: Final = struct.Struct(">i")
_q: Final = struct.Struct(">q")
_Q: Final = struct.Struct(">Q")
_f: Final = struct.Struct(">f")
_d: Final = struct.Struct(">d")
_BI_DEC: Final = struct.Struct(">BI")
_LONG_UNPACK: Final = LONG.unpack_from
_pack_key: Final = _B.pack
_pack_double: Final = _Bd.pack
_DOUBLE_UNPACK: Final = _d.unpack_from
_pack_size: Final = LONG.pack
_pack_long_head: Final = _BI.pack
_pack_int_head: Final = _Bi.pack
_INT32_UNPACK: Final = _i.unpack_from
_INT64_UNPACK: Final = _q.unpack_from

_TRUE: Final = b"t\x01"
_FALSE: Final = b"t\x00"
_VOID: Final = b"V"


# -- encoding -------------------------------------------------------------
#
# Each value encoder returns the complete encoding of one value, type octet
# included; tables and arrays are built as a list of pieces joined once.


def _enc_str(value: str, depth: int) -> bytes:
    raw = value.encode()
    return _pack_long_head(b"S", len(raw)) + raw


def _enc_int(value: int, depth: int) -> bytes:
    if -0x80000000 <= value <= 0x7FFFFFFF:
        return _pack_int_head(b"I", value)
    if -0x8000000000000000 <= value <= 0x7FFFFFFFFFFFFFFF:
        return _Bq.pack(b"l", value)
    raise EncodeError(f"integer {value} does not fit a signed 64-bit field")


def _enc_bool(value: bool, depth: int) -> bytes:
    return _TRUE if value else _FALSE


def _enc_float(value: float, depth: int) -> bytes:
    return _Bd.pack(b"d", value)


def _enc_bytes(value: bytes | bytearray | memoryview, depth: int) -> bytes:
    raw = bytes(value)
    return _pack_long_head(b"x", len(raw)) + raw


def _enc_decimal(value: decimal.Decimal, depth: int) -> bytes:
    scale, unscaled = decimal_to_wire(value)
    return _BBI.pack(b"D", scale, unscaled)


def _enc_datetime(value: datetime.datetime, depth: int) -> bytes:
    return _BQ.pack(b"T", datetime_to_timestamp(value))


def _enc_none(value: None, depth: int) -> bytes:
    return _VOID


def _enc_table(value: FieldTable, depth: int) -> bytes:
    return b"F" + _encode_table(value, depth + 1)


def _enc_array(value: FieldArray, depth: int) -> bytes:
    return b"A" + _encode_array(value, depth + 1)


_Encoder: TypeAlias = Callable[[FieldValue, int], bytes]

# Exact-type dispatch; subclasses fall back to the isinstance chain.
_ENCODERS: Final[dict[type, _Encoder]] = {
    str: _enc_str,  # type: ignore[dict-item]
    int: _enc_int,  # type: ignore[dict-item]
    bool: _enc_bool,  # type: ignore[dict-item]
    float: _enc_float,  # type: ignore[dict-item]
    bytes: _enc_bytes,  # type: ignore[dict-item]
    bytearray: _enc_bytes,  # type: ignore[dict-item]
    memoryview: _enc_bytes,  # type: ignore[dict-item]
    decimal.Decimal: _enc_decimal,  # type: ignore[dict-item]
    datetime.datetime: _enc_datetime,  # type: ignore[dict-item]
    type(None): _enc_none,  # type: ignore[dict-item]
    dict: _enc_table,  # type: ignore[dict-item]
    list: _enc_array,  # type: ignore[dict-item]
    tuple: _enc_array,  # type: ignore[dict-item]
}


def _encoder_for(value: object) -> _Encoder:
    # isinstance order matters: bool is an int.
    if isinstance(value, bool):
        return _ENCODERS[bool]
    if isinstance(value, int):
        return _ENCODERS[int]
    if isinstance(value, float):
        return _ENCODERS[float]
    if isinstance(value, str):
        return _ENCODERS[str]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _ENCODERS[bytes]
    if isinstance(value, decimal.Decimal):
        return _ENCODERS[decimal.Decimal]
    if isinstance(value, datetime.datetime):
        return _ENCODERS[datetime.datetime]
    if isinstance(value, Mapping):
        return _ENCODERS[dict]
    if isinstance(value, Sequence):
        return _ENCODERS[list]
    raise EncodeError(f"cannot encode {type(value).__name__} in a field table")


# Encoded ``len(key) + key`` by key: applications reuse the same few header
# and argument names, so the encode/validate/pack of each key is done once.
_KEY_PREFIXES: dict[str, bytes] = {}
_KEY_CACHE_MAX: Final = 4096


def _key_prefix(key: str) -> bytes:
    if not isinstance(key, str):
        raise EncodeError(f"field table keys are str, not {type(key).__name__}")
    raw = key.encode()
    if len(raw) > 255:
        raise EncodeError(f"field table key {key[:20]!r}... is longer than 255 bytes")
    prefix = _pack_key(len(raw)) + raw
    if len(_KEY_PREFIXES) >= _KEY_CACHE_MAX:
        _KEY_PREFIXES.clear()
    _KEY_PREFIXES[key] = prefix
    return prefix


def _encode_table(table: FieldTable, depth: int) -> bytes:
    if depth > MAX_DEPTH:
        raise EncodeError(f"field table nested deeper than {MAX_DEPTH} levels")
    parts: list[bytes] = []
    append = parts.append
    prefixes = _KEY_PREFIXES
    encoders = _ENCODERS
    for key, value in table.items():
        prefix = prefixes.get(key) or _key_prefix(key)
        kind = type(value)
        # the types real headers and arguments use most are encoded inline
        if kind is str:
            raw = value.encode()  # type: ignore[union-attr]
            append(prefix + _pack_long_head(b"S", len(raw)))
            append(raw)
        elif kind is int and -0x80000000 <= value <= 0x7FFFFFFF:  # type: ignore[operator]
            append(prefix + _pack_int_head(b"I", value))
        elif kind is bool:
            append(prefix + (_TRUE if value else _FALSE))
        elif kind is float:
            append(prefix + _pack_double(b"d", value))
        elif value is None:
            append(prefix + _VOID)
        else:
            append(prefix + (encoders.get(kind) or _encoder_for(value))(value, depth))
    # joining first and prefixing the size costs one small copy, less than
    # keeping a running total in the loop
    body = b"".join(parts)
    if len(body) > 0xFFFFFFFF:
        raise EncodeError("field table larger than 2**32 - 1 bytes")
    return _pack_size(len(body)) + body


def _encode_array(array: FieldArray, depth: int) -> bytes:
    if depth > MAX_DEPTH:
        raise EncodeError(f"field array nested deeper than {MAX_DEPTH} levels")
    encoders = _ENCODERS
    body = b"".join(
        [
            (encoders.get(type(value)) or _encoder_for(value))(value, depth)
            for value in array
        ]
    )
    if len(body) > 0xFFFFFFFF:
        raise EncodeError("field array larger than 2**32 - 1 bytes")
    return _pack_size(len(body)) + body


def encode_table(table: FieldTable | None) -> bytes:
    """Encode a field table, including its 32-bit size prefix.

    Raises :class:`~amqpio.codec.errors.EncodeError` for values that cannot
    go on the wire.
    """
    if not table:
        return EMPTY_TABLE
    try:
        return _encode_table(table, 0)
    except (UnicodeEncodeError, struct.error) as exc:
        raise EncodeError(f"field table value cannot be encoded: {exc}") from None


def encode_array(array: FieldArray) -> bytes:
    """Encode a field array, including its 32-bit size prefix."""
    try:
        return _encode_array(array, 0)
    except (UnicodeEncodeError, struct.error) as exc:
        raise EncodeError(f"field array value cannot be encoded: {exc}") from None


# -- decoding -------------------------------------------------------------
#
# Value decoders take (buf, offset, end, depth) where ``offset`` points just
# past the type octet and ``end`` is the end of the enclosing table/array;
# they return (value, new_offset). Fixed-width reads past ``end`` are caught
# by the enclosing loop's final ``offset == end`` check (the bytes are still
# inside the payload); variable-size values check ``end`` before slicing.


def _check(end_of_value: int, end: int, offset: int, what: str) -> None:
    if end_of_value > end:
        raise FrameDecodeError(f"{what} runs past the end of its table", offset)


def _dec_bool(buf: bytes, o: int, end: int, depth: int) -> tuple[FieldValue, int]:
    return buf[o] != 0, o + 1


def _dec_int8(buf: bytes, o: int, end: int, depth: int) -> tuple[FieldValue, int]:
    return _b.unpack_from(buf, o)[0], o + 1


def _dec_uint8(buf: bytes, o: int, end: int, depth: int) -> tuple[FieldValue, int]:
    return buf[o], o + 1


def _dec_int16(buf: bytes, o: int, end: int, depth: int) -> tuple[FieldValue, int]:
    return _h.unpack_from(buf, o)[0], o + 2


def _dec_uint16(buf: bytes, o: int, end: int, depth: int) -> tuple[FieldValue, int]:
    return _H.unpack_from(buf, o)[0], o + 2


def _dec_int32(buf: bytes, o: int, end: int, depth: int) -> tuple[FieldValue, int]:
    return _i.unpack_from(buf, o)[0], o + 4


def _dec_uint32(buf: bytes, o: int, end: int, depth: int) -> tuple[FieldValue, int]:
    return LONG.unpack_from(buf, o)[0], o + 4


def _dec_int64(buf: bytes, o: int, end: int, depth: int) -> tuple[FieldValue, int]:
    return _q.unpack_from(buf, o)[0], o + 8


def _dec_float(buf: bytes, o: int, end: int, depth: int) -> tuple[FieldValue, int]:
    return _f.unpack_from(buf, o)[0], o + 4


def _dec_double(buf: bytes, o: int, end: int, depth: int) -> tuple[FieldValue, int]:
    return _d.unpack_from(buf, o)[0], o + 8


def _dec_decimal(buf: bytes, o: int, end: int, depth: int) -> tuple[FieldValue, int]:
    scale, unscaled = _BI_DEC.unpack_from(buf, o)
    return wire_to_decimal(scale, unscaled), o + 5


def _dec_longstr(buf: bytes, o: int, end: int, depth: int) -> tuple[FieldValue, int]:
    (size,) = LONG.unpack_from(buf, o)
    stop = o + 4 + size
    _check(stop, end, o, "long string")
    raw = buf[o + 4 : stop]
    try:
        return raw.decode(), stop
    except UnicodeDecodeError:
        return raw, stop


def _dec_bytes(buf: bytes, o: int, end: int, depth: int) -> tuple[FieldValue, int]:
    (size,) = LONG.unpack_from(buf, o)
    stop = o + 4 + size
    _check(stop, end, o, "byte array")
    return buf[o + 4 : stop], stop


def _dec_timestamp(buf: bytes, o: int, end: int, depth: int) -> tuple[FieldValue, int]:
    return timestamp_to_datetime(_Q.unpack_from(buf, o)[0]), o + 8


def _dec_void(buf: bytes, o: int, end: int, depth: int) -> tuple[FieldValue, int]:
    return None, o


def _dec_table(buf: bytes, o: int, end: int, depth: int) -> tuple[FieldValue, int]:
    return _decode_table(buf, o, end, depth + 1)


def _dec_array(buf: bytes, o: int, end: int, depth: int) -> tuple[FieldValue, int]:
    return _decode_array(buf, o, end, depth + 1)


_Decoder: TypeAlias = Callable[[bytes, int, int, int], tuple[FieldValue, int]]

_DECODERS: Final[dict[int, _Decoder]] = {
    ord("t"): _dec_bool,
    ord("b"): _dec_int8,
    ord("B"): _dec_uint8,
    ord("s"): _dec_int16,
    ord("u"): _dec_uint16,
    ord("I"): _dec_int32,
    ord("i"): _dec_uint32,
    ord("l"): _dec_int64,
    ord("f"): _dec_float,
    ord("d"): _dec_double,
    ord("D"): _dec_decimal,
    ord("S"): _dec_longstr,
    ord("A"): _dec_array,
    ord("T"): _dec_timestamp,
    ord("F"): _dec_table,
    ord("V"): _dec_void,
    ord("x"): _dec_bytes,
}


def _decode_value(buf: bytes, o: int, end: int, depth: int) -> tuple[FieldValue, int]:
    if o >= end:
        raise FrameDecodeError("field value type missing", o)
    decoder = _DECODERS.get(buf[o])
    if decoder is None:
        raise SyntaxDecodeError(f"unknown field value type {buf[o]:#04x}", o)
    return decoder(buf, o + 1, end, depth)


# Decoded keys by their bytes: the same few header names arrive again and
# again, and a dict lookup is cheaper than decoding UTF-8. Bounded, since the
# keys come from the peer.
_DECODED_KEYS: dict[bytes, str] = {}


def _decoded_key(raw: bytes) -> str:
    key = raw.decode()
    if len(_DECODED_KEYS) >= _KEY_CACHE_MAX:
        _DECODED_KEYS.clear()
    _DECODED_KEYS[raw] = key
    return key


def _decode_table(
    buf: bytes, offset: int, outer_end: int = -1, depth: int = 0
) -> tuple[dict[str, FieldValue], int]:
    # The hot path: the value types RabbitMQ and aio-pika put in headers
    # most often are decoded inline; the rest go through _DECODERS.
    if depth > MAX_DEPTH:
        raise SyntaxDecodeError(f"field table nested deeper than {MAX_DEPTH}", offset)
    (size,) = _LONG_UNPACK(buf, offset)
    end = offset + 4 + size
    if outer_end < 0:
        outer_end = len(buf)
    if end > outer_end:
        raise FrameDecodeError("field table runs past the end of its container", offset)
    result: dict[str, FieldValue] = {}
    o = offset + 4
    decoded_keys = _DECODED_KEYS
    while o < end:
        key_end = o + 1 + buf[o]
        # the key and its type octet must both lie inside the table
        if key_end >= end:
            raise FrameDecodeError("field table key runs past the end of its table", o)
        raw_key = buf[o + 1 : key_end]
        key = decoded_keys.get(raw_key)
        if key is None:
            try:
                key = _decoded_key(raw_key)
            except UnicodeDecodeError:
                raise SyntaxDecodeError(
                    "field table key is not valid UTF-8", o
                ) from None
        kind = buf[key_end]
        o = key_end + 1
        if kind == 0x53:  # S
            (size,) = _LONG_UNPACK(buf, o)
            start = o + 4
            o = start + size
            if o > end:
                # at its length field, as the other variable-size values
                raise FrameDecodeError(
                    "long string runs past the end of its table", start - 4
                )
            raw = buf[start:o]
            try:
                result[key] = raw.decode()
            except UnicodeDecodeError:
                result[key] = raw
        elif kind == 0x49:  # I
            result[key] = _INT32_UNPACK(buf, o)[0]
            o += 4
        elif kind == 0x74:  # t
            result[key] = buf[o] != 0
            o += 1
        elif kind == 0x6C:  # l
            result[key] = _INT64_UNPACK(buf, o)[0]
            o += 8
        elif kind == 0x64:  # d
            result[key] = _DOUBLE_UNPACK(buf, o)[0]
            o += 8
        elif kind == 0x46:  # F
            result[key], o = _decode_table(buf, o, end, depth + 1)
        elif kind == 0x56:  # V
            result[key] = None
        else:
            decoder = _DECODERS.get(kind)
            if decoder is None:
                raise SyntaxDecodeError(
                    f"unknown field value type {kind:#04x}", key_end
                )
            result[key], o = decoder(buf, o, end, depth)
    if o != end:
        raise FrameDecodeError("field table value runs past the end of its table", o)
    return result, end


def _decode_array(
    buf: bytes, offset: int, outer_end: int, depth: int
) -> tuple[list[FieldValue], int]:
    if depth > MAX_DEPTH:
        raise SyntaxDecodeError(f"field array nested deeper than {MAX_DEPTH}", offset)
    (size,) = LONG.unpack_from(buf, offset)
    start = offset + 4
    end = start + size
    _check(end, outer_end, offset, "field array")
    result: list[FieldValue] = []
    o = start
    while o < end:
        value, o = _decode_value(buf, o, end, depth)
        result.append(value)
    if o != end:
        raise FrameDecodeError("field array value runs past the end of its array", o)
    return result, end


#: ``read_table(buf, offset)``: ``decode_table`` for generated codecs that map
#: struct/index errors themselves. It skips the wrapper's buffer normalisation
#: and exception mapping: a truncated table raises ``struct.error`` or
#: ``IndexError``, and ``buf`` must be ``bytes``.
read_table: Final = _decode_table


def decode_table(
    buf: Buffer, offset: int = 0, end: int | None = None
) -> tuple[dict[str, FieldValue], int]:
    """Decode the field table at ``offset``; return ``(table, new_offset)``.

    Raises only :class:`~amqpio.codec.errors.DecodeError` subclasses.
    """
    data = buf if isinstance(buf, bytes) else bytes(buf)
    try:
        limit = len(data) if end is None else min(end, len(data))
        return _decode_table(data, offset, limit, 0)
    except (struct.error, IndexError):
        raise FrameDecodeError("truncated field table", offset) from None


def decode_array(
    buf: Buffer, offset: int = 0, end: int | None = None
) -> tuple[list[FieldValue], int]:
    """Decode the field array at ``offset``; return ``(array, new_offset)``."""
    data = buf if isinstance(buf, bytes) else bytes(buf)
    try:
        limit = len(data) if end is None else min(end, len(data))
        return _decode_array(data, offset, limit, 0)
    except (struct.error, IndexError):
        raise FrameDecodeError("truncated field array", offset) from None
