"""Frames: the 7-byte header, payload and frame-end octet, in both directions.

``FrameReader`` is incremental: feed it byte chunks of any size and pull
complete frames out; ``None`` means "need more bytes". Chunks are queued
and joined only once enough bytes for the next frame are present, so a large
frame arriving in many small reads costs one copy, not one per read. The
declared payload size is checked against ``frame_max`` as soon as the header
is complete, before anything waits on (or buffers toward) that size.
"""

from __future__ import annotations

import struct
from typing import Final, NamedTuple

from .errors import FrameDecodeError
from .values import Buffer

__all__ = [
    "FRAME_BODY",
    "FRAME_END",
    "FRAME_HEADER",
    "FRAME_HEARTBEAT",
    "FRAME_METHOD",
    "FRAME_MIN_SIZE",
    "FRAME_OVERHEAD",
    "HEARTBEAT_FRAME",
    "PROTOCOL_HEADER",
    "Frame",
    "FrameReader",
    "encode_content",
    "encode_frame",
    "encode_method_frame",
]

FRAME_METHOD: Final = 1
FRAME_HEADER: Final = 2
FRAME_BODY: Final = 3
FRAME_HEARTBEAT: Final = 8
FRAME_END: Final = 0xCE
FRAME_MIN_SIZE: Final = 4096
# 7-byte header + frame-end octet: frame_max counts the whole frame.
FRAME_OVERHEAD: Final = 8
PROTOCOL_HEADER: Final = b"AMQP\x00\x00\x09\x01"

_HEADER: Final = struct.Struct(">BHI")
_CONTENT_HEADER: Final = struct.Struct(">HHQ")
_END: Final = b"\xce"
_END_HEADER: Final = struct.Struct(">BBHI")  # frame-end of previous + next header
HEARTBEAT_FRAME: Final = b"\x08\x00\x00\x00\x00\x00\x00\xce"
_KNOWN_TYPES: Final = frozenset(
    (FRAME_METHOD, FRAME_HEADER, FRAME_BODY, FRAME_HEARTBEAT)
)


class Frame(NamedTuple):
    """One frame as read off the wire; ``payload`` excludes header and frame-end."""

    frame_type: int
    channel: int
    payload: bytes


class FrameReader:
    """Incremental frame parser over a stream of byte chunks."""

    __slots__ = ("_buf", "_chunks", "_failed", "_need", "_pending", "_pos", "frame_max")

    def __init__(self, frame_max: int = FRAME_MIN_SIZE) -> None:
        #: Largest acceptable frame including header and frame-end; 0 = no limit.
        self.frame_max = frame_max
        self._buf = b""
        self._pos = 0
        self._chunks: list[bytes] = []
        self._pending = 0  # bytes queued in _chunks
        self._need = _HEADER.size  # bytes from _pos required before progress
        self._failed: FrameDecodeError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as frames."""
        return len(self._buf) - self._pos + self._pending

    def feed(self, data: Buffer) -> None:
        """Queue a chunk of received bytes."""
        if data:
            self._chunks.append(bytes(data))
            self._pending += len(data)

    def read_frame(self) -> Frame | None:
        """Return the next complete frame, or ``None`` when more bytes are needed.

        Raises :class:`FrameDecodeError` on a malformed frame; the reader stays
        failed afterwards (the connection must be closed).
        """
        if self._failed is not None:
            raise self._failed
        buf = self._buf
        pos = self._pos
        avail = len(buf) - pos
        if avail < self._need:
            if avail + self._pending < self._need:
                return None
            self._chunks.insert(0, buf[pos:])
            buf = self._buf = b"".join(self._chunks)
            self._chunks.clear()
            self._pending = 0
            pos = self._pos = 0
            avail = len(buf)
        if avail < 7:
            self._need = 7
            return None
        frame_type, channel, size = _HEADER.unpack_from(buf, pos)
        if frame_type not in _KNOWN_TYPES:
            raise self._fail(f"unknown frame type {frame_type}", pos)
        end = pos + 7 + size
        if self.frame_max and size + FRAME_OVERHEAD > self.frame_max:
            raise self._fail(
                f"frame of {size + FRAME_OVERHEAD} bytes exceeds frame_max "
                f"{self.frame_max}",
                pos,
            )
        if end >= len(buf):
            if end + 1 - pos > avail + self._pending:
                self._need = end + 1 - pos
                return None
            self._need = end + 1 - pos
            return self.read_frame()
        if buf[end] != FRAME_END:
            raise self._fail(f"frame-end octet is {buf[end]:#04x}, not 0xce", end)
        if frame_type == FRAME_HEARTBEAT and size:
            raise self._fail("heartbeat frame with a payload", pos)
        self._pos = end + 1
        self._need = 7
        return Frame(frame_type, channel, buf[pos + 7 : end])

    def _fail(self, reason: str, offset: int) -> FrameDecodeError:
        self._failed = FrameDecodeError(reason, offset)
        return self._failed


def encode_frame(frame_type: int, channel: int, payload: bytes) -> bytes:
    """Encode one frame of any type."""
    return _HEADER.pack(frame_type, channel, len(payload)) + payload + _END


def encode_method_frame(channel: int, payload: bytes) -> bytes:
    """Encode a method frame around an encoded method payload."""
    return _HEADER.pack(FRAME_METHOD, channel, len(payload)) + payload + _END


def encode_content(
    channel: int,
    method_payload: bytes,
    class_id: int,
    properties_payload: bytes,
    body: Buffer,
    frame_max: int,
) -> list[Buffer]:
    """Encode method + content header + body frames for one write.

    The body is split so that no frame exceeds ``frame_max`` (0 = no limit).
    A body that fits one frame is passed through without copying. Returns the
    buffers in wire order, ready for ``transport.writelines``.
    """
    size = len(body)
    head = b"".join(
        (
            _HEADER.pack(FRAME_METHOD, channel, len(method_payload)),
            method_payload,
            _END_HEADER.pack(
                FRAME_END, FRAME_HEADER, channel, 12 + len(properties_payload)
            ),
            _CONTENT_HEADER.pack(class_id, 0, size),
            properties_payload,
            _END,
        )
    )
    if not size:
        return [head]
    chunk = frame_max - FRAME_OVERHEAD if frame_max else size
    if size <= chunk:
        return [head + _HEADER.pack(FRAME_BODY, channel, size), body, _END]
    view = memoryview(body)
    parts: list[Buffer] = [head]
    for start in range(0, size, chunk):
        piece = view[start : start + chunk]
        parts.append(_HEADER.pack(FRAME_BODY, channel, len(piece)))
        parts.append(piece)
        parts.append(_END)
    return parts
