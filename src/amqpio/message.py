"""Messages: :class:`Message` to publish, :class:`IncomingMessage` as delivered.

Attribute model (aio-pika's, made cheap). aio-pika's ``Message`` is slotted and
overrides ``__setattr__`` so that a locked message refuses new values for its
public attributes. A Python-level ``__setattr__`` costs about 100 ns per
assignment, paid ~25 times for every delivered message. Here every public
attribute is a property over a private slot: the getter is a C-level
``attrgetter``, the setter checks the lock. Constructors write the private
slots directly, so building an :class:`IncomingMessage` costs plain slot
stores; user code sees aio-pika's behaviour (``ValueError("Message is
locked")`` on assignment after :meth:`Message.lock`).

An :class:`IncomingMessage` is built from the broker's method (Basic.Deliver,
Basic.GetOk or Basic.Return), the decoded :class:`~amqpio.spec.BasicProperties`
and the body, without copying the headers table or converting anything but
``expiration`` (milliseconds string to float seconds, as aio-pika does).
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta, timezone
from operator import attrgetter
from pprint import pformat
from types import TracebackType
from typing import Any, Final, Protocol

from .abc import (
    MILLISECONDS,
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractMessage,
    AbstractProcessContext,
    DateType,
    DeliveryMode,
    HeadersType,
    MessageInfo,
)
from .exceptions import ChannelInvalidStateError, MessageProcessError
from .log import get_logger
from .spec import Basic, BasicProperties
from .spec.properties import encode_properties

__all__ = ("DeliveredMessage", "IncomingMessage", "Message", "ReturnedMessage")

log = get_logger(__name__)

_NOT_PERSISTENT: Final = DeliveryMode.NOT_PERSISTENT
_PERSISTENT: Final = DeliveryMode.PERSISTENT
_Deliver: Final = Basic.Deliver
_GetOk: Final = Basic.GetOk


class _MessageChannel(Protocol):
    """What an :class:`IncomingMessage` needs from the channel it came from.

    ``is_closed`` guards ``message.channel`` (closed -> ChannelInvalidStateError,
    as in aio-pika); the three coroutines send Basic.Ack, Basic.Nack and
    Basic.Reject for a delivery tag of that channel.
    """

    @property
    def is_closed(self) -> bool: ...

    async def _ack(self, delivery_tag: int, multiple: bool) -> None: ...

    async def _nack(self, delivery_tag: int, multiple: bool, requeue: bool) -> None: ...

    async def _reject(self, delivery_tag: int, requeue: bool) -> None: ...


class DeliveredMessage(Protocol):
    """What aio-pika's ``IncomingMessage(message)`` reads (aiormq's
    ``DeliveredMessage`` has this shape)."""

    @property
    def delivery(self) -> Any: ...

    @property
    def header(self) -> Any: ...

    @property
    def body(self) -> bytes: ...

    @property
    def channel(self) -> Any: ...


class _AiormqChannel:
    """A channel given to aio-pika's constructor that is not amqpio's: acks go
    through its aiormq methods, as aio-pika's messages do."""

    __slots__ = ("channel",)

    def __init__(self, channel: Any) -> None:
        self.channel = channel

    def __getattr__(self, name: str) -> Any:
        return getattr(self.channel, name)

    @property
    def is_closed(self) -> bool:
        return bool(self.channel.is_closed)

    async def _ack(self, delivery_tag: int, multiple: bool) -> None:
        await self.channel.basic_ack(delivery_tag=delivery_tag, multiple=multiple)

    async def _nack(self, delivery_tag: int, multiple: bool, requeue: bool) -> None:
        await self.channel.basic_nack(
            delivery_tag=delivery_tag, multiple=multiple, requeue=requeue
        )

    async def _reject(self, delivery_tag: int, requeue: bool) -> None:
        await self.channel.basic_reject(delivery_tag=delivery_tag, requeue=requeue)


# -- property conversions (aio-pika's rules) -----------------------------------------


def to_milliseconds(seconds: float) -> int:
    """Seconds to whole milliseconds (truncated)."""
    return int(seconds * MILLISECONDS)


def encode_expiration(value: DateType) -> str | None:
    """``Message.expiration`` to the wire: milliseconds from now, as a string.

    Seconds (int/float) and timedeltas are durations; a datetime is a
    deadline (a deadline already past gives ``"0"``: expire unless delivered
    at once). Raises ``ValueError`` for a negative duration or another type.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        now = datetime.now(tz=value.tzinfo)
        return str(max(0, to_milliseconds((value - now).total_seconds())))
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, timedelta):
        seconds = value.total_seconds()
    else:
        raise ValueError(f"Invalid expiration type: {type(value)!r}", value)
    try:
        ms = to_milliseconds(seconds)
    except (OverflowError, ValueError):  # inf, nan
        raise ValueError(f"expiration must be finite, not {value!r}") from None
    if ms < 0:
        raise ValueError(f"expiration must not be negative, not {value!r}")
    return str(ms)


def decode_expiration(value: str | None) -> float | None:
    """The wire's milliseconds string to seconds (``None`` when absent or invalid)."""
    if not value:
        return None
    try:
        return float(value) / MILLISECONDS
    except ValueError:
        return None


def encode_timestamp(value: DateType) -> datetime | None:
    """``Message(timestamp=...)`` to a datetime.

    A number is a POSIX time (UTC), a timedelta is relative to now.
    """
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    if isinstance(value, timedelta):
        return datetime.now(tz=timezone.utc) + value
    raise ValueError(f"Invalid timestamp type: {type(value)!r}", value)


#: datetime.fromtimestamp's range ends in year 9999
_MAX_POSIX: Final = 253_402_300_800


def _stored_timestamp(value: DateType) -> datetime | float | None:
    """What the ``_timestamp`` slot keeps for ``Message(timestamp=value)``.

    A POSIX time (``time.time()`` in the RPC pattern) is kept as it is: it
    becomes a datetime only if read, and is published as its whole seconds.
    """
    if value is None or isinstance(value, datetime):
        return value
    if (
        isinstance(value, (int, float))
        and type(value) is not bool
        and 0 <= value < _MAX_POSIX
    ):
        return value
    return encode_timestamp(value)


def _timestamp_of(message: Message) -> datetime | None:
    """``message.timestamp``: a stored POSIX time becomes a datetime here."""
    value = message._timestamp
    if value is None or isinstance(value, datetime):
        return value
    value = datetime.fromtimestamp(value, tz=timezone.utc)
    message._timestamp = value
    return value


def _wire_timestamp(value: datetime | float | None) -> datetime | int | None:
    if value is None or isinstance(value, datetime):
        return value
    return int(value)  # whole seconds (a float is >= 0 here: floor)


def decode_timestamp(value: datetime | None) -> datetime | None:
    """The timestamp as ``info()`` reports it (unchanged)."""
    return value


def _delivery_mode(value: DeliveryMode | int | None) -> DeliveryMode:
    if not value:
        return _NOT_PERSISTENT
    if value == 2:
        return _PERSISTENT
    return DeliveryMode(int(value))  # 1, or ValueError for anything else


# -- messages --------------------------------------------------------------------------


class Message(AbstractMessage):
    """A message to publish: body plus AMQP basic properties.

    Public attributes (``body``, ``headers``, ``content_type`` ...) can be
    reassigned until :meth:`lock` is called; afterwards assignment raises
    ``ValueError``.
    """

    __slots__ = (
        "_app_id",
        "_body",
        "_body_size",
        "_content_encoding",
        "_content_type",
        "_correlation_id",
        "_delivery_mode",
        "_expiration",
        "_headers",
        "_locked",
        "_message_id",
        "_priority",
        "_reply_to",
        "_timestamp",
        "_type",
        "_user_id",
    )

    _app_id: str | None
    _body: bytes
    _body_size: int
    _content_encoding: str | None
    _content_type: str | None
    _correlation_id: str | None
    _delivery_mode: DeliveryMode
    _expiration: DateType
    _headers: HeadersType
    _locked: bool
    _message_id: str | None
    _priority: int | None
    _reply_to: str | None
    _timestamp: datetime | float | None
    _type: str | None
    _user_id: str | None

    def __init__(
        self,
        body: bytes,
        *,
        headers: HeadersType | None = None,
        content_type: str | None = None,
        content_encoding: str | None = None,
        delivery_mode: DeliveryMode | int | None = None,
        priority: int | None = None,
        correlation_id: str | None = None,
        reply_to: str | None = None,
        expiration: DateType = None,
        message_id: str | None = None,
        timestamp: DateType = None,
        type: str | None = None,
        user_id: str | None = None,
        app_id: str | None = None,
    ) -> None:
        """Create a message.

        ``expiration`` is in seconds (int/float), a ``timedelta`` or a
        ``datetime`` deadline; it is sent as milliseconds. ``timestamp`` is a
        datetime, a POSIX time or a timedelta from now. ``delivery_mode``
        defaults to NOT_PERSISTENT and ``priority`` to 0; empty strings mean
        absent. Raises ``ValueError`` for an invalid expiration or timestamp.
        """
        self._locked = False
        if not isinstance(body, bytes):
            body = bytes(body)
        self._body = body
        self._body_size = len(body)
        self._headers = headers or {}
        self._content_type = content_type
        self._content_encoding = content_encoding
        self._delivery_mode = (
            _NOT_PERSISTENT
            if delivery_mode is None
            else delivery_mode
            if delivery_mode is _NOT_PERSISTENT or delivery_mode is _PERSISTENT
            else _delivery_mode(delivery_mode)
        )
        self._priority = int(priority) if priority else 0
        self._correlation_id = str(correlation_id) if correlation_id else None
        self._reply_to = str(reply_to) if reply_to else None
        if expiration is not None:
            encode_expiration(expiration)  # ValueError on a bad type or sign
        self._expiration = expiration
        self._message_id = str(message_id) if message_id else None
        self._timestamp = (
            timestamp
            if timestamp is None or isinstance(timestamp, datetime)
            else _stored_timestamp(timestamp)
        )
        self._type = str(type) if type else None
        self._user_id = str(user_id) if user_id else None
        self._app_id = str(app_id) if app_id else None

    @property
    def headers_raw(self) -> HeadersType:
        """Deprecated alias of :attr:`headers`."""
        warnings.warn(
            f"{self.__class__.__name__}.headers_raw deprecated, please use "
            f"{self.__class__.__name__}.headers instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        return self._headers

    def info(self) -> MessageInfo:
        """Every property plus ``body_size``, as a dict (aio-pika's keys).

        ``type`` is ``str(message.type)``, hence ``"None"`` when unset, as in
        aio-pika.
        """
        return {
            "app_id": self._app_id,
            "body_size": self._body_size,
            "cluster_id": None,
            "consumer_tag": None,
            "content_encoding": self._content_encoding,
            "content_type": self._content_type,
            "correlation_id": self._correlation_id,
            "delivery_mode": self._delivery_mode,
            "delivery_tag": None,
            "exchange": None,
            "expiration": self._expiration,
            "headers": self._headers,
            "message_id": self._message_id,
            "priority": self._priority,
            "redelivered": None,
            "reply_to": self._reply_to,
            "routing_key": None,
            "timestamp": _timestamp_of(self),
            "type": str(self._type),
            "user_id": self._user_id,
        }

    @property
    def locked(self) -> bool:
        """Whether the message refuses attribute changes."""
        return self._locked

    def lock(self) -> None:
        """Forbid further attribute changes."""
        self._locked = True

    @property
    def properties(self) -> BasicProperties:
        """The content-header properties to publish this message with."""
        # private slots, not the properties: this runs for every publish
        return BasicProperties(
            content_type=self._content_type or None,
            content_encoding=self._content_encoding or None,
            headers=self._headers,
            delivery_mode=self._delivery_mode,
            priority=self._priority,
            correlation_id=self._correlation_id or None,
            reply_to=self._reply_to or None,
            expiration=(
                None
                if self._expiration is None
                else encode_expiration(self._expiration)
            ),
            message_id=self._message_id or None,
            timestamp=_timestamp_of(self),
            message_type=self._type or None,
            user_id=self._user_id or None,
            app_id=self._app_id or None,
        )

    def _encode_properties(self, message_id: str | None) -> bytes:
        """:attr:`properties` encoded for the wire, with ``message_id`` when the
        message has none (the publish path: no BasicProperties is built)."""
        return encode_properties(
            self._content_type or None,
            self._content_encoding or None,
            self._headers,
            self._delivery_mode,
            self._priority,
            self._correlation_id or None,
            self._reply_to or None,
            None if self._expiration is None else encode_expiration(self._expiration),
            self._message_id or message_id,
            _wire_timestamp(self._timestamp),
            self._type or None,
            self._user_id or None,
            self._app_id or None,
        )

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}:{pformat(self.info())}"

    def __iter__(self) -> Iterator[int]:
        return iter(self._body)

    def __copy__(self) -> Message:
        """An unlocked :class:`Message` with the same body and properties.

        The headers dict is shared, not copied (as in aio-pika).
        """
        return Message(
            body=self.body,
            headers=self.headers,
            content_encoding=self.content_encoding,
            content_type=self.content_type,
            delivery_mode=self.delivery_mode,
            priority=self.priority,
            correlation_id=self.correlation_id,
            reply_to=self.reply_to,
            expiration=self.expiration,
            message_id=self.message_id,
            timestamp=self.timestamp,
            type=self.type,
            user_id=self.user_id,
            app_id=self.app_id,
        )


class IncomingMessage(Message, AbstractIncomingMessage):
    """A message delivered by the broker (Basic.Deliver or Basic.GetOk).

    Acknowledge it with :meth:`ack`, :meth:`reject` or :meth:`nack`, once;
    or use ``async with message.process():``. A message received with
    ``no_ack=True`` (or without a delivery tag) is locked and already
    processed.
    """

    __slots__ = (
        "_channel",
        "_cluster_id",
        "_consumer_tag",
        "_delivery_tag",
        "_exchange",
        "_message_count",
        "_no_ack",
        "_processed",
        "_redelivered",
        "_routing_key",
    )

    _channel: _MessageChannel
    _cluster_id: str | None
    _consumer_tag: str | None
    _delivery_tag: int | None
    _exchange: str | None
    _message_count: int | None
    _no_ack: bool
    _processed: bool
    _redelivered: bool | None
    _routing_key: str | None

    def __init__(self, message: DeliveredMessage, no_ack: bool = False) -> None:
        """aio-pika's constructor: one delivered-message object.

        ``message`` is read as aiormq's ``DeliveredMessage``: ``.delivery``
        (Basic.Deliver, Basic.GetOk or Basic.Return: ``delivery_tag``,
        ``redelivered``, ``exchange``, ``routing_key``, ``consumer_tag`` or
        ``message_count``), ``.header.properties``, ``.body`` and
        ``.channel``. A channel that is not amqpio's is acked through its
        aiormq methods (``basic_ack``, ``basic_nack``, ``basic_reject``).
        """
        channel = message.channel
        if getattr(type(channel), "_ack", None) is None:
            channel = _AiormqChannel(channel)
        delivery = message.delivery
        self._fill(
            channel,
            delivery,
            message.header.properties,
            message.body,
            no_ack,
            getattr(delivery, "consumer_tag", None),
            getattr(delivery, "delivery_tag", None),
            getattr(delivery, "redelivered", None),
            getattr(delivery, "message_count", None),
        )

    @classmethod
    def _delivered(
        cls,
        channel: _MessageChannel,
        method: Basic.Deliver | Basic.GetOk | Basic.Return,
        properties: BasicProperties,
        body: bytes,
        no_ack: bool = False,
    ) -> IncomingMessage:
        """Build the message from the broker's method, properties and body.

        ``channel`` is the channel the delivery arrived on (see
        ``_MessageChannel``). The properties' values are taken as decoded:
        headers are not copied, ``timestamp`` stays the wire's datetime.
        """
        self = cls.__new__(cls)
        if isinstance(method, _Deliver):
            self._fill(
                channel,
                method,
                properties,
                body,
                no_ack,
                method.consumer_tag,
                method.delivery_tag,
                method.redelivered,
                None,
            )
        elif isinstance(method, _GetOk):
            self._fill(
                channel,
                method,
                properties,
                body,
                no_ack,
                None,
                method.delivery_tag,
                method.redelivered,
                method.message_count,
            )
        else:  # Basic.Return: nothing to acknowledge
            self._fill(
                channel, method, properties, body, no_ack, None, None, None, None
            )
        return self

    def _fill(
        self,
        channel: _MessageChannel,
        method: Any,
        properties: Any,
        body: bytes,
        no_ack: bool,
        consumer_tag: str | None,
        delivery_tag: int | None,
        redelivered: bool | None,
        message_count: int | None,
    ) -> None:
        # Hot path: plain slot stores only (see the module docstring).
        self._channel = channel
        self._no_ack = no_ack
        if not isinstance(body, bytes):
            body = bytes(body)
        self._body = body
        self._body_size = len(body)
        p = properties
        headers = p.headers
        if isinstance(headers, dict):
            self._headers = headers
        else:
            self._headers = {} if headers is None else dict(headers)
        self._content_type = p.content_type
        self._content_encoding = p.content_encoding
        self._delivery_mode = _PERSISTENT if p.delivery_mode == 2 else _NOT_PERSISTENT
        self._priority = p.priority or 0
        self._correlation_id = p.correlation_id or None
        self._reply_to = p.reply_to or None
        expiration = p.expiration
        self._expiration = decode_expiration(expiration) if expiration else None
        self._message_id = p.message_id or None
        self._timestamp = p.timestamp
        self._type = p.message_type or None
        self._user_id = p.user_id or None
        self._app_id = p.app_id or None
        # aio-pika (through pamqp) reports an absent cluster-id as ""
        cluster_id = p.cluster_id
        self._cluster_id = "" if cluster_id is None else cluster_id
        self._consumer_tag = consumer_tag
        self._delivery_tag = delivery_tag
        self._redelivered = redelivered
        self._message_count = message_count
        self._exchange = method.exchange
        self._routing_key = method.routing_key
        done = no_ack or not delivery_tag
        self._locked = done
        self._processed = done

    @property
    def channel(self) -> _MessageChannel:
        """The channel the message arrived on.

        Raises :class:`~amqpio.exceptions.ChannelInvalidStateError` when it
        is closed.
        """
        channel = self._channel
        if channel.is_closed:
            raise ChannelInvalidStateError("channel is closed")
        return channel

    @property
    def processed(self) -> bool:
        """Whether the message was acked, nacked or rejected (or needs none)."""
        return self._processed

    def process(
        self,
        requeue: bool = False,
        reject_on_redelivered: bool = False,
        ignore_processed: bool = False,
    ) -> ProcessContext:
        """Context manager that acks on success and rejects on an exception.

        :param requeue: requeue the message when rejecting it.
        :param reject_on_redelivered: on an exception, reject a redelivered
            message without requeueing it (whatever ``requeue`` says).
        :param ignore_processed: do nothing at exit if the block already
            acked, nacked or rejected the message itself.
        """
        return ProcessContext(
            self,
            requeue=requeue,
            reject_on_redelivered=reject_on_redelivered,
            ignore_processed=ignore_processed,
        )

    async def ack(self, multiple: bool = False) -> None:
        """Send Basic.Ack (``multiple``: every unacked tag up to this one).

        Raises ``TypeError`` for a ``no_ack`` message and
        :class:`~amqpio.exceptions.MessageProcessError` if already processed.
        """
        if self._no_ack:
            raise TypeError('Can\'t ack message with "no_ack" flag')
        if self._processed:
            raise MessageProcessError("Message already processed", self)
        if self._delivery_tag is not None:
            await self.channel._ack(self._delivery_tag, multiple)
        self._processed = True
        self._locked = True

    async def reject(self, requeue: bool = False) -> None:
        """Send Basic.Reject; ``requeue=True`` puts the message back in its queue.

        Raises like :meth:`ack`.
        """
        if self._no_ack:
            raise TypeError('This message has "no_ack" flag.')
        if self._processed:
            raise MessageProcessError("Message already processed", self)
        if self._delivery_tag is not None:
            await self.channel._reject(self._delivery_tag, requeue)
        self._processed = True
        self._locked = True

    async def nack(self, multiple: bool = False, requeue: bool = True) -> None:
        """Send Basic.Nack (a RabbitMQ extension); requeues by default.

        Raises like :meth:`ack`.
        """
        if self._no_ack:
            raise TypeError('Can\'t nack message with "no_ack" flag')
        if self._processed:
            raise MessageProcessError("Message already processed", self)
        if self._delivery_tag is not None:
            await self.channel._nack(self._delivery_tag, multiple, requeue)
        self._processed = True
        self._locked = True

    def info(self) -> MessageInfo:
        """:meth:`Message.info` plus the delivery's fields."""
        info = super().info()
        info["cluster_id"] = self._cluster_id
        info["consumer_tag"] = self._consumer_tag
        info["delivery_tag"] = self._delivery_tag
        info["exchange"] = self._exchange
        info["redelivered"] = self._redelivered
        info["routing_key"] = self._routing_key
        return info


class ReturnedMessage(IncomingMessage):
    """A published message the broker returned (Basic.Return); nothing to ack.

    A publish awaiting its confirm returns it. aio-pika returns aiormq's
    delivered message there, so ``delivery`` (the Basic.Return, with
    ``reply_code`` and ``reply_text``) and ``header.properties`` read as on
    that object.
    """

    __slots__ = ("_method", "_wire_properties")

    _method: Basic.Return
    _wire_properties: BasicProperties

    @classmethod
    def _delivered(
        cls,
        channel: _MessageChannel,
        method: Basic.Deliver | Basic.GetOk | Basic.Return,
        properties: BasicProperties,
        body: bytes,
        no_ack: bool = False,
    ) -> ReturnedMessage:
        message = super()._delivered(channel, method, properties, body, no_ack)
        assert isinstance(message, ReturnedMessage) and isinstance(method, Basic.Return)
        message._method = method
        message._wire_properties = properties
        return message

    @property
    def delivery(self) -> Basic.Return:
        """The broker's Basic.Return (``reply_code``, ``reply_text`` ...)."""
        return self._method

    @property
    def header(self) -> _ContentHeader:
        """``header.properties``: the returned message's properties."""
        return _ContentHeader(self._wire_properties, self._body_size)


class _ContentHeader:
    __slots__ = ("body_size", "properties")

    def __init__(self, properties: BasicProperties, body_size: int) -> None:
        self.properties = properties
        self.body_size = body_size


ReturnCallback = Callable[[AbstractChannel, ReturnedMessage], Any]


class ProcessContext(AbstractProcessContext):
    """What :meth:`IncomingMessage.process` returns."""

    __slots__ = ("ignore_processed", "message", "reject_on_redelivered", "requeue")

    def __init__(
        self,
        message: IncomingMessage,
        *,
        requeue: bool,
        reject_on_redelivered: bool,
        ignore_processed: bool,
    ) -> None:
        self.message = message
        self.requeue = requeue
        self.reject_on_redelivered = reject_on_redelivered
        self.ignore_processed = ignore_processed

    async def __aenter__(self) -> IncomingMessage:
        return self.message

    def __enter__(self) -> IncomingMessage:
        """``with message.process():`` (aio-pika 6.x's synchronous form).

        aio-pika 6.8's documentation uses it, also in plain ``def`` consumer
        callbacks; aio-pika 9 dropped it. Needs a running event loop.
        """
        return self.message

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        """Schedule what ``__aexit__`` does (ack, or reject on an exception).

        The Basic.Ack/Reject is sent from a task on the next loop iteration
        (aio-pika 6.x also did not wait for it); a failure is logged.
        """
        task = asyncio.ensure_future(self.__aexit__(exc_type, exc_val, exc_tb))
        _pending_settlements.add(task)
        task.add_done_callback(_settled)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        message = self.message
        if self.ignore_processed and message.processed:
            return
        if exc_type is None:
            await message.ack()
            return
        try:
            if self.reject_on_redelivered and message.redelivered:
                log.info("Message %r was redelivered and will be rejected", message)
                await message.reject(requeue=False)
            else:
                await message.reject(requeue=self.requeue)
        except ChannelInvalidStateError:
            # The block's own exception matters more than the failed reject.
            log.warning("Reject is not sent since channel is closed")


#: Tasks started by ProcessContext.__exit__ (strong references until done).
_pending_settlements: set[asyncio.Future[None]] = set()


def _settled(task: asyncio.Future[None]) -> None:
    _pending_settlements.discard(task)
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error("Could not settle a message after 'with process()'", exc_info=error)


# -- public attributes: properties over the private slots (module docstring) -------


def _locked_field(name: str) -> property:
    slot = "_" + name

    def fset(self: Message, value: object) -> None:
        if self._locked:
            raise ValueError("Message is locked")
        setattr(self, slot, value)

    return property(attrgetter(slot), fset, None, f"The message's ``{name}``.")


def _install_fields(cls: type, names: Iterable[str]) -> None:
    for name in names:
        setattr(cls, name, _locked_field(name))


def _set_timestamp(self: Message, value: DateType) -> None:
    if self._locked:
        raise ValueError("Message is locked")
    self._timestamp = _stored_timestamp(value)


Message.timestamp = property(  # type: ignore[assignment]
    _timestamp_of, _set_timestamp, None, "The message's ``timestamp``."
)


_install_fields(
    Message,
    (
        "app_id",
        "body",
        "body_size",
        "content_encoding",
        "content_type",
        "correlation_id",
        "delivery_mode",
        "expiration",
        "headers",
        "message_id",
        "priority",
        "reply_to",
        "type",
        "user_id",
    ),
)
_install_fields(
    IncomingMessage,
    (
        "cluster_id",
        "consumer_tag",
        "delivery_tag",
        "exchange",
        "message_count",
        "redelivered",
        "routing_key",
    ),
)
