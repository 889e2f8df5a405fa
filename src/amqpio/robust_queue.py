"""RobustQueue: a queue redeclared, rebound and re-consumed after a reconnect."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal, overload

from .abc import (
    AbstractIncomingMessage,
    AbstractRobustQueue,
    Arguments,
    ConsumerTag,
    ExchangeParamType,
    TimeoutType,
)
from .exceptions import ChannelInvalidStateError, QueueEmpty
from .exchange import get_exchange_name
from .log import logger
from .message import IncomingMessage
from .queue import Queue, QueueIterator

if TYPE_CHECKING:
    from .channel import Channel
    from .robust_channel import RobustChannel

__all__ = ("RobustIncomingMessage", "RobustQueue", "RobustQueueIterator")

log = logger.getChild("robust_queue")


class RobustIncomingMessage(IncomingMessage):
    """A delivery on a robust channel, tied to the channel's incarnation.

    Delivery tags are only valid on the AMQP channel that delivered them. After
    a reconnect (or a reopen) the robust channel is a new AMQP channel: the
    broker has requeued what was not acknowledged, and acking an old tag there
    would ack another message or close the channel. So ``ack``, ``nack`` and
    ``reject`` of a message from an earlier incarnation raise
    :class:`~amqpio.exceptions.ChannelInvalidStateError`, as aio-pika does
    (its message keeps the closed underlying channel).

    Each incarnation builds its messages from its own subclass (see
    :func:`incarnation_class`): the class is the stamp, so a delivery costs
    nothing more than on a plain channel.
    """

    __slots__ = ()

    @property
    def channel(self) -> Any:
        channel: RobustChannel = self._channel  # type: ignore[assignment]
        if channel.is_closed:
            raise ChannelInvalidStateError("channel is closed")
        if type(self) is not channel.MESSAGE_CLASS:
            raise ChannelInvalidStateError(
                "the channel this message was delivered on was lost (the broker "
                "requeues unacknowledged messages): it can no longer be acked"
            )
        return channel

    @property
    def stale(self) -> bool:
        """True when the channel that delivered the message is gone."""
        channel: RobustChannel = self._channel  # type: ignore[assignment]
        return type(self) is not channel.MESSAGE_CLASS


def incarnation_class() -> type[RobustIncomingMessage]:
    """A fresh subclass of RobustIncomingMessage for one channel incarnation."""
    namespace = {
        "__slots__": (),
        "__module__": __name__,
        "__qualname__": RobustIncomingMessage.__qualname__,
    }
    return type(RobustIncomingMessage.__name__, (RobustIncomingMessage,), namespace)


class RobustQueue(Queue, AbstractRobustQueue):
    """A queue on a robust channel.

    Without a name it gets a client-made one, ``amq_<uuid4 hex>`` (aio-pika's),
    so that the same queue can be declared again after a reconnect.
    ``robust=True`` (the default) on :meth:`bind` and :meth:`consume` records
    the binding or consumer for recovery; consumers keep their tags.
    """

    channel: RobustChannel

    def __init__(
        self,
        channel: Channel,
        name: str | None,
        durable: bool = False,
        exclusive: bool = False,
        auto_delete: bool = False,
        arguments: Arguments = None,
        passive: bool = False,
    ) -> None:
        super().__init__(
            channel=channel,
            name=name or f"amq_{uuid.uuid4().hex}",
            durable=durable,
            exclusive=exclusive,
            auto_delete=auto_delete,
            arguments=arguments,
            passive=passive,
        )

    async def restore(self, channel: Any = None) -> None:
        """Declare the queue again with its recorded bindings and consumers."""
        await self.channel._restore_queue(self.name)

    async def bind(
        self,
        exchange: ExchangeParamType,
        routing_key: str | None = None,
        *,
        arguments: Arguments = None,
        timeout: TimeoutType = None,
        robust: bool = True,
    ) -> Any:
        """Bind to an exchange; ``robust``: bind again after a reconnect."""
        if routing_key is None:
            routing_key = self.name
        result = await super().bind(
            exchange, routing_key, arguments=arguments, timeout=timeout
        )
        if robust:
            self.channel._topology.record_queue_binding(
                self.name, get_exchange_name(exchange), routing_key, arguments
            )
        return result

    async def unbind(
        self,
        exchange: ExchangeParamType,
        routing_key: str | None = None,
        arguments: Arguments = None,
        timeout: TimeoutType = None,
    ) -> Any:
        """Remove a binding (and stop restoring it)."""
        if routing_key is None:
            routing_key = self.name
        result = await super().unbind(exchange, routing_key, arguments, timeout)
        self.channel._topology.forget_queue_binding(
            self.name, get_exchange_name(exchange), routing_key, arguments
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
        robust: bool = True,
    ) -> ConsumerTag:
        """Start a consumer; ``robust``: start it again (same tag) after a reconnect."""
        tag = await super().consume(
            callback,
            no_ack=no_ack,
            exclusive=exclusive,
            arguments=arguments,
            consumer_tag=consumer_tag,
            timeout=timeout,
        )
        if robust:
            self.channel._topology.record_consumer(
                tag,
                self.name,
                callback,
                no_ack=no_ack,
                exclusive=exclusive,
                arguments=arguments,
            )
        return tag

    @overload
    async def cancel(
        self,
        consumer_tag: ConsumerTag,
        timeout: TimeoutType = None,
        nowait: Literal[False] = False,
    ) -> Any: ...

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
    ) -> Any: ...

    async def cancel(
        self,
        consumer_tag: ConsumerTag,
        timeout: TimeoutType = None,
        nowait: bool = False,
    ) -> Any:
        """Cancel a consumer; it is not restored any more, even if this fails."""
        self.channel._forget_consumer(consumer_tag)
        return await super().cancel(consumer_tag, timeout, nowait)

    async def delete(
        self,
        *,
        if_unused: bool = True,
        if_empty: bool = True,
        timeout: TimeoutType = None,
    ) -> Any:
        """Delete the queue (and stop restoring it on every channel)."""
        result = await super().delete(
            if_unused=if_unused, if_empty=if_empty, timeout=timeout
        )
        self.channel._forget_queue_everywhere(self.name)
        return result

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
        """Basic.Get, as :meth:`Queue.get`; the message is tied to this incarnation."""
        # taken before the request: if the channel is lost between the reply and
        # here, the message must count as stale (the safe way to be wrong)
        incarnation = self.channel.MESSAGE_CLASS
        message = await super().get(no_ack=no_ack, fail=False, timeout=timeout)
        if message is None:
            if fail:
                raise QueueEmpty
            return None
        return _robust_message(message, incarnation)

    def iterator(self, **kwargs: Any) -> RobustQueueIterator:
        """``async for`` over the queue that survives reconnects."""
        return RobustQueueIterator(self, **kwargs)


def _robust_message(
    message: IncomingMessage, incarnation: type[IncomingMessage]
) -> IncomingMessage:
    """``message`` rebuilt as an instance of ``incarnation``."""
    robust = incarnation.__new__(incarnation)
    for cls in type(message).__mro__:
        slots = getattr(cls, "__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name != "__weakref__" and hasattr(message, name):
                setattr(robust, name, getattr(message, name))
    return robust


class RobustQueueIterator(QueueIterator):
    """A queue iterator that keeps iterating across reconnects.

    It ends when the channel or connection is closed, not when the connection
    drops: the consumer is restored with the channel. Messages buffered from
    before a reconnect are dropped (the broker requeued them and delivers them
    again, flagged ``redelivered``).
    """

    _amqp_queue: RobustQueue

    def _on_server_cancel(self, _channel: Any, consumer_tag: str) -> None:
        # the robust channel re-establishes a cancelled consumer: keep iterating
        return

    async def __anext__(self) -> IncomingMessage:
        while True:
            message = await super().__anext__()
            if isinstance(message, RobustIncomingMessage) and message.stale:
                log.debug("Dropping %r from before a reconnect", message)
                continue
            return message

    async def close(self) -> None:
        tag = self._tag
        if tag is not None:
            # even when the channel is down and nothing is sent, the consumer
            # must not come back with the channel
            self._amqp_queue.channel._forget_consumer(tag)
        await super().close()
