"""Typed errors raised while decoding or encoding AMQP wire data.

Every decode failure carries the reply code a client should close the
connection with, so the layer above can answer the peer without guessing.
"""

from __future__ import annotations

from typing import ClassVar, Final

__all__ = [
    "FRAME_ERROR",
    "SYNTAX_ERROR",
    "UNEXPECTED_FRAME",
    "DecodeError",
    "EncodeError",
    "FrameDecodeError",
    "SyntaxDecodeError",
    "UnexpectedFrameError",
]

# Reply codes of the spec's hard errors used by the codec. Repeated here
# (the codec may not import the generated spec); a test checks they match.
FRAME_ERROR: Final = 501
SYNTAX_ERROR: Final = 502
UNEXPECTED_FRAME: Final = 505


class DecodeError(Exception):
    """Peer bytes that cannot be decoded.

    ``reply_code`` is the Connection.Close code to answer with, ``offset``
    the position in the examined buffer where decoding failed.
    """

    reply_code: ClassVar[int] = FRAME_ERROR

    def __init__(self, reason: str, offset: int = 0) -> None:
        super().__init__(f"{reason} (at offset {offset})")
        self.reason = reason
        self.offset = offset


class FrameDecodeError(DecodeError):
    """A malformed frame: bad type, size, frame-end octet or truncated payload."""

    reply_code: ClassVar[int] = FRAME_ERROR


class SyntaxDecodeError(DecodeError):
    """A well-framed payload whose field values are illegal."""

    reply_code: ClassVar[int] = SYNTAX_ERROR


class UnexpectedFrameError(DecodeError):
    """A frame of a kind the receiver does not expect at this point."""

    reply_code: ClassVar[int] = UNEXPECTED_FRAME


class EncodeError(ValueError):
    """A value that cannot be represented on the wire (e.g. shortstr > 255 bytes)."""
