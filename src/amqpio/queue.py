"""Queue and QueueIterator, as aio-pika's."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from .abc import (
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractQueueIterator,
    Arguments,
    ConsumerTag,
    ExchangeParamType,
    TimeoutType,
)
from .exceptions import AMQPError, ChannelInvalidStateError, QueueEmpty
from .exchange import get_exchange_name
from .log import logger
from .message import IncomingMessage
from .sansio.events import DeliveryReceived
from .spec import Basic
from .spec import Queue as QueueMethods
from .tools import CallbackCollection

if TYPE_CHECKING:
    from .channel import Channel

__all__ = ("Queue", "QueueIterator")

log = logger.getChild("queue")

_F = TypeVar("_F", bound=Callable[..., Any])


def direct_consumer(callback: _F) -> _F:
    """Mark an internal consumer callback that only buffers the message: the
    channel calls it synchronously from the transport, without a task."""
    callback.__amqpio_direct__ = True  # type: ignore[attr-defined]
    return callback


class Queue(AbstractQueue):
    """An AMQP queue bound to a channel."""

    channel: Channel

    def __init__(
        self,
        channel: Channel,
        name: str | None,
        durable: bool,
        exclusive: bool,
        auto_delete: bool,
        arguments: Arguments,
        passive: bool = False,
    ) -> None:
        self.close_callbacks = CallbackCollection(self)
        self.channel = channel
        self.name = name or ""
        self.durable = durable
        self.exclusive = exclusive
        self.auto_delete = auto_delete
        self.arguments = arguments
        self.passive = passive
        self.declaration_result: QueueMethods.DeclareOk

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__}({self}): auto_delete={self.auto_delete}, "
            f"durable={self.durable}, exclusive={self.exclusive}, "
            f"arguments={self.arguments!r}"
        )

    async def declare(self, timeout: TimeoutType = None) -> QueueMethods.DeclareOk:
        """Queue.Declare; a server-named queue takes the broker's name."""
        result: QueueMethods.DeclareOk = await self.channel._request(
            QueueMethods.Declare(
                queue=self.name,
                passive=self.passive,
                durable=self.durable,
                exclusive=self.exclusive,
                auto_delete=self.auto_delete,
                no_wait=False,
                arguments=self.arguments or {},
            ),
            timeout,
        )
        self.declaration_result = result
        self.name = result.queue
        return result

    async def bind(
        self,
        exchange: ExchangeParamType,
        routing_key: str | None = None,
        *,
        arguments: Arguments = None,
        timeout: TimeoutType = None,
    ) -> QueueMethods.BindOk:
        """Bind to an exchange; the routing key defaults to the queue name."""
        result: QueueMethods.BindOk = await self.channel._request(
            QueueMethods.Bind(
                queue=self.name,
                exchange=get_exchange_name(exchange),
                routing_key=self.name if routing_key is None else routing_key,
                no_wait=False,
                arguments=arguments or {},
            ),
            timeout,
        )
        return result

    async def unbind(
        self,
        exchange: ExchangeParamType,
        routing_key: str | None = None,
        arguments: Arguments = None,
        timeout: TimeoutType = None,
    ) -> QueueMethods.UnbindOk:
        """Remove a binding; the routing key defaults to the queue name."""
        result: QueueMethods.UnbindOk = await self.channel._request(
            QueueMethods.Unbind(
                queue=self.name,
                exchange=get_exchange_name(exchange),
                routing_key=self.name if routing_key is None else routing_key,
                arguments=arguments or {},
            ),
            timeout,
        )
        return result

    async def consume(
        self,
        callback: Callable[[AbstractIncomingMessage], Awaitable[Any]],
        no_ack: bool = False,
        exclusive: bool = False,
        arguments: Arguments = None,
        consumer_tag: ConsumerTag | None = None,
        timeout: TimeoutType = None,
    ) -> ConsumerTag:
        """Start a consumer; ``callback`` gets every IncomingMessage.

        Returns the consumer tag (for :meth:`cancel`).
        """
        return await self.channel._consume(
            self.name, callback, no_ack, exclusive, arguments, consumer_tag, timeout
        )

    @overload
    async def cancel(
        self,
        consumer_tag: ConsumerTag,
        timeout: TimeoutType = None,
        nowait: Literal[False] = False,
    ) -> Basic.CancelOk: ...

    @overload
    async def cancel(
        self,
        consumer_tag: ConsumerTag,
        timeout: TimeoutType = None,
        nowait: Literal[True] = True,
    ) -> None: ...

    @overload
    async def cancel(
        self,
        consumer_tag: ConsumerTag,
        timeout: TimeoutType = None,
        nowait: bool = False,
    ) -> Basic.CancelOk | None: ...

    async def cancel(
        self,
        consumer_tag: ConsumerTag,
        timeout: TimeoutType = None,
        nowait: bool = False,
    ) -> Basic.CancelOk | None:
        """Cancel a consumer (messages already delivered stay unacked)."""
        return await self.channel._cancel(consumer_tag, timeout, nowait)

    @overload
    async def get(
        self,
        *,
        no_ack: bool = False,
        fail: Literal[True] = ...,
        timeout: TimeoutType = ...,
    ) -> IncomingMessage: ...

    @overload
    async def get(
        self,
        *,
        no_ack: bool = False,
        fail: Literal[False] = ...,
        timeout: TimeoutType = ...,
    ) -> IncomingMessage | None: ...

    async def get(
        self,
        *,
        no_ack: bool = False,
        fail: bool = True,
        timeout: TimeoutType = 5,
    ) -> IncomingMessage | None:
        """Basic.Get one message; raise ``QueueEmpty`` (or return None) if none."""
        result = await self.channel._request(Basic.Get(self.name, no_ack), timeout)
        if isinstance(result, DeliveryReceived):
            return IncomingMessage._delivered(
                self.channel, result.method, result.properties, result.body, no_ack
            )
        if fail:
            raise QueueEmpty
        return None

    @overload
    async def purge(
        self, no_wait: Literal[False] = False, timeout: TimeoutType = None
    ) -> QueueMethods.PurgeOk: ...

    @overload
    async def purge(
        self, no_wait: Literal[True] = True, timeout: TimeoutType = None
    ) -> None: ...

    @overload
    async def purge(
        self, no_wait: bool = False, timeout: TimeoutType = None
    ) -> QueueMethods.PurgeOk | None: ...

    async def purge(
        self, no_wait: bool = False, timeout: TimeoutType = None
    ) -> QueueMethods.PurgeOk | None:
        """Remove every message that is not awaiting an ack."""
        result: QueueMethods.PurgeOk | None = await self.channel._request(
            QueueMethods.Purge(self.name, no_wait), timeout
        )
        return result

    async def delete(
        self,
        *,
        if_unused: bool = True,
        if_empty: bool = True,
        timeout: TimeoutType = None,
    ) -> QueueMethods.DeleteOk:
        """Delete the queue (by default only when unused and empty, as aio-pika)."""
        result: QueueMethods.DeleteOk = await self.channel._request(
            QueueMethods.Delete(self.name, if_unused, if_empty, False), timeout
        )
        return result

    def __aiter__(self) -> QueueIterator:
        return self.iterator()

    def iterator(self, **kwargs: Any) -> QueueIterator:
        """``async for`` over the queue's messages; kwargs go to ``consume``."""
        return QueueIterator(self, **kwargs)


class QueueIterator(AbstractQueueIterator):
    """Consumes a queue into an in-memory buffer read by ``async for``.

    Messages wait in a deque and one future wakes the reader: no task per
    message. Closing the iterator cancels the consumer and nacks (requeues)
    what was received but not yet handed out.
    """

    DEFAULT_CLOSE_TIMEOUT = 5

    _amqp_queue: Queue

    def __init__(self, queue: Queue, **kwargs: Any) -> None:
        self._amqp_queue = queue
        self._consume_kwargs = kwargs
        self._timeout: float | None = kwargs.pop("timeout", None)
        self._buffer: deque[IncomingMessage] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._tag: ConsumerTag | None = None
        self._closed = asyncio.get_event_loop().create_future()
        self._channel_closed = queue.channel.closed()
        self._channel_closed.add_done_callback(self._on_channel_closed)
        queue.close_callbacks.add(self._on_queue_closed)
        queue.channel.cancel_callbacks.add(self._on_server_cancel)

    @property
    def consumer_tag(self) -> ConsumerTag | None:
        return self._tag

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__}: queue={self._amqp_queue.name!r} "
            f"ctag={self._tag!r}>"
        )

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _on_channel_closed(self, _: asyncio.Future[Any]) -> None:
        if not self._closed.done():
            self._closed.set_result(True)
        self._wake()

    def _on_queue_closed(self, *_: Any) -> None:
        self._on_channel_closed(self._closed)

    def _on_server_cancel(self, _channel: Any, consumer_tag: str) -> None:
        # The broker cancelled our consumer (queue deleted, node lost): nothing
        # more will arrive, so iteration ends after the buffered messages
        # instead of waiting forever (aio-pika's iterator hangs here).
        if consumer_tag == self._tag:
            self._tag = None
            self._on_channel_closed(self._closed)

    @direct_consumer
    def _deliver(self, message: IncomingMessage) -> None:
        # the consumer callback: it only buffers, so no task per message
        self._buffer.append(message)
        self._wake()

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        """Buffer a message as if the broker had delivered it (aio-pika API)."""
        self._deliver(message)  # type: ignore[arg-type]

    async def consume(self) -> None:
        """Start the consumer."""
        self._tag = await self._amqp_queue.consume(
            self._deliver,  # type: ignore[arg-type]
            **self._consume_kwargs,
        )

    async def close(self) -> None:
        """Cancel the consumer and requeue buffered messages."""
        if not self._closed.done():
            self._closed.set_result(True)
        self._wake()
        self._channel_closed.remove_done_callback(self._on_channel_closed)
        self._amqp_queue.close_callbacks.discard(self._on_queue_closed)
        self._amqp_queue.channel.cancel_callbacks.discard(self._on_server_cancel)
        tag, self._tag = self._tag, None
        channel = self._amqp_queue.channel
        if tag is None or channel.is_closed:
            self._buffer.clear()
            return
        try:
            await self._amqp_queue.cancel(tag)
            no_ack = self._consume_kwargs.get("no_ack", False)
            while self._buffer:
                message = self._buffer.popleft()
                if no_ack:
                    log.warning(
                        "Message %r lost: no_ack consumer %r closed", message, self
                    )
                elif not message.processed:
                    await message.nack(requeue=True)
        except (AMQPError, ChannelInvalidStateError):
            if not (channel.is_closed or channel.connection.close_called):
                raise
            # The channel (or its connection) closed meanwhile, e.g. closed by
            # another task: the consumer went with it and the broker requeues
            # what was not acknowledged. Closing the iterator has succeeded.
            self._buffer.clear()

    def __aiter__(self) -> QueueIterator:
        return self

    async def __aenter__(self) -> QueueIterator:
        if self._tag is None:
            await self.consume()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def __anext__(self) -> IncomingMessage:
        if self._buffer:
            return self._buffer.popleft()
        if self._closed.done():
            raise StopAsyncIteration
        if self._tag is None:
            await self.consume()
        while not self._buffer:
            if self._closed.done():
                raise StopAsyncIteration
            self._waiter = asyncio.get_event_loop().create_future()
            try:
                if self._timeout is None:
                    await self._waiter
                else:
                    await asyncio.wait_for(self._waiter, self._timeout)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                # as aio-pika: a timeout, or the waiting reader being cancelled,
                # closes the iterator (consumer cancelled, buffer requeued)
                await self._close_in_background()
                raise
            finally:
                self._waiter = None
        return self._buffer.popleft()

    async def _close_in_background(self) -> None:
        """Close, waiting at most ``DEFAULT_CLOSE_TIMEOUT``; errors are logged."""
        closing = asyncio.ensure_future(self.close())
        closing.add_done_callback(self._log_close_failure)
        await asyncio.wait([closing], timeout=self.DEFAULT_CLOSE_TIMEOUT)

    def _log_close_failure(self, closing: asyncio.Future[None]) -> None:
        if not closing.cancelled() and closing.exception() is not None:
            log.warning(
                "Failed to close queue iterator %r", self, exc_info=closing.exception()
            )
