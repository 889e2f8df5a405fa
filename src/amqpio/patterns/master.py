"""Master/Worker: tasks published to a named queue, processed by its consumers.

A task is a persistent message on the default exchange, routed to the queue
named after the task; its body is the serialized kwargs of the worker
function. A worker consumes that queue and acks a task when the function
returns, rejects it (requeue per ``Master(requeue=...)``) when it raises, and
obeys :class:`RejectMessage` / :class:`NackMessage` raised by the function.
Several workers on one queue share its tasks (round robin, each task to one
worker at a time).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
from collections.abc import Awaitable, Mapping
from functools import partial
from types import MappingProxyType
from typing import Any

from ..abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    ConsumerTag,
    DeliveryMode,
    PublishResultType,
)
from ..message import Message
from ..tools import ensure_awaitable
from .base import Base, CallbackType, Proxy, T, as_body, get_loop

__all__ = (
    "CompressedJsonMaster",
    "JsonMaster",
    "Master",
    "MessageProcessingError",
    "NackMessage",
    "RejectMessage",
    "Worker",
)

log = logging.getLogger(__name__)


class MessageProcessingError(Exception):
    """Base of the exceptions a worker function raises to settle its task."""


class NackMessage(MessageProcessingError):
    """Raise from a worker function to nack the task (``requeue`` or drop it)."""

    def __init__(self, requeue: bool = False) -> None:
        super().__init__(requeue)
        self.requeue = requeue


class RejectMessage(MessageProcessingError):
    """Raise from a worker function to reject the task (``requeue`` or drop it)."""

    def __init__(self, requeue: bool = False) -> None:
        super().__init__(requeue)
        self.requeue = requeue


class Worker:
    """A consumer created by :meth:`Master.create_worker`."""

    __slots__ = ("consumer_tag", "loop", "queue")

    def __init__(
        self,
        queue: AbstractQueue,
        consumer_tag: ConsumerTag,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.queue = queue
        self.consumer_tag = consumer_tag
        self.loop = loop

    def close(self) -> Awaitable[None]:
        """Cancel the consumer; returns a task (await it to wait for the cancel).

        Tasks already delivered to this worker stay unacked until the
        function settles them; the queue itself is left alone.
        """

        async def closer() -> None:
            await self.queue.cancel(self.consumer_tag)

        return self.loop.create_task(closer())


class Master(Base):
    """Implements the Master/Worker pattern.

    ``worker.py``::

        master = Master(channel)
        worker = await master.create_worker("resize", resize, auto_delete=True)

    ``master.py``::

        master = Master(channel)
        await master.proxy.resize(path="a.png", width=10)
        await master.create_task("resize", kwargs={"path": "b.png", "width": 10})

    :param requeue: requeue a task whose function raised an unexpected
        exception (else it is dropped, or dead-lettered if the queue says so).
    :param reject_on_redelivered: drop instead of requeueing a task that
        failed on its second delivery, so a poison task cannot loop forever.
    """

    __slots__ = ("_reject_on_redelivered", "_requeue", "channel", "loop", "proxy")

    DELIVERY_MODE = DeliveryMode.PERSISTENT

    def __init__(
        self,
        channel: AbstractChannel,
        requeue: bool = True,
        reject_on_redelivered: bool = False,
    ) -> None:
        self.channel: AbstractChannel = channel
        self.loop: asyncio.AbstractEventLoop = get_loop()
        self.proxy = Proxy(self.create_task)
        self.channel.return_callbacks.add(self.on_message_returned)
        self._requeue = requeue
        self._reject_on_redelivered = reject_on_redelivered

    @property
    def exchange(self) -> AbstractExchange:
        """Where tasks are published: the channel's default exchange."""
        return self.channel.default_exchange

    @staticmethod
    def on_message_returned(
        channel: AbstractChannel | None,
        message: AbstractIncomingMessage,
    ) -> None:
        """Log a task the broker could not route (no queue of that name)."""
        log.warning(
            "Message returned. Probably destination queue does not exists: %r",
            message,
        )

    def serialize(self, data: Any) -> bytes:
        """Serialize task kwargs (pickle by default; override to change)."""
        return super().serialize(data)

    def deserialize(self, data: bytes) -> Any:
        """Deserialize task kwargs (pickle by default; override to change)."""
        return super().deserialize(data)

    @classmethod
    async def execute(cls, func: CallbackType[T], kwargs: Any) -> T:
        """Run a worker function with the task's kwargs.

        Kwargs that are not a dict reject the task without requeueing it.
        """
        kwargs = kwargs or {}
        if not isinstance(kwargs, dict):
            log.error("Bad kwargs %r received for the %r", kwargs, func)
            raise RejectMessage(requeue=False)
        return await func(**kwargs)

    async def on_message(
        self,
        func: CallbackType[Any],
        message: AbstractIncomingMessage,
    ) -> None:
        """Process one task: ack on return, settle per the raised exception."""
        async with message.process(
            requeue=self._requeue,
            reject_on_redelivered=self._reject_on_redelivered,
            ignore_processed=True,
        ):
            try:
                await self.execute(func, self.deserialize(message.body))
            except RejectMessage as e:
                await message.reject(requeue=e.requeue)
            except NackMessage as e:
                await message.nack(requeue=e.requeue)

    async def create_queue(self, queue_name: str, **kwargs: Any) -> AbstractQueue:
        """Declare the task queue (kwargs go to ``declare_queue``)."""
        return await self.channel.declare_queue(queue_name, **kwargs)

    async def create_worker(
        self,
        queue_name: str,
        func: CallbackType[Any],
        **kwargs: Any,
    ) -> Worker:
        """Declare queue ``queue_name`` (kwargs go to ``declare_queue``) and consume it.

        ``func`` receives each task's kwargs as keyword arguments.
        """
        queue = await self.create_queue(queue_name, **kwargs)
        consumer_tag = await queue.consume(
            partial(self.on_message, ensure_awaitable(func))
        )
        return Worker(queue, consumer_tag, self.loop)

    async def create_task(
        self,
        channel_name: str,
        kwargs: Mapping[str, Any] = MappingProxyType({}),
        **message_kwargs: Any,
    ) -> PublishResultType | None:
        """Publish a task for the workers of queue ``channel_name``.

        ``message_kwargs`` are :class:`~amqpio.Message` properties (for
        example ``expiration`` or ``priority``). Returns the publish result;
        an unroutable task is returned by the broker and logged.
        """
        if isinstance(kwargs, Mapping) and not isinstance(kwargs, dict):
            kwargs = dict(kwargs)  # a mappingproxy does not pickle
        message = Message(
            body=as_body(self.serialize(kwargs)),
            content_type=self.CONTENT_TYPE,
            delivery_mode=self.DELIVERY_MODE,
            **message_kwargs,
        )
        return await self.exchange.publish(message, channel_name, mandatory=True)


class JsonMaster(Master):
    """:class:`Master` with JSON bodies (``application/json``)."""

    SERIALIZER = json
    CONTENT_TYPE = "application/json"

    def serialize(self, data: Any) -> bytes:
        return self.SERIALIZER.dumps(data, ensure_ascii=False).encode()


class CompressedJsonMaster(Master):
    """:class:`Master` with gzip-compressed JSON bodies."""

    SERIALIZER = json
    CONTENT_TYPE = "application/json;compression=gzip"
    COMPRESS_LEVEL = 6

    def serialize(self, data: Any) -> bytes:
        return gzip.compress(
            self.SERIALIZER.dumps(data, ensure_ascii=False).encode(),
            compresslevel=self.COMPRESS_LEVEL,
        )

    def deserialize(self, data: bytes) -> Any:
        return self.SERIALIZER.loads(gzip.decompress(data))
