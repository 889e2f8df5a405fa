"""Inbound content: method + header + body frames -> one complete event.

Spec, 4.2.6: content is a method frame, one content header frame, then body
frames until the header's ``body_size`` is reached; no other frame may appear
on that channel in between (frames of other channels may). The header frame
holds class id, weight (0), body size and the property flags and values.
"""

from __future__ import annotations

import struct
from typing import Final

from ..codec.values import Buffer
from ..spec.constants import ReplyCode
from ..spec.methods import Basic, Method
from ..spec.properties import BasicProperties
from .errors import RemoteProtocolError
from .events import DeliveryReceived, Event, MessageReturned
from .states import (
    CONTENT_TRANSITIONS,
    CONTENT_VIOLATION_CODE,
    ContentAction,
    ContentInput,
    ContentState,
    InvalidTransition,
    StateMachine,
)

__all__ = ["ContentAssembler"]

_HEADER: Final = struct.Struct(">HHQ")
_BASIC: Final = Basic.CLASS_ID

_METHOD = ContentInput.METHOD
_CONTENT_METHOD = ContentInput.CONTENT_METHOD
_HEADER_IN = ContentInput.HEADER
_HEADER_LAST = ContentInput.HEADER_LAST
_BODY = ContentInput.BODY
_BODY_LAST = ContentInput.BODY_LAST
_COMPLETE = ContentAction.COMPLETE


class ContentAssembler:
    """The content machine of one channel and the message being assembled."""

    __slots__ = (
        "_body_size",
        "_chunks",
        "_method",
        "_properties",
        "_remaining",
        "_request_id",
        "channel_id",
        "machine",
        "max_body_size",
    )

    def __init__(self, channel_id: int, max_body_size: int) -> None:
        self.channel_id = channel_id
        self.max_body_size = max_body_size
        self.machine: StateMachine[ContentState, ContentInput, ContentAction] = (
            StateMachine(ContentState.IDLE, CONTENT_TRANSITIONS)
        )
        self._method: Basic.Deliver | Basic.GetOk | Basic.Return | None = None
        self._properties: BasicProperties | None = None
        self._request_id: int | None = None
        self._body_size = 0
        self._remaining = 0
        self._chunks: list[bytes] = []

    def _fire(
        self, input_: ContentInput, method: Method | None = None
    ) -> ContentAction:
        try:
            return self.machine.fire(input_)
        except InvalidTransition:
            what = method.NAME if method is not None else input_.value
            raise RemoteProtocolError(
                CONTENT_VIOLATION_CODE,
                f"{what} on channel {self.channel_id} while content state is "
                f"{self.machine.state.value}",
                method.CLASS_ID if method is not None else 0,
                method.METHOD_ID if method is not None else 0,
            ) from None

    def method(self, method: Method) -> None:
        """A method without content arrived; legal only between messages."""
        self._fire(_METHOD, method)

    def begin(
        self,
        method: Basic.Deliver | Basic.GetOk | Basic.Return,
        request_id: int | None,
    ) -> None:
        """A content-carrying method arrived: expect its header next."""
        self._fire(_CONTENT_METHOD, method)
        self._method = method
        self._request_id = request_id

    def header(self, payload: Buffer) -> Event | None:
        """A header frame; returns the event when the body is empty."""
        if len(payload) < 14:
            raise RemoteProtocolError(
                ReplyCode.FRAME_ERROR, "content header shorter than 14 bytes"
            )
        class_id, _weight, body_size = _HEADER.unpack_from(payload, 0)
        input_ = _HEADER_LAST if body_size == 0 else _HEADER_IN
        # Check the order first: a stray header is UNEXPECTED_FRAME whatever
        # it contains.
        if self.machine.state is not ContentState.HEADER_WAIT:
            self._fire(input_)
        if class_id != _BASIC:
            raise RemoteProtocolError(
                ReplyCode.FRAME_ERROR,
                f"content header of class {class_id} for a Basic method",
            )
        if self.max_body_size and body_size > self.max_body_size:
            # Not a spec violation but a bound we cannot accept: buffering it
            # would let the peer exhaust memory. resource-error (506): "could
            # not complete the method because it lacked sufficient resources".
            raise RemoteProtocolError(
                ReplyCode.RESOURCE_ERROR,
                f"message body of {body_size} bytes exceeds max_body_size "
                f"{self.max_body_size}",
            )
        self._properties = BasicProperties.decode(payload, 12)
        self._body_size = self._remaining = body_size
        if self._fire(input_) is _COMPLETE:
            return self._complete(b"")
        return None

    def body(self, payload: bytes) -> Event | None:
        """A body frame; returns the event when it completes the body."""
        remaining = self._remaining - len(payload)
        if remaining < 0 and self.machine.state is ContentState.BODY_WAIT:
            raise RemoteProtocolError(
                ReplyCode.FRAME_ERROR,
                f"body frames on channel {self.channel_id} exceed the declared "
                f"size of {self._body_size} bytes",
            )
        if self._fire(_BODY_LAST if remaining == 0 else _BODY) is _COMPLETE:
            chunks = self._chunks
            if chunks:
                # the only copy of a multi-frame body: the pieces are
                # memoryviews of the received chunks when the reader streams
                chunks.append(payload)
                body = b"".join(chunks)
                chunks.clear()
            else:
                body = payload if type(payload) is bytes else bytes(payload)
            return self._complete(body)
        self._remaining = remaining
        self._chunks.append(payload)
        return None

    def _complete(self, body: bytes) -> Event:
        method = self._method
        properties = self._properties
        assert method is not None and properties is not None
        self._method = self._properties = None
        self._remaining = 0
        if type(method) is Basic.Return:
            return MessageReturned(self.channel_id, method, properties, body)
        assert isinstance(method, (Basic.Deliver, Basic.GetOk))
        return DeliveryReceived(
            self.channel_id, method, properties, body, self._request_id
        )
