"""One channel: its state, synchronous requests, consumers and confirms.

Outbound order is command order. At most one synchronous request per channel
is on the wire (spec 2.3.5.1 / lapin's expected-replies FIFO); later requests
wait in ``_held``, and so does every other frame of a command issued after a
waiting request, so that the broker sees the channel's commands in the order
they were made. When the outstanding reply arrives the held frames are sent
up to and including the next request.

Publisher confirms (RabbitMQ extension): after Confirm.Select every publish
gets the next delivery tag, starting at 1. Outstanding tags are the range
``[_low, _next_tag)`` minus ``_settled`` (tags confirmed out of order), so
neither publishing nor confirming allocates per message.
"""

from __future__ import annotations

import struct
from collections import deque
from typing import Final

from ..codec.frames import encode_content, encode_method_frame
from ..codec.values import Buffer
from ..spec.constants import ReplyCode
from ..spec.methods import Basic, Channel, Confirm, Method, Tx
from ..spec.properties import BasicProperties
from .content import ContentAssembler
from .errors import LocalProtocolError, RemoteProtocolError
from .events import (
    ChannelClosed,
    ChannelFlowChanged,
    ChannelOpened,
    ConsumerCancelled,
    Event,
    PublishAcked,
    PublishNacked,
    ReplyReceived,
)
from .states import (
    CHANNEL_METHOD_INPUTS,
    CHANNEL_TRANSITIONS,
    CHANNEL_VIOLATION_CODES,
    ChannelAction,
    ChannelInput,
    ChannelState,
    InvalidTransition,
    StateMachine,
)

__all__ = ["ChannelCore", "Request", "Sink"]

#: Methods with a dedicated command (or none): send_method refuses them.
_NOT_VIA_SEND_METHOD: Final = frozenset(
    (Channel.Open, Channel.Close, Channel.CloseOk, Channel.FlowOk, Basic.Publish)
)
_EMPTY_PROPERTIES: Final = BasicProperties().encode()
# a whole Basic.Ack frame: header (size 13), class 60, method 80, tag, bits, end
_pack_ack: Final = struct.Struct(">BHIHHQBB").pack

# Encoded Basic.Publish payloads: an application publishes to a handful of
# (exchange, routing key) pairs again and again. Bounded: cleared when full.
_PUBLISH_CACHE: dict[tuple[str, str, bool, bool], bytes] = {}
_PUBLISH_CACHE_SIZE: Final = 1024


def _publish_payload(
    exchange: str, routing_key: str, mandatory: bool, immediate: bool
) -> bytes:
    key = (exchange, routing_key, mandatory, immediate)
    payload = _PUBLISH_CACHE.get(key)
    if payload is None:
        payload = Basic.Publish(exchange, routing_key, mandatory, immediate).encode()
        if len(_PUBLISH_CACHE) >= _PUBLISH_CACHE_SIZE:
            _PUBLISH_CACHE.clear()
        _PUBLISH_CACHE[key] = payload
    return payload


_SEND = ChannelInput.SEND
_METHOD = ChannelInput.METHOD
_CONTENT = ChannelInput.CONTENT
_OPEN = ChannelState.OPEN


def responses_of(method_class: type[Method]) -> tuple[type[Method], ...]:
    """The replies that answer ``method_class`` (empty if asynchronous)."""
    return method_class.RESPONSES


class Sink:
    """Where a connection's channels put outbound buffers and events.

    ``sent`` records that bytes were queued since the last look at the
    clock, so that traffic counts as "sent" for the heartbeat. ``size``
    counts the bytes in ``parts`` and ``held`` those the channels hold back
    behind a pending request (held requests themselves not counted): the
    driver's measure of what it buffers.
    """

    __slots__ = ("events", "held", "parts", "sent", "size")

    def __init__(self) -> None:
        self.parts: list[Buffer] = []
        self.events: list[Event] = []
        self.sent = False
        self.size = 0
        self.held = 0

    def write(self, data: Buffer) -> None:
        self.parts.append(data)
        self.size += len(data)
        self.sent = True


class Request:
    """A synchronous request awaiting its reply."""

    __slots__ = ("frame", "method", "request_id", "responses")

    def __init__(
        self,
        request_id: int,
        method: Method,
        responses: tuple[type[Method], ...],
        frame: bytes,
    ) -> None:
        self.request_id = request_id
        self.method = method
        self.responses = responses
        self.frame = frame


class ChannelCore:
    """The protocol state of one channel number."""

    __slots__ = (
        "_close_reply",
        "_held",
        "_held_bytes",
        "_low",
        "_next_tag",
        "_outstanding",
        "_settled",
        "_sink",
        "channel_id",
        "confirm",
        "consumers",
        "content",
        "flow_active",
        "frame_max",
        "machine",
        "transactional",
    )

    def __init__(
        self, channel_id: int, sink: Sink, frame_max: int, max_body_size: int
    ) -> None:
        self.channel_id = channel_id
        self.frame_max = frame_max
        self._sink = sink
        self.machine: StateMachine[ChannelState, ChannelInput, ChannelAction] = (
            StateMachine(ChannelState.CLOSED, CHANNEL_TRANSITIONS)
        )
        self.content = ContentAssembler(channel_id, max_body_size)
        self._outstanding: Request | None = None
        self._held: deque[Request | list[Buffer]] = deque()
        self._held_bytes = 0
        self.consumers: set[str] = set()
        self.confirm = False
        self.transactional = False
        self.flow_active = True
        self._next_tag = 1
        self._low = 1
        self._settled: set[int] = set()
        self._close_reply: Channel.Close | None = None

    @property
    def state(self) -> ChannelState:
        return self.machine.state

    # -- commands ------------------------------------------------------------

    def _command(self, input_: ChannelInput) -> ChannelAction:
        try:
            return self.machine.fire(input_)
        except InvalidTransition as exc:
            raise LocalProtocolError(f"channel {self.channel_id}: {exc}") from None

    def _check_send(self) -> None:
        if self.machine.state is not _OPEN and not self.machine.allows(_SEND):
            raise LocalProtocolError(
                f"channel {self.channel_id} is {self.machine.state.value}, not open"
            )

    def _send(self, data: Buffer) -> None:
        if self._held:
            self._hold([data], len(data))
        else:
            self._sink.write(data)

    def _hold(self, parts: list[Buffer], size: int) -> None:
        self._held.append(parts)
        self._held_bytes += size
        self._sink.held += size

    def open(self) -> None:
        """Queue Channel.Open."""
        self._command(ChannelInput.OPEN)
        self._sink.write(encode_method_frame(self.channel_id, Channel.Open().encode()))

    def close(
        self, reply_code: int, reply_text: str, class_id: int, method_id: int
    ) -> None:
        """Queue Channel.Close; held frames are dropped, never sent."""
        payload = Channel.Close(reply_code, reply_text, class_id, method_id).encode()
        self._command(ChannelInput.CLOSE)
        # Spec, Channel.Close: after it the peer discards our other methods,
        # so it goes out at once and nothing held follows it.
        self._sink.write(encode_method_frame(self.channel_id, payload))

    def send_method(self, method: Method, request_id: int) -> int | None:
        """Queue ``method``; return ``request_id`` if a reply will follow."""
        cls = type(method)
        if cls in _NOT_VIA_SEND_METHOD or not cls.SENT_BY_CLIENT or cls.CLASS_ID == 10:
            raise ValueError(f"{cls.NAME} cannot be sent with send_method")
        self._check_send()
        no_wait = bool(getattr(method, "no_wait", False))
        if cls is Confirm.Select and self.transactional:
            # Spec (RabbitMQ extension): "A channel in transactional mode
            # cannot be put into confirm mode."
            raise LocalProtocolError(f"channel {self.channel_id} is transactional")
        if cls is Tx.Select and self.confirm:
            raise LocalProtocolError(f"channel {self.channel_id} is in confirm mode")
        if cls is Basic.Consume and no_wait:
            assert isinstance(method, Basic.Consume)
            if not method.consumer_tag:
                raise ValueError("Basic.Consume with no_wait needs a consumer_tag")
        frame = encode_method_frame(self.channel_id, method.encode())
        # Mode changes take effect in command order: every later command
        # reaches the wire after this method.
        if cls is Confirm.Select:
            self.confirm = True
        elif cls is Tx.Select:
            self.transactional = True
        responses = responses_of(cls)
        if no_wait or not responses:
            if isinstance(method, Basic.Consume):
                self.consumers.add(method.consumer_tag)
            elif isinstance(method, Basic.Cancel):
                self.consumers.discard(method.consumer_tag)
            self._send(frame)
            return None
        request = Request(request_id, method, responses, frame)
        if self._outstanding is None and not self._held:
            self._outstanding = request
            self._sink.write(frame)
        else:
            self._held.append(request)
        return request_id

    def publish(
        self,
        exchange: str,
        routing_key: str,
        body: Buffer,
        properties: BasicProperties | bytes | None,
        mandatory: bool,
        immediate: bool,
    ) -> int | None:
        """Queue Basic.Publish with its content; return the delivery tag in
        confirm mode. ``properties`` may be given encoded already."""
        if self.machine.state is not _OPEN:
            self._check_send()
        if not self.flow_active:
            # Spec, Channel.Flow: "the peer that receives [active=false] MUST
            # NOT send content frames" until flow is re-enabled.
            raise LocalProtocolError(f"channel {self.channel_id}: flow is paused")
        parts = encode_content(
            self.channel_id,
            _publish_payload(exchange, routing_key, mandatory, immediate),
            60,
            (
                _EMPTY_PROPERTIES
                if properties is None
                else properties
                if type(properties) is bytes
                else properties.encode()  # type: ignore[union-attr]
            ),
            body,
            self.frame_max,
        )
        # exact, without summing the parts: encode_content returns [head,
        # body, end] for one body frame (head holds its header), else head
        # and (header, piece, end) per body frame
        n = len(parts)
        size = len(parts[0]) + len(body) + (1 if n == 3 else (n - 1) // 3 * 8)
        if self._held:
            self._hold(parts, size)
        else:
            sink = self._sink
            sink.parts.extend(parts)
            sink.size += size
            sink.sent = True
        if self.confirm:
            tag = self._next_tag
            self._next_tag = tag + 1
            return tag
        return None

    def ack(self, delivery_tag: int, multiple: bool) -> None:
        """Queue Basic.Ack (the hot path of consumers: one struct pack)."""
        if self.machine.state is not _OPEN:
            self._check_send()
        self._send(
            _pack_ack(1, self.channel_id, 13, 60, 80, delivery_tag, multiple, 0xCE)
        )

    def send_async(self, method: Method) -> None:
        """Queue an asynchronous method (acks, Basic.RecoverAsync)."""
        self._check_send()
        self._send(encode_method_frame(self.channel_id, method.encode()))

    # -- peer input ----------------------------------------------------------

    def _violation(
        self, method: Method | None, text: str, code: int = 0
    ) -> RemoteProtocolError:
        if not code:
            code = CHANNEL_VIOLATION_CODES[self.machine.state]
        return RemoteProtocolError(
            code,
            f"channel {self.channel_id}: {text}",
            method.CLASS_ID if method is not None else 0,
            method.METHOD_ID if method is not None else 0,
        )

    def _fire(
        self, input_: ChannelInput, method: Method | None, what: str
    ) -> ChannelAction:
        try:
            return self.machine.fire(input_)
        except InvalidTransition:
            raise self._violation(
                method, f"{what} while {self.machine.state.value}"
            ) from None

    def handle_method(self, method: Method) -> None:
        """Process a method frame addressed to this channel."""
        input_ = CHANNEL_METHOD_INPUTS.get(type(method), _METHOD)
        action = self._fire(input_, method, method.NAME)
        if action is ChannelAction.DISPATCH:
            self._dispatch(method)
        elif action is ChannelAction.DISCARD:
            pass
        elif action is ChannelAction.EMIT_OPENED:
            self._sink.events.append(ChannelOpened(self.channel_id))
        elif action is ChannelAction.ANSWER_FLOW:
            assert isinstance(method, Channel.Flow)
            self.content.method(method)
            self.flow_active = method.active
            self._sink.write(
                encode_method_frame(
                    self.channel_id, Channel.FlowOk(method.active).encode()
                )
            )
            self._sink.events.append(ChannelFlowChanged(self.channel_id, method.active))
        elif action is ChannelAction.ANSWER_CLOSE:
            assert isinstance(method, Channel.Close)
            self._send_close_ok()
            self._emit_closed(method, by_broker=True)
        elif action is ChannelAction.ANSWER_CLOSE_WHILE_CLOSING:
            assert isinstance(method, Channel.Close)
            # Both sides closed at once: answer, keep waiting for our CloseOk,
            # and report the broker's reason, the more informative one.
            self._send_close_ok()
            self._close_reply = method
        elif action is ChannelAction.EMIT_CLOSED:
            reply = self._close_reply
            if reply is None:
                self._emit_closed(
                    Channel.Close(ReplyCode.REPLY_SUCCESS), by_broker=False
                )
            else:
                self._emit_closed(reply, by_broker=True)
        else:  # pragma: no cover - the table has no other method actions
            raise AssertionError(action)

    def handle_header(self, payload: bytes) -> None:
        """Process a content header frame."""
        if self._fire(_CONTENT, None, "content header") is ChannelAction.ASSEMBLE:
            event = self.content.header(payload)
            if event is not None:
                self._sink.events.append(event)

    def handle_body(self, payload: bytes) -> None:
        """Process a content body frame."""
        if self._fire(_CONTENT, None, "content body") is ChannelAction.ASSEMBLE:
            event = self.content.body(payload)
            if event is not None:
                self._sink.events.append(event)

    def _send_close_ok(self) -> None:
        self._sink.write(
            encode_method_frame(self.channel_id, Channel.CloseOk().encode())
        )

    def _emit_closed(self, reply: Channel.Close, by_broker: bool) -> None:
        pending = [] if self._outstanding is None else [self._outstanding.request_id]
        pending.extend(r.request_id for r in self._held if isinstance(r, Request))
        unconfirmed = tuple(
            t for t in range(self._low, self._next_tag) if t not in self._settled
        )
        self._outstanding = None
        self._held.clear()
        self._sink.held -= self._held_bytes
        self._held_bytes = 0
        self._sink.events.append(
            ChannelClosed(
                self.channel_id,
                reply.reply_code,
                reply.reply_text,
                reply.class_id,
                reply.method_id,
                by_broker,
                tuple(pending),
                unconfirmed,
            )
        )

    def _dispatch(self, method: Method) -> None:
        cls = type(method)
        if cls is Basic.Deliver or cls is Basic.Return:
            assert isinstance(method, (Basic.Deliver, Basic.Return))
            self.content.begin(method, None)
        elif cls is Basic.Ack or cls is Basic.Nack:
            assert isinstance(method, (Basic.Ack, Basic.Nack))
            self.content.method(method)
            self._confirmed(method)
        elif cls is Basic.Cancel:
            assert isinstance(method, Basic.Cancel)
            self.content.method(method)
            self._cancelled(method)
        else:
            self._reply(method)

    def _reply(self, method: Method) -> None:
        request = self._outstanding
        cls = type(method)
        if request is None or cls not in request.responses:
            expected = (
                "nothing"
                if request is None
                else " or ".join(r.NAME for r in request.responses)
            )
            raise self._violation(
                method,
                f"unexpected {method.NAME}, awaiting {expected}",
                ReplyCode.COMMAND_INVALID,
            )
        if cls is Basic.GetOk:
            assert isinstance(method, Basic.GetOk)
            self.content.begin(method, request.request_id)
        else:
            self.content.method(method)
            if isinstance(method, Basic.ConsumeOk):
                self.consumers.add(method.consumer_tag)
            elif isinstance(method, Basic.CancelOk):
                self.consumers.discard(method.consumer_tag)
            self._sink.events.append(
                ReplyReceived(
                    self.channel_id, request.request_id, request.method, method
                )
            )
        self._outstanding = None
        self._release_held()

    def _release_held(self) -> None:
        held = self._held
        sink = self._sink
        while held:
            item = held.popleft()
            if isinstance(item, Request):
                self._outstanding = item
                sink.write(item.frame)
                return
            size = sum(map(len, item))
            self._held_bytes -= size
            sink.held -= size
            sink.parts.extend(item)
            sink.size += size
            sink.sent = True

    def _cancelled(self, method: Basic.Cancel) -> None:
        # RabbitMQ's consumer_cancel_notify: the broker cancelled a consumer
        # (queue deleted, node failure). Answer unless it asked not to.
        self.consumers.discard(method.consumer_tag)
        if not method.no_wait:
            self._sink.write(
                encode_method_frame(
                    self.channel_id, Basic.CancelOk(method.consumer_tag).encode()
                )
            )
        self._sink.events.append(
            ConsumerCancelled(self.channel_id, method.consumer_tag)
        )

    def _confirmed(self, method: Basic.Ack | Basic.Nack) -> None:
        if not self.confirm:
            raise self._violation(
                method,
                f"{method.NAME} from the broker on a channel not in confirm mode",
                ReplyCode.COMMAND_INVALID,
            )
        event = PublishAcked if type(method) is Basic.Ack else PublishNacked
        tag = method.delivery_tag
        low = self._low
        last = self._next_tag - 1
        settled = self._settled
        events = self._sink.events
        channel_id = self.channel_id
        if method.multiple:
            # Spec, Basic.Ack: "multiple [...] up to and including the
            # delivery tag"; tag 0 with multiple means every outstanding one.
            if tag == 0:
                tag = last
            if tag > last:
                raise self._violation(
                    method,
                    f"{method.NAME} of unpublished delivery tag {tag}",
                    ReplyCode.COMMAND_INVALID,
                )
            if tag < low:
                return
            if settled:
                for t in range(low, tag + 1):
                    if t in settled:
                        settled.discard(t)
                    else:
                        events.append(event(channel_id, t))
            else:
                events.extend([event(channel_id, t) for t in range(low, tag + 1)])
            self._low = tag + 1
            return
        if not low <= tag <= last or tag in settled:
            raise self._violation(
                method,
                f"{method.NAME} of delivery tag {tag}, which is not outstanding",
                ReplyCode.COMMAND_INVALID,
            )
        events.append(event(channel_id, tag))
        if tag == low:
            low += 1
            while low in settled:
                settled.discard(low)
                low += 1
            self._low = low
        else:
            settled.add(tag)
