"""Channel: aio-pika's channel API over one AMQP channel of the transport."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import itertools
import os
import sys
import types
import uuid
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Generator
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, overload

from . import exceptions as exc
from .abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractMessage,
    AbstractQueue,
    Arguments,
    ExceptionType,
    ExchangeType,
    TimeoutType,
)
from .exchange import Exchange
from .log import logger
from .message import IncomingMessage, Message, ReturnedMessage
from .queue import Queue
from .sansio import events as ev
from .spec import Basic, BasicProperties, Confirm, Method
from .spec import Channel as ChannelMethods
from .spec import Exchange as ExchangeMethods
from .spec import Queue as QueueMethods
from .tools import CallbackCollection
from .transaction import Transaction

if TYPE_CHECKING:
    from .connection import Connection
    from .transport.protocol import AMQPProtocol

__all__ = ("Channel",)

log = logger.getChild("channel")


# Message ids for publishes without one: the format of uuid4().hex (32 hex
# digits), unique per process, at the cost of a counter instead of a urandom
# call per publish. A forked child draws a new random half.
_id_base = 0
_id_counter = itertools.count()


def _seed_message_ids() -> None:
    global _id_base, _id_counter
    _id_base = int.from_bytes(os.urandom(8), "big") << 64
    _id_counter = itertools.count()


_seed_message_ids()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_seed_message_ids)


def _new_message_id() -> str:
    return "%032x" % (_id_base + next(_id_counter))


ConsumerCallback = Callable[[AbstractIncomingMessage], Any]

consumer_log = logger.getChild("consumer")


if sys.version_info >= (3, 12):

    def _start_task(
        loop: asyncio.AbstractEventLoop,
        coro: Coroutine[Any, Any, None],
        context: contextvars.Context,
    ) -> asyncio.Task[None]:
        # runs at once, up to its first suspension: a callback that does not
        # suspend finishes here, without a turn of the event loop
        return asyncio.Task(coro, loop=loop, context=context, eager_start=True)

elif sys.version_info >= (3, 11):

    def _start_task(
        loop: asyncio.AbstractEventLoop,
        coro: Coroutine[Any, Any, None],
        context: contextvars.Context,
    ) -> asyncio.Task[None]:
        return loop.create_task(coro, context=context)

else:

    def _start_task(
        loop: asyncio.AbstractEventLoop,
        coro: Coroutine[Any, Any, None],
        context: contextvars.Context,
    ) -> asyncio.Task[None]:
        return context.run(loop.create_task, coro)


async def _run_consumer(
    callback: ConsumerCallback,
    message: IncomingMessage,
    tasks: set[asyncio.Task[None]],
) -> None:
    """The body of a consumer task: the callback, awaited if it returns an
    awaitable; its failure logged, as aio-pika does (the task itself never
    fails, so nothing is left unretrieved)."""
    try:
        result = callback(message)
        if inspect.isawaitable(result):
            await result
    except Exception:
        consumer_log.exception("Unhandled exception in consumer callback %r", callback)
    finally:
        task = asyncio.current_task()
        if task is not None:
            tasks.discard(task)


_MESSAGE_PROPERTIES = Message.properties
_DIRECT_REPLY_TO = "amq.rabbitmq.reply-to."


@types.coroutine
def _after_scheduled_work() -> Generator[None, None, None]:
    """Two turns of the event loop before a channel operation writes its frame.

    aio-pika's operations pass through tasks and a writer queue before their
    frame is written; code relies on what that implies: an ack or nack that
    another task started (one turn) or that a thread scheduled with
    ``run_coroutine_threadsafe`` (two turns) reaches the broker before the
    ``queue.get()``, ``channel.close()`` or other request that follows it.
    """
    yield
    yield


async def _wait(future: Awaitable[Any], timeout: TimeoutType) -> Any:
    if timeout is None:
        return await future
    return await asyncio.wait_for(future, timeout)


class Channel(AbstractChannel):
    """An AMQP channel. Use ``await connection.channel()`` or ``async with``."""

    EXCHANGE_CLASS = Exchange
    QUEUE_CLASS = Queue
    #: What deliveries are built as (the robust channel tags them with its
    #: incarnation).
    MESSAGE_CLASS: type[IncomingMessage] = IncomingMessage

    def __init__(
        self,
        connection: Connection,
        channel_number: int | None = None,
        publisher_confirms: bool = True,
        on_return_raises: bool = False,
    ) -> None:
        if not publisher_confirms and on_return_raises:
            raise RuntimeError(
                '"on_return_raises" not applicable without "publisher_confirms"'
            )
        self._connection = connection
        self._channel_number = channel_number
        self.publisher_confirms = publisher_confirms
        self.on_return_raises = on_return_raises
        self.close_callbacks = CallbackCollection(self)
        self.return_callbacks = CallbackCollection(self)
        #: Called with ``(channel, consumer_tag)`` when the broker cancels a
        #: consumer (queue deleted, node lost): aio-pika drops these silently.
        self.cancel_callbacks: CallbackCollection[Channel, [str]] = CallbackCollection(
            self
        )
        #: Called with ``(channel, error, acked)`` when the broker confirms a
        #: publish after its ``timeout`` passed: ``error`` is the
        #: :class:`~amqpio.exceptions.PublishConfirmTimeoutError` the publish
        #: raised (``delivery_tag``, ``message``...), ``acked`` True for an
        #: ack, False for a nack.
        self.late_confirm_callbacks: CallbackCollection[
            Channel, [exc.PublishConfirmTimeoutError, bool]
        ] = CallbackCollection(self)
        self._protocol: AMQPProtocol | None = None
        self._number: int | None = None
        self._closed: asyncio.Future[Literal[True]] = (
            asyncio.get_event_loop().create_future()
        )
        self._close_reason: BaseException | None = None
        #: consumer tag -> (callback, no_ack, called directly without a task)
        self._consumers: dict[str, tuple[ConsumerCallback, bool, bool]] = {}
        #: Consumer tasks not finished yet (strong references: the loop keeps
        #: only weak ones).
        self._callback_tasks: set[asyncio.Task[None]] = set()
        #: The context consumer tasks start from (a copy each), taken when the
        #: application opens the channel, as aio-pika's channel reader does.
        self._context = contextvars.copy_context()
        # message_id -> delivery tag of mandatory publishes awaiting a confirm,
        # so that a Basic.Return (which carries no tag) finds its publish
        self._returnable: dict[str, int] = {}
        self._flow_active = True
        self._initialized = False
        self.default_exchange: Exchange

    # -- lifecycle -------------------------------------------------------------

    @property
    def is_initialized(self) -> bool:
        """True once the channel was opened."""
        return self._initialized

    @property
    def is_closed(self) -> bool:
        """True when closed by the broker or by ``close()`` (or never opened)."""
        return not self._initialized or self._closed.done()

    @property
    def number(self) -> int | None:
        """The channel number (``None`` before it is opened)."""
        return self._number if self._number is not None else self._channel_number

    @property
    def connection(self) -> Connection:
        return self._connection

    def __str__(self) -> str:
        return f"{self.number or 'Not initialized channel'}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} #{self} {self._connection!r}>"

    def __await__(self) -> Generator[Any, Any, Channel]:
        yield from self.initialize().__await__()
        return self

    async def __aenter__(self) -> Channel:
        if not self._initialized:
            await self.initialize()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def initialize(self, timeout: TimeoutType = None) -> None:
        """Open the channel (and enable publisher confirms if asked)."""
        if self._initialized:
            raise RuntimeError("Already initialized")
        if self._closed.done():
            raise RuntimeError("Can't initialize closed channel")
        self._context = contextvars.copy_context()
        await _wait(self._open(), timeout)

    async def _open(self) -> None:
        protocol = self._connection._get_protocol()
        number, opened = protocol.open_channel(self, self._channel_number)
        self._protocol = protocol
        self._number = number
        await opened
        if self.publisher_confirms:
            await protocol.request(number, Confirm.Select())
        self._initialized = True
        self._close_reason = None
        if self._closed.done():
            self._closed = asyncio.get_event_loop().create_future()
        self.default_exchange = self.EXCHANGE_CLASS(
            channel=self,
            name="",
            type=ExchangeType.DIRECT,
            durable=False,
            auto_delete=False,
            internal=False,
            passive=False,
            arguments=None,
        )

    def add_close_callback(self, callback: Any, weak: bool = False) -> None:
        """aio-pika 6 API: ``close_callbacks.add(callback, weak=weak)``."""
        self.close_callbacks.add(callback, weak=weak)

    def remove_close_callback(self, callback: Any) -> None:
        """aio-pika 6 API: ``close_callbacks.discard(callback)``."""
        self.close_callbacks.discard(callback)

    def add_on_return_callback(self, callback: Any, weak: bool = False) -> None:
        """aio-pika 6 API: ``return_callbacks.add(callback, weak=weak)``."""
        self.return_callbacks.add(callback, weak=weak)

    def remove_on_return_callback(self, callback: Any) -> None:
        """aio-pika 6 API: ``return_callbacks.discard(callback)``."""
        self.return_callbacks.discard(callback)

    async def reopen(self) -> None:
        """Open the channel again after it was closed."""
        self._consumers.clear()
        await self._open()

    async def close(self, exc: ExceptionType | None = None) -> None:
        """Close the channel."""
        if not self._initialized:
            log.warning("Channel not opened")
            return
        protocol = self._protocol
        if protocol is not None and not self._closed.done():
            await _after_scheduled_work()
        if protocol is not None and not self._closed.done():
            await protocol.close_channel(self._number or 0)
        if exc is None or isinstance(exc, type):
            reason: BaseException = (exc or asyncio.CancelledError)()
        else:
            reason = exc
        self._set_closed(reason)

    def closed(self) -> asyncio.Future[Literal[True]]:
        """Awaitable that completes when the channel is closed."""
        return asyncio.shield(self._closed)

    def _set_closed(self, reason: BaseException) -> None:
        if self._closed.done():
            return
        self._close_reason = reason
        self._closed.set_result(True)
        self._consumers.clear()
        self._returnable.clear()
        self.close_callbacks(reason)

    def _get_protocol(self) -> AMQPProtocol:
        protocol = self._protocol
        if not self._initialized or protocol is None:
            raise exc.ChannelInvalidStateError("Channel was not opened")
        if self._closed.done():
            reason = self._close_reason
            if isinstance(reason, exc.AMQPError):
                raise exc.ChannelInvalidStateError(
                    f"Channel is closed: {reason!r}"
                ) from reason
            raise exc.ChannelInvalidStateError("Channel is closed")
        return protocol

    async def get_underlay_channel(self) -> Channel:
        """aio-pika returns its aiormq channel here; amqpio has one layer."""
        self._get_protocol()
        return self

    # -- transport listener ----------------------------------------------------

    def on_delivery(self, event: ev.DeliveryReceived) -> None:
        method = event.method
        consumer = self._consumers.get(method.consumer_tag)  # type: ignore[union-attr]
        if consumer is None:
            log.warning("Delivery for unknown consumer %r", method)
            return
        callback, no_ack, direct = consumer
        message = self.MESSAGE_CLASS._delivered(
            self, method, event.properties, event.body, no_ack
        )
        if direct:
            callback(message)
            return
        # a real task per message, as aio-pika: asyncio.timeout(),
        # current_task(), TaskGroup and anyio work in the callback
        tasks = self._callback_tasks
        task = _start_task(
            self._connection.loop,
            _run_consumer(callback, message, tasks),
            self._context.copy(),
        )
        if not task.done():
            tasks.add(task)

    def on_return(self, event: ev.MessageReturned) -> None:
        # no_ack, as aio-pika: ack()/nack()/reject() raise TypeError
        message = ReturnedMessage._delivered(
            self, event.method, event.properties, event.body, no_ack=True
        )
        message_id = event.properties.message_id
        tag = self._returnable.pop(message_id, None) if message_id else None
        protocol = self._protocol
        publisher_told = False
        if tag is not None and protocol is not None:
            confirm = protocol.take_confirm(self._number or 0, tag)
            if confirm is not None and not confirm.done():
                if self.on_return_raises:
                    confirm.set_exception(exc.PublishError(message, event.method))
                    return
                # the awaited publish returns it (aio-pika's behaviour)
                confirm.set_result(message)  # type: ignore[arg-type]
                publisher_told = True
        if self.on_return_raises and tag is not None:
            return
        if not self.return_callbacks and not publisher_told:
            if (message.routing_key or "").startswith(_DIRECT_REPLY_TO):
                # RabbitMQ returns a mandatory publish to a direct reply-to
                # address even when it delivers it (FastStream's RPC replies)
                log.debug("Direct reply-to publish returned: %r", message)
            else:
                log.warning(
                    "Message returned by the broker and not handled: %r", message
                )
        self.return_callbacks(message)

    def on_consumer_cancelled(self, consumer_tag: str) -> None:
        self._consumers.pop(consumer_tag, None)
        log.warning(
            "The broker cancelled consumer %r on channel %s", consumer_tag, self
        )
        self.cancel_callbacks(consumer_tag)

    def on_flow(self, active: bool) -> None:
        self._flow_active = active

    def on_closed(self, error: BaseException) -> None:
        self._set_closed(error)

    # -- requests --------------------------------------------------------------

    async def _request(self, method: Method, timeout: TimeoutType = None) -> Any:
        await _after_scheduled_work()
        future = self._get_protocol().request(self._number or 0, method)
        if type(method) is Basic.Get and not method.no_ack:
            try:
                return await _wait(asyncio.shield(future), timeout)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                # the message may still come: requeue it then, or it would
                # stay unacknowledged (invisible) until the channel closes
                future.add_done_callback(self._requeue_late_get)
                raise
        return await _wait(future, timeout)

    def _requeue_late_get(self, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is not None:
            return
        result = future.result()
        protocol = self._protocol
        if isinstance(result, ev.DeliveryReceived) and protocol is not None:
            # if the channel or connection is gone, the broker requeues it
            with contextlib.suppress(exc.AMQPError, exc.ChannelInvalidStateError):
                protocol.reject(self._number or 0, result.method.delivery_tag, True)

    async def _publish(
        self,
        exchange: str,
        routing_key: str,
        message: AbstractMessage,
        mandatory: bool,
        immediate: bool,
        timeout: TimeoutType,
    ) -> Any:
        protocol = self._protocol
        if protocol is None or protocol.publish_must_wait:
            # paused transport, blocked connection, or the loop's turn
            timeout = await self._wait_to_publish(timeout)
            protocol = self._get_protocol()
        # aio-pika fills a message_id: it is how a Basic.Return (which has no
        # delivery tag) is matched with its publish
        properties: BasicProperties | bytes
        if type(message).properties is _MESSAGE_PROPERTIES:
            # amqpio's Message (a subclass may override ``properties``)
            assert isinstance(message, Message)
            message_id = message.message_id or _new_message_id()
            properties = message._encode_properties(message_id)
        else:  # another AbstractMessage implementation
            properties = message.properties
            if properties.message_id is None:
                properties.message_id = _new_message_id()
            message_id = properties.message_id
        number = self._number or 0
        # written (or queued to be) before anything else can run: from here on
        # a failure leaves the outcome unknown
        confirm = protocol.publish(
            number,
            exchange,
            routing_key,
            message.body,
            properties,
            mandatory,
            immediate,
        )
        if confirm is None:
            return None
        returnable = self._returnable
        tag = protocol.last_delivery_tag
        if mandatory:
            # a Basic.Return is matched to its publish while the publish waits
            returnable[message_id] = tag
        try:
            result = await self._await_confirm(
                confirm, timeout, tag, message, exchange, routing_key
            )
        finally:
            if mandatory and returnable.get(message_id) == tag:
                del returnable[message_id]
        if type(result) is Basic.Nack:
            raise exc.DeliveryError(None, result)
        return result

    async def _wait_to_publish(self, timeout: TimeoutType) -> TimeoutType:
        """Wait until a publish may be written; return what is left of timeout."""
        return await self._get_protocol().wait_writable(timeout)

    async def _await_confirm(
        self,
        confirm: asyncio.Future[Method],
        timeout: TimeoutType,
        tag: int,
        message: AbstractMessage,
        exchange: str,
        routing_key: str,
    ) -> Method:
        """The broker's Basic.Ack or Basic.Nack for a written publish."""
        if timeout is None:
            return await confirm
        try:
            return await asyncio.wait_for(asyncio.shield(confirm), timeout)
        except asyncio.TimeoutError:
            if confirm.done():
                return confirm.result()
        # The bytes went out: the broker may still route the message. Say so,
        # and report the confirm if it comes.
        error = exc.PublishConfirmTimeoutError(
            f"no confirm for delivery tag {tag} within {timeout} s (published to "
            f"exchange {exchange!r} with routing key {routing_key!r}"
            + (
                f"; the broker blocks the connection: {self._get_protocol().blocked}"
                if self._protocol is not None and self._protocol.blocked
                else ""
            )
            + ")",
            message,
            exchange,
            routing_key,
            tag,
        )
        confirm.add_done_callback(partial(self._on_late_confirm, error))
        raise error

    def _on_late_confirm(
        self, error: exc.PublishConfirmTimeoutError, confirm: asyncio.Future[Method]
    ) -> None:
        if confirm.cancelled() or confirm.exception() is not None:
            return  # the channel or connection ended: still unknown
        # a returned mandatory message is acked too (its confirm future then
        # holds the returned message): only a Basic.Nack is a refusal
        acked = type(confirm.result()) is not Basic.Nack
        log.debug(
            "Late %s for delivery tag %s on %s",
            "ack" if acked else "nack",
            error.delivery_tag,
            self,
        )
        self.late_confirm_callbacks(error, acked)

    # Settlements are queued at once (their order is the caller's); a burst of
    # them waits while the transport is paused, like publishes.

    async def _ack(self, delivery_tag: int, multiple: bool) -> None:
        protocol = self._get_protocol()
        protocol.ack(self._number or 0, delivery_tag, multiple)
        if protocol.writing_paused:
            await protocol.drain()

    async def _nack(self, delivery_tag: int, multiple: bool, requeue: bool) -> None:
        protocol = self._get_protocol()
        protocol.nack(self._number or 0, delivery_tag, multiple, requeue)
        if protocol.writing_paused:
            await protocol.drain()

    async def _reject(self, delivery_tag: int, requeue: bool) -> None:
        protocol = self._get_protocol()
        protocol.reject(self._number or 0, delivery_tag, requeue)
        if protocol.writing_paused:
            await protocol.drain()

    async def _consume(
        self,
        queue: str,
        callback: ConsumerCallback,
        no_ack: bool,
        exclusive: bool,
        arguments: Arguments,
        consumer_tag: str | None,
        timeout: TimeoutType,
    ) -> str:
        tag = consumer_tag or f"ctag{self._number}.{uuid.uuid4().hex}"
        # registered before the request so no delivery can race the ConsumeOk
        direct = bool(getattr(callback, "__amqpio_direct__", False))
        self._consumers[tag] = (callback, no_ack, direct)
        try:
            await self._request(
                Basic.Consume(
                    queue=queue,
                    consumer_tag=tag,
                    no_local=False,
                    no_ack=no_ack,
                    exclusive=exclusive,
                    no_wait=False,
                    arguments=arguments or {},
                ),
                timeout,
            )
        except BaseException:
            self._consumers.pop(tag, None)
            raise
        return tag

    async def _cancel(
        self, consumer_tag: str, timeout: TimeoutType, nowait: bool
    ) -> Basic.CancelOk | None:
        if nowait:
            await _after_scheduled_work()
            self._get_protocol().send(
                self._number or 0, Basic.Cancel(consumer_tag, no_wait=True)
            )
            self._consumers.pop(consumer_tag, None)
            return None
        try:
            result: Basic.CancelOk = await self._request(
                Basic.Cancel(consumer_tag, no_wait=False), timeout
            )
        finally:
            self._consumers.pop(consumer_tag, None)
        return result

    # -- aio-pika API ----------------------------------------------------------

    async def declare_exchange(
        self,
        name: str,
        type: ExchangeType | str = ExchangeType.DIRECT,
        *,
        durable: bool = False,
        auto_delete: bool = False,
        internal: bool = False,
        passive: bool = False,
        arguments: Arguments = None,
        timeout: TimeoutType = None,
    ) -> AbstractExchange:
        """Declare an exchange (``passive=True`` only checks it exists)."""
        exchange = self.EXCHANGE_CLASS(
            channel=self,
            name=name,
            type=type,
            durable=durable,
            auto_delete=auto_delete,
            internal=internal,
            passive=passive,
            arguments=arguments,
        )
        await exchange.declare(timeout=timeout)
        return exchange

    async def get_exchange(self, name: str, *, ensure: bool = True) -> AbstractExchange:
        """An existing exchange; ``ensure=True`` checks with a passive declare."""
        if ensure:
            return await self.declare_exchange(name=name, passive=True)
        return self.EXCHANGE_CLASS(
            channel=self,
            name=name,
            durable=False,
            auto_delete=False,
            internal=False,
            passive=True,
            arguments=None,
        )

    async def declare_queue(
        self,
        name: str | None = None,
        *,
        durable: bool = False,
        exclusive: bool = False,
        passive: bool = False,
        auto_delete: bool = False,
        arguments: Arguments = None,
        timeout: TimeoutType = None,
    ) -> AbstractQueue:
        """Declare a queue; without a name the broker names it."""
        queue = self.QUEUE_CLASS(
            channel=self,
            name=name,
            durable=durable,
            exclusive=exclusive,
            auto_delete=auto_delete,
            arguments=arguments,
            passive=passive,
        )
        await queue.declare(timeout=timeout)
        return queue

    async def get_queue(self, name: str, *, ensure: bool = True) -> AbstractQueue:
        """An existing queue; ``ensure=True`` checks with a passive declare."""
        if ensure:
            return await self.declare_queue(name=name, passive=True)
        return self.QUEUE_CLASS(
            channel=self,
            name=name,
            durable=False,
            exclusive=False,
            auto_delete=False,
            arguments=None,
            passive=True,
        )

    async def set_qos(
        self,
        prefetch_count: int = 0,
        prefetch_size: int = 0,
        global_: bool = False,
        timeout: TimeoutType = None,
        all_channels: bool | None = None,
    ) -> Basic.QosOk:
        """Basic.Qos: limit unacknowledged deliveries."""
        if all_channels is not None:
            warnings.warn(
                'Use "global_" instead of "all_channels"',
                DeprecationWarning,
                stacklevel=2,
            )
            global_ = all_channels
        result: Basic.QosOk = await self._request(
            Basic.Qos(prefetch_size, prefetch_count, global_), timeout
        )
        return result

    @overload
    async def queue_delete(
        self,
        queue_name: str,
        timeout: TimeoutType = None,
        if_unused: bool = False,
        if_empty: bool = False,
        nowait: Literal[False] = False,
    ) -> QueueMethods.DeleteOk: ...

    @overload
    async def queue_delete(
        self,
        queue_name: str,
        timeout: TimeoutType = None,
        if_unused: bool = False,
        if_empty: bool = False,
        nowait: Literal[True] = True,
    ) -> None: ...

    @overload
    async def queue_delete(
        self,
        queue_name: str,
        timeout: TimeoutType = None,
        if_unused: bool = False,
        if_empty: bool = False,
        nowait: bool = False,
    ) -> QueueMethods.DeleteOk | None: ...

    async def queue_delete(
        self,
        queue_name: str,
        timeout: TimeoutType = None,
        if_unused: bool = False,
        if_empty: bool = False,
        nowait: bool = False,
    ) -> QueueMethods.DeleteOk | None:
        """Delete a queue by name."""
        result: QueueMethods.DeleteOk | None = await self._request(
            QueueMethods.Delete(queue_name, if_unused, if_empty, nowait), timeout
        )
        return result

    @overload
    async def exchange_delete(
        self,
        exchange_name: str,
        timeout: TimeoutType = None,
        if_unused: bool = False,
        nowait: Literal[False] = False,
    ) -> ExchangeMethods.DeleteOk: ...

    @overload
    async def exchange_delete(
        self,
        exchange_name: str,
        timeout: TimeoutType = None,
        if_unused: bool = False,
        nowait: Literal[True] = True,
    ) -> None: ...

    @overload
    async def exchange_delete(
        self,
        exchange_name: str,
        timeout: TimeoutType = None,
        if_unused: bool = False,
        nowait: bool = False,
    ) -> ExchangeMethods.DeleteOk | None: ...

    async def exchange_delete(
        self,
        exchange_name: str,
        timeout: TimeoutType = None,
        if_unused: bool = False,
        nowait: bool = False,
    ) -> ExchangeMethods.DeleteOk | None:
        """Delete an exchange by name."""
        result: ExchangeMethods.DeleteOk | None = await self._request(
            ExchangeMethods.Delete(exchange_name, if_unused, nowait), timeout
        )
        return result

    def transaction(self) -> Transaction:
        """A transaction on this channel (needs ``publisher_confirms=False``)."""
        if self.publisher_confirms:
            raise RuntimeError(
                "Cannot create transaction when publisher confirms are enabled"
            )
        return Transaction(self)

    async def flow(self, active: bool = True) -> ChannelMethods.FlowOk:
        """Ask the broker to stop (False) or resume (True) deliveries."""
        result: ChannelMethods.FlowOk = await self._request(ChannelMethods.Flow(active))
        return result
