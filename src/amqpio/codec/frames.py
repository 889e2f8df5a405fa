"""Frames: the 7-byte header, payload and frame-end octet, in both directions.

``FrameReader`` is incremental: feed it byte chunks of any size and pull
complete frames out; ``None`` means "need more bytes". Chunks are queued
and joined only once enough bytes for the next frame are present, so a large
frame arriving in many small reads costs one copy, not one per read. The
declared payload size is checked against ``frame_max`` as soon as the header
is complete, before anything waits on (or buffers toward) that size: with the
frames read after each chunk, at most one frame of ``frame_max`` bytes plus
that chunk is ever buffered.
"""

from __future__ import annotations

import struct
from typing import Final, NamedTuple

from .errors import EncodeError, FrameDecodeError
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
_unpack_header: Final = _HEADER.unpack_from
_pack_header: Final = _HEADER.pack
# frame-end of the method frame + content header frame header + its fixed fields
_pack_content_head: Final = struct.Struct(">BBHIHHQ").pack
_END: Final = b"\xce"
# frame-end of the previous frame + the next frame's header
_pack_end_header: Final = struct.Struct(">BBHI").pack
#: body frames from this size on are handed out as memoryviews (streaming)
_VIEW_MIN: Final = 16384
HEARTBEAT_FRAME: Final = b"\x08\x00\x00\x00\x00\x00\x00\xce"
_KNOWN_TYPES: Final = frozenset(
    (FRAME_METHOD, FRAME_HEADER, FRAME_BODY, FRAME_HEARTBEAT)
)


class Frame(NamedTuple):
    """One frame as read off the wire; ``payload`` excludes header and frame-end."""

    frame_type: int
    channel: int
    payload: bytes


_new_frame: Final = tuple.__new__


class FrameReader:
    """Incremental frame parser over a stream of byte chunks.

    With ``stream_bodies`` set, a body frame that is not complete in the
    bytes received so far is returned in pieces as they arrive (each a
    ``(FRAME_BODY, channel, piece)`` like a smaller body frame; the last piece
    is returned once the frame-end octet is checked), and large body payloads
    are memoryviews of the received chunks: a multi-megabyte message is then
    copied once, when its body is assembled, instead of being joined chunk by
    chunk and sliced again.
    """

    __slots__ = (
        "_body_channel",
        "_body_left",
        "_buf",
        "_chunks",
        "_failed",
        "_frame_max",
        "_need",
        "_payload_max",
        "_pending",
        "_pos",
        "_view_min",
    )

    def __init__(
        self, frame_max: int = FRAME_MIN_SIZE, *, stream_bodies: bool = False
    ) -> None:
        self._buf = b""
        self._pos = 0
        self._chunks: list[bytes] = []
        self._pending = 0  # bytes queued in _chunks
        self._need = _HEADER.size  # bytes from _pos required before progress
        self._failed: FrameDecodeError | None = None
        self._frame_max = 0
        self._payload_max = 0
        # streaming: payload bytes still to come in the current body frame
        self._body_left = 0
        self._body_channel = 0
        # body payloads of at least this size are returned as memoryviews
        self._view_min = _VIEW_MIN if stream_bodies else 1 << 40
        self.frame_max = frame_max

    @property
    def frame_max(self) -> int:
        """Largest acceptable frame including header and frame-end; 0 = no limit."""
        return self._frame_max

    @frame_max.setter
    def frame_max(self, value: int) -> None:
        self._frame_max = value
        self._payload_max = value - FRAME_OVERHEAD if value else 0xFFFFFFFF

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as frames."""
        return len(self._buf) - self._pos + self._pending

    def feed(self, data: Buffer) -> None:
        """Queue a chunk of received bytes (dropped once the reader has failed)."""
        if not data or self._failed is not None:
            # a failed stream is unreadable: keeping what a peer sends after
            # the fault would only grow memory until the socket closes
            return
        if self._pos == len(self._buf) and not self._pending:
            # everything so far was consumed: take the chunk as the buffer
            self._buf = bytes(data)
            self._pos = 0
        else:
            chunk = bytes(data)  # len() of a memoryview counts items, not bytes
            self._chunks.append(chunk)
            self._pending += len(chunk)

    def read_frame(self) -> Frame | None:
        """Return the next complete frame, or ``None`` when more bytes are needed.

        Raises :class:`FrameDecodeError` on a malformed frame; the reader stays
        failed afterwards (the connection must be closed).
        """
        buf = self._buf
        pos = self._pos
        if len(buf) - pos >= 7 and self._failed is None and not self._body_left:
            # fast path: a whole, valid non-heartbeat frame is already buffered
            frame_type, channel, size = _unpack_header(buf, pos)
            end = pos + 7 + size
            if (
                end < len(buf)
                and 0 < frame_type < 4
                and size <= self._payload_max
                and buf[end] == FRAME_END
            ):
                self._pos = end + 1
                if frame_type == 3 and size >= self._view_min:
                    return _new_frame(
                        Frame, (3, channel, memoryview(buf)[pos + 7 : end])
                    )
                return _new_frame(Frame, (frame_type, channel, buf[pos + 7 : end]))
        frame = self._read_slow()
        return None if frame is None else _new_frame(Frame, frame)

    def read_frames(self) -> list[tuple[int, int, bytes]]:
        """Every complete frame buffered now, as ``(frame_type, channel, payload)``.

        The batch form of :meth:`read_frame` for drivers that handle a whole
        ``data_received`` chunk at once. A malformed frame after good ones ends
        the batch; the error is raised by the next call.
        """
        frames: list[tuple[int, int, bytes]] = []
        append = frames.append
        payload_max = self._payload_max
        view_min = self._view_min
        while True:
            buf = self._buf
            pos = self._pos
            size_buf = len(buf)
            # fast path over whole, valid non-heartbeat frames ("FRAME_END" is
            # the literal 0xCE here: a global lookup per frame is measurable)
            last = size_buf - 7 if self._failed is None and not self._body_left else -1
            view = None
            while pos <= last:
                frame_type, channel, size = _unpack_header(buf, pos)
                end = pos + 7 + size
                if (
                    end < size_buf
                    and 0 < frame_type < 4
                    and size <= payload_max
                    and buf[end] == 0xCE
                ):
                    if frame_type == 3 and size >= view_min:
                        if view is None:
                            view = memoryview(buf)
                        append((3, channel, view[pos + 7 : end]))  # type: ignore[arg-type]
                    else:
                        append((frame_type, channel, buf[pos + 7 : end]))
                    pos = end + 1
                else:
                    break
            self._pos = pos
            if pos == size_buf and not self._pending and not self._body_left:
                return frames  # the common case: every byte consumed
            # everything else: partial frames, heartbeats, errors
            try:
                frame = self._read_slow()
            except FrameDecodeError:
                if frames:
                    return frames
                raise
            if frame is None:
                return frames
            append(frame)

    def _next_chunk(self) -> bool:
        """Append the next queued chunk to what is left of the buffer."""
        if not self._chunks:
            return False
        chunk = self._chunks.pop(0)
        self._pending -= len(chunk)
        rest = len(self._buf) - self._pos
        self._buf = self._buf[self._pos :] + chunk if rest else chunk
        self._pos = 0
        return True

    def _read_slow(self) -> tuple[int, int, bytes] | None:
        if self._failed is not None:
            raise self._failed
        if self._body_left:
            return self._body_piece()
        buf = self._buf
        pos = self._pos
        avail = len(buf) - pos
        if avail < self._need:
            if avail + self._pending < self._need:
                return None
            if self._need == 7:
                # only the header is missing: join what it straddles, not more
                while len(self._buf) - self._pos < 7:
                    self._next_chunk()
            else:
                self._chunks.insert(0, buf[pos:])
                self._buf = b"".join(self._chunks)
                self._chunks.clear()
                self._pending = 0
                self._pos = 0
            buf = self._buf
            pos = self._pos
            avail = len(buf) - pos
        frame_type, channel, size = _unpack_header(buf, pos)
        if frame_type not in _KNOWN_TYPES:
            raise self._fail(f"unknown frame type {frame_type}", pos)
        if size > self._payload_max:
            raise self._fail(
                f"frame of {size + FRAME_OVERHEAD} bytes exceeds frame_max "
                f"{self._frame_max}",
                pos,
            )
        if frame_type == FRAME_HEARTBEAT and size:
            raise self._fail("heartbeat frame with a payload", pos)
        end = pos + 7 + size
        if end >= len(buf):
            if frame_type == FRAME_BODY and size >= self._view_min:
                # stream the body frame: hand out what is here, the rest later
                self._body_left = size
                self._body_channel = channel
                self._pos = pos + 7
                self._need = 7
                return self._body_piece()
            self._need = end + 1 - pos
            if self._need > avail + self._pending:
                return None
            return self._read_slow()
        if buf[end] != FRAME_END:
            raise self._fail(f"frame-end octet is {buf[end]:#04x}, not 0xce", end)
        self._pos = end + 1
        self._need = 7
        return (frame_type, channel, buf[pos + 7 : end])

    def _body_piece(self) -> tuple[int, int, bytes] | None:
        """The next piece of the body frame being streamed, if any is here.

        The piece that ends the frame is returned only with its frame-end
        octet present and checked.
        """
        left = self._body_left
        while True:
            buf = self._buf
            pos = self._pos
            avail = len(buf) - pos
            if avail > left:
                end = pos + left
                if buf[end] != FRAME_END:
                    raise self._fail(
                        f"frame-end octet is {buf[end]:#04x}, not 0xce", end
                    )
                self._body_left = 0
                self._pos = end + 1
                return (FRAME_BODY, self._body_channel, memoryview(buf)[pos:end])  # type: ignore[return-value]
            take = min(avail, left - 1)
            if take:
                self._body_left = left - take
                self._pos = pos + take
                piece = buf if take == len(buf) else memoryview(buf)[pos : pos + take]
                return (FRAME_BODY, self._body_channel, piece)  # type: ignore[return-value]
            if not self._next_chunk():
                return None

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
    if frame_max:
        if frame_max <= FRAME_OVERHEAD:
            raise EncodeError(f"frame_max {frame_max} leaves no room for a body")
        # method and header frames cannot be split: too large is an error here,
        # not a FRAME_ERROR that closes the whole connection at the broker
        if len(method_payload) + FRAME_OVERHEAD > frame_max:
            raise EncodeError(
                f"method frame of {len(method_payload) + FRAME_OVERHEAD} bytes "
                f"exceeds frame_max {frame_max}"
            )
        if len(properties_payload) + 12 + FRAME_OVERHEAD > frame_max:
            raise EncodeError(
                f"content header of {len(properties_payload) + 12 + FRAME_OVERHEAD} "
                f"bytes (properties, e.g. headers, too large) exceeds frame_max "
                f"{frame_max}"
            )
    chunk = frame_max - FRAME_OVERHEAD if frame_max else size
    method_head = _pack_header(FRAME_METHOD, channel, len(method_payload))
    content_head = _pack_content_head(
        FRAME_END,
        FRAME_HEADER,
        channel,
        12 + len(properties_payload),
        class_id,
        0,
        size,
    )
    if 0 < size <= chunk:
        # the common case: one body frame; the body itself is not copied
        body_head = _pack_end_header(FRAME_END, FRAME_BODY, channel, size)
        return [
            b"".join(
                (
                    method_head,
                    method_payload,
                    content_head,
                    properties_payload,
                    body_head,
                )
            ),
            body,
            _END,
        ]
    head = b"".join(
        (method_head, method_payload, content_head, properties_payload, _END)
    )
    if not size:
        return [head]
    view = memoryview(body)
    parts: list[Buffer] = [head]
    for start in range(0, size, chunk):
        piece = view[start : start + chunk]
        parts.append(_HEADER.pack(FRAME_BODY, channel, len(piece)))
        parts.append(piece)
        parts.append(_END)
    return parts
