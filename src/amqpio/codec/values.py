"""AMQP 0-9-1 primitive value types.

Decoders take ``(buf, offset)`` and return ``(value, new_offset)``; they never
slice to advance. Encoders return ``bytes``. Generated method codecs inline
the fixed-width types as precompiled structs and call the string helpers here.
"""

from __future__ import annotations

import datetime
import decimal
import struct
from typing import Final, TypeAlias

from .errors import EncodeError, FrameDecodeError, SyntaxDecodeError

__all__ = [
    "LONG",
    "LONGLONG",
    "OCTET",
    "SHORT",
    "Buffer",
    "datetime_to_timestamp",
    "decimal_to_wire",
    "decode_longstr",
    "decode_shortstr",
    "encode_longstr",
    "encode_shortstr",
    "longstr_bytes",
    "shortstr_bytes",
    "timestamp_to_datetime",
    "wire_to_decimal",
]

Buffer: TypeAlias = bytes | bytearray | memoryview

OCTET: Final = struct.Struct(">B")
SHORT: Final = struct.Struct(">H")
LONG: Final = struct.Struct(">I")
LONGLONG: Final = struct.Struct(">Q")

SHORTSTR_MAX: Final = 255
LONGSTR_MAX: Final = 0xFFFFFFFF
_UTC: Final = datetime.timezone.utc
_EPOCH: Final = datetime.datetime(1970, 1, 1, tzinfo=_UTC)
_ONE_SECOND: Final = datetime.timedelta(seconds=1)
_EXACT: Final = decimal.Context(prec=decimal.MAX_PREC, traps=[decimal.Inexact])


def _utf8(value: str) -> bytes:
    try:
        return value.encode()
    except UnicodeEncodeError as exc:
        raise EncodeError(f"text is not encodable as UTF-8: {exc.reason}") from None


def shortstr_bytes(value: str | bytes) -> bytes:
    """Return the UTF-8 bytes of a shortstr, checking the 255-byte limit."""
    raw = _utf8(value) if isinstance(value, str) else bytes(value)
    if len(raw) > SHORTSTR_MAX:
        raise EncodeError(f"shortstr is {len(raw)} bytes long, the limit is 255")
    return raw


def encode_shortstr(value: str | bytes) -> bytes:
    """Encode a length-prefixed shortstr."""
    raw = shortstr_bytes(value)
    return OCTET.pack(len(raw)) + raw


def longstr_bytes(value: str | bytes | bytearray | memoryview) -> bytes:
    """Return the bytes of a longstr, checking the 32-bit length limit."""
    raw = _utf8(value) if isinstance(value, str) else bytes(value)
    if len(raw) > LONGSTR_MAX:
        raise EncodeError("longstr longer than 2**32 - 1 bytes")
    return raw


def encode_longstr(value: str | bytes | bytearray | memoryview) -> bytes:
    """Encode a length-prefixed longstr."""
    raw = longstr_bytes(value)
    return LONG.pack(len(raw)) + raw


def decode_shortstr(buf: Buffer, offset: int) -> tuple[str, int]:
    """Decode a shortstr at ``offset`` as UTF-8 text."""
    if offset >= len(buf):
        raise FrameDecodeError("shortstr length missing", offset)
    end = offset + 1 + buf[offset]
    if end > len(buf):
        raise FrameDecodeError("shortstr runs past the end of the payload", offset)
    try:
        return bytes(buf[offset + 1 : end]).decode(), end
    except UnicodeDecodeError:
        raise SyntaxDecodeError("shortstr is not valid UTF-8", offset) from None


def decode_longstr(buf: Buffer, offset: int) -> tuple[bytes, int]:
    """Decode a longstr at ``offset`` as raw bytes."""
    if offset + 4 > len(buf):
        raise FrameDecodeError("longstr length missing", offset)
    (size,) = LONG.unpack_from(buf, offset)
    end = offset + 4 + size
    if end > len(buf):
        raise FrameDecodeError("longstr runs past the end of the payload", offset)
    return bytes(buf[offset + 4 : end]), end


def datetime_to_timestamp(value: datetime.datetime) -> int:
    """Seconds since the epoch; a naive datetime is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    # exact integer arithmetic: a float loses whole seconds near the extremes
    seconds = (value - _EPOCH) // _ONE_SECOND
    if not 0 <= seconds <= 0xFFFFFFFFFFFFFFFF:
        raise EncodeError(f"timestamp {value!r} is outside the unsigned 64-bit range")
    return seconds


def timestamp_to_datetime(value: int) -> datetime.datetime:
    """An aware UTC datetime for ``value`` seconds since the epoch."""
    try:
        # an int is converted exactly (no float rounding)
        return datetime.datetime.fromtimestamp(value, _UTC)
    except (OverflowError, OSError, ValueError):
        raise SyntaxDecodeError(f"timestamp {value} is out of range") from None


def decimal_to_wire(value: decimal.Decimal) -> tuple[int, int]:
    """Return ``(scale, unsigned value)`` for an AMQP decimal."""
    sign, _, exponent = value.as_tuple()
    # a NaN or infinity has a str exponent ("n", "N", "F")
    if not isinstance(exponent, int) or (sign and value):
        raise EncodeError(f"decimal {value} must be finite and non-negative")
    if exponent < 0:
        scale = -exponent
        # scaleb only moves the exponent; _EXACT has room for any value
        unscaled = int(_EXACT.scaleb(value, scale))
    else:
        scale = 0
        unscaled = int(value)
    if scale > 255 or unscaled > 0xFFFFFFFF:
        raise EncodeError(f"decimal {value} does not fit scale octet + 32-bit value")
    return scale, abs(unscaled)


def wire_to_decimal(scale: int, unscaled: int) -> decimal.Decimal:
    """Build the Decimal for an AMQP ``(scale, value)`` pair."""
    # built from a string: exact, whatever the caller's decimal context
    return decimal.Decimal(f"{unscaled}E-{scale}")
