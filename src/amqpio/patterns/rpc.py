"""Remote procedure calls over RabbitMQ, compatible with aio-pika's ``RPC``.

Wire format (aio-pika's, so amqpio and aio-pika peers interoperate):

- ``register("name", func)`` declares the queue ``name`` (with
  ``x-dead-letter-exchange: rpc.dlx``) and consumes it. With
  ``RPC.create(channel, exchange="x")`` the queue is ``x::name``, bound to the
  direct exchange ``x``, and calls are published there.
- A call is a message of type ``call`` whose body is the serialized kwargs,
  with a fresh ``correlation_id``, ``reply_to`` the caller's reply queue and
  the header ``From`` with the same name; it is published with
  ``mandatory=True``, so a call nobody registered comes back as a Basic.Return
  and fails at once.
- The callee answers on the default exchange to ``reply_to`` with a message of
  type ``result`` (the serialized return value) or ``error`` (the serialized
  exception, re-raised at the caller), then acks the call.
- A call published with ``expiration`` that expires in the method queue is
  dead-lettered to the headers exchange ``rpc.dlx``, where the caller's reply
  queue is bound with ``From = <its name>``: the caller receives its own call
  back and raises :class:`asyncio.TimeoutError`.

Direct reply-to mode (amqpio only, opt-in): ``RPC.create(channel,
direct_reply_to=True)`` (or a subclass with ``DIRECT_REPLY_TO = True``)
consumes RabbitMQ's pseudo-queue ``amq.rabbitmq.reply-to`` instead of
declaring a reply queue. Creating the caller costs no queue, binding or
exchange, and replies skip queue bookkeeping in the broker. Callees need
nothing special: any aio-pika or amqpio callee answers to ``reply_to``. As
the pseudo-queue cannot be bound to ``rpc.dlx``, ``expiration`` is enforced
by a local timer instead: the call raises :class:`asyncio.TimeoutError` once
``expiration`` seconds have passed since it was published (the expired
message is still dropped by the broker, and a reply that comes later is
discarded). Over a robust channel the reply consumer is started again on the
new channel after a reconnect, before the next call is published.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable
from enum import Enum
from functools import partial
from typing import Any, ClassVar, TypeVar

from ..abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustQueue,
    ConsumerTag,
    DeliveryMode,
    ExchangeType,
)
from ..exceptions import ChannelInvalidStateError, MessageProcessError
from ..message import Message
from ..tools import ensure_awaitable
from .base import Base, CallbackType, Proxy, T, as_body, get_loop

__all__ = (
    "DIRECT_REPLY_TO_QUEUE",
    "RPC",
    "JsonRPC",
    "JsonRPCError",
    "RPCException",
    "RPCMessageType",
)

log = logging.getLogger(__name__)

#: RabbitMQ's direct reply-to pseudo-queue.
DIRECT_REPLY_TO_QUEUE = "amq.rabbitmq.reply-to"


class RPCException(RuntimeError):
    """A callee answered with an error that is not an exception object."""


class RPCMessageType(str, Enum):
    """The ``type`` property of RPC messages."""

    ERROR = "error"
    RESULT = "result"
    CALL = "call"


# aio-pika 6.x's name, still exported by aio-pika
RPCMessageTypes = RPCMessageType

_RPC = TypeVar("_RPC", bound="RPC")

_RESULT = RPCMessageType.RESULT.value
_ERROR = RPCMessageType.ERROR.value
_CALL = RPCMessageType.CALL.value


class RPC(Base):
    """Remote procedure call helper.

    Create an instance (it declares its reply queue)::

        rpc = await RPC.create(channel)

    Register a coroutine function; it receives keyword arguments only::

        async def multiply(*, x, y):
            return x * y

        await rpc.register("multiply", multiply, auto_delete=True)

    Call it through the proxy or explicitly::

        assert await rpc.proxy.multiply(x=2, y=3) == 6
        assert await rpc.call("multiply", kwargs=dict(x=2, y=3)) == 6

    An exception raised by the remote function is raised by the call (pickled
    by default: see :mod:`amqpio.patterns.base` about pickle and trust;
    :class:`JsonRPC` is the safe choice between parties that do not trust
    each other). ``RPC.create(channel, host_exceptions=True)`` also logs
    handler exceptions on the callee. ``RPC.create(channel,
    direct_reply_to=True)`` uses RabbitMQ's direct reply-to (see the module
    docstring).
    """

    __slots__ = (
        "_call_counter",
        "_correlation_prefix",
        "_direct",
        "_reply_lock",
        "_reply_stale",
        "_state",
        "channel",
        "consumer_tags",
        "dlx_exchange",
        "futures",
        "host_exceptions",
        "loop",
        "proxy",
        "queues",
        "result_consumer_tag",
        "result_queue",
        "routes",
        "rpc_exchange",
    )

    DLX_NAME = "rpc.dlx"
    DELIVERY_MODE = DeliveryMode.NOT_PERSISTENT
    #: Default of ``initialize(direct_reply_to=...)`` for this class.
    DIRECT_REPLY_TO: ClassVar[bool] = False

    result_queue: AbstractQueue
    result_consumer_tag: ConsumerTag
    dlx_exchange: AbstractExchange
    rpc_exchange: AbstractExchange | None

    def __init__(self, channel: AbstractChannel, host_exceptions: bool = False) -> None:
        self.channel = channel
        self.loop = get_loop()
        self.proxy = Proxy(self.call)
        self.futures: dict[str, asyncio.Future[Any]] = {}
        self.routes: dict[str, CallbackType[Any]] = {}
        self.queues: dict[Callable[..., Any], AbstractQueue] = {}
        self.consumer_tags: dict[Callable[..., Any], ConsumerTag] = {}
        self.host_exceptions = host_exceptions
        self.rpc_exchange = None
        self._state = "new"  # -> "initialized" -> "closed"
        self._direct = False
        self._reply_stale = True
        self._reply_lock = asyncio.Lock()
        self._correlation_prefix = uuid.uuid4().hex
        self._call_counter = 0

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._state} channel={self.channel!r}>"

    @property
    def direct_reply_to(self) -> bool:
        """Whether replies come through ``amq.rabbitmq.reply-to``."""
        return self._direct

    # -- lifecycle ---------------------------------------------------------------

    @classmethod
    async def create(
        cls: type[_RPC],
        channel: AbstractChannel,
        *,
        host_exceptions: bool | None = None,
        **kwargs: Any,
    ) -> _RPC:
        """Create and initialize an RPC instance (use this, not ``__init__``).

        :param channel: an open channel (plain or robust).
        :param host_exceptions: log exceptions raised by registered functions
            (keeps the constructor's setting when omitted).
        :param kwargs: passed to :meth:`initialize`: ``auto_delete``,
            ``durable``, ``exchange``, ``direct_reply_to`` and arguments of
            the reply queue declaration.
        """
        rpc = cls(channel)
        if host_exceptions is not None:
            rpc.host_exceptions = host_exceptions
        await rpc.initialize(**kwargs)
        return rpc

    async def initialize(
        self,
        auto_delete: bool = True,
        durable: bool = False,
        exchange: str = "",
        *,
        direct_reply_to: bool | None = None,
        **kwargs: Any,
    ) -> None:
        """Declare the reply queue, bind it to ``DLX_NAME`` and consume it.

        :param auto_delete: ``auto_delete`` of the reply queue (and ``exchange``).
        :param durable: ``durable`` of the reply queue and ``exchange``.
        :param exchange: publish calls to this direct exchange (declared
            here) instead of the default exchange.
        :param direct_reply_to: consume ``amq.rabbitmq.reply-to`` instead of
            declaring a reply queue (default: the class's ``DIRECT_REPLY_TO``).
        :param kwargs: more arguments of the reply queue declaration.
        """
        if self._state != "new":
            return
        direct = self.DIRECT_REPLY_TO if direct_reply_to is None else direct_reply_to
        channel = self.channel
        if exchange:
            self.rpc_exchange = await channel.declare_exchange(
                exchange,
                type=ExchangeType.DIRECT,
                auto_delete=True,
                durable=durable,
            )
        if direct:
            self._direct = True
            # a pseudo-queue: it cannot be declared, only consumed (no_ack)
            self.result_queue = await channel.get_queue(
                DIRECT_REPLY_TO_QUEUE, ensure=False
            )
        else:
            self.result_queue = await channel.declare_queue(
                None, auto_delete=auto_delete, durable=durable, **kwargs
            )
        self.dlx_exchange = await channel.declare_exchange(
            self.DLX_NAME, type=ExchangeType.HEADERS, auto_delete=True
        )
        if direct:
            await self._start_direct_consumer()
        else:
            await self.result_queue.bind(
                self.dlx_exchange,
                "",
                arguments={"From": self.result_queue.name, "x-match": "any"},
            )
            self.result_consumer_tag = await self.result_queue.consume(
                self.on_result_message, exclusive=True, no_ack=True
            )
        channel.close_callbacks.add(self.on_close)
        channel.return_callbacks.add(self.on_message_returned)
        if direct:
            channel.close_callbacks.add(self._on_channel_lost)
        self._state = "initialized"

    async def _start_direct_consumer(self) -> None:
        queue = self.result_queue
        self._reply_stale = False
        try:
            if isinstance(queue, AbstractRobustQueue):
                # started again by call() after a reconnect: the robust layer
                # must not restore it as well (one reply consumer per channel)
                tag = await queue.consume(
                    self.on_result_message, no_ack=True, robust=False
                )
            else:
                tag = await queue.consume(self.on_result_message, no_ack=True)
        except BaseException:
            self._reply_stale = True
            raise
        self.result_consumer_tag = tag

    async def _ensure_direct_consumer(self) -> None:
        # A reply consumer lives and dies with one AMQP channel: after a robust
        # channel was restored the broker refuses reply_to=amq.rabbitmq.reply-to
        # (406, "fast reply consumer does not exist") until a new one consumes.
        async with self._reply_lock:
            if self._reply_stale:
                await self._start_direct_consumer()

    def _on_channel_lost(
        self, channel: AbstractChannel | None, exc: BaseException | None = None
    ) -> None:
        self._reply_stale = True

    async def close(self) -> None:
        """Stop receiving replies and fail pending calls with ``CancelledError``.

        Deletes the reply queue. Registered functions keep being served
        (:meth:`unregister` them first to stop that).
        """
        if self._state != "initialized":
            log.warning("RPC already closed")
            return
        self._state = "closed"
        channel = self.channel
        channel.close_callbacks.discard(self.on_close)
        channel.close_callbacks.discard(self._on_channel_lost)
        channel.return_callbacks.discard(self.on_message_returned)
        log.debug("Cancelling undone futures %r", self.futures)
        for future in tuple(self.futures.values()):
            if not future.done():
                future.set_exception(asyncio.CancelledError())
        if self._direct and self._reply_stale:
            return  # the reply consumer died with its AMQP channel
        queue = self.result_queue
        try:
            # a robust channel that is down waits here until it is restored,
            # so that the reply queue is not restored after this close
            await queue.cancel(self.result_consumer_tag)
            if self._direct:
                return
            await queue.unbind(
                self.dlx_exchange,
                "",
                arguments={"From": queue.name, "x-match": "any"},
            )
            # replies that came after the cancel may still sit in it
            await queue.delete(if_unused=False, if_empty=False)
        except ChannelInvalidStateError:
            log.debug("RPC closed after its channel %r", channel)

    # -- callbacks -----------------------------------------------------------------

    def on_close(
        self,
        channel: AbstractChannel | None,
        exc: BaseException | None = None,
    ) -> None:
        """The channel closed: fail every pending call with the reason."""
        log.debug("Closing RPC futures because %r", exc)
        for future in tuple(self.futures.values()):
            if not future.done():
                future.set_exception(exc or Exception("RPC channel closed"))

    def on_message_returned(
        self,
        channel: AbstractChannel | None,
        message: AbstractIncomingMessage,
    ) -> None:
        """A call was unroutable (no such method): fail it at once."""
        correlation_id = message.correlation_id
        if correlation_id is None:
            log.warning("Message without correlation_id was returned: %r", message)
            return
        future = self.futures.pop(correlation_id, None)
        if future is None or future.done():
            log.warning("Unknown message was returned: %r", message)
            return
        future.set_exception(MessageProcessError("Message has been returned", message))

    async def on_result_message(self, message: AbstractIncomingMessage) -> None:
        """A reply (or an expired call, dead-lettered back): settle its future."""
        correlation_id = message.correlation_id
        if correlation_id is None:
            log.warning("Message without correlation_id was received: %r", message)
            return
        future = self.futures.pop(correlation_id, None)
        if future is None:
            log.warning("Unknown message: %r", message)
            return
        if future.done():
            return
        try:
            payload = await self.deserialize_message(message)
        except Exception as e:
            log.error("Failed to deserialize response on message: %r", message)
            future.set_exception(e)
            return
        message_type = message.type
        if message_type == _RESULT:
            future.set_result(payload)
        elif message_type == _ERROR:
            if not isinstance(payload, Exception):
                payload = RPCException("Wrapped non-exception object", payload)
            future.set_exception(payload)
        elif message_type == _CALL:
            future.set_exception(asyncio.TimeoutError("Message timed-out", message))
        else:
            future.set_exception(RuntimeError(f"Unknown message type {message_type!r}"))

    async def on_call_message(
        self, method_name: str, message: AbstractIncomingMessage
    ) -> None:
        """Run a registered function for a call and publish the reply."""
        routing_key = self._format_routing_key(method_name)
        func = self.routes.get(routing_key)
        if func is None:
            log.warning("Method %r not registered in %r", method_name, self)
            return
        try:
            payload = await self.deserialize_message(message)
            result: Any = await self.execute(func, payload)
            message_type = RPCMessageType.RESULT
        except Exception as e:
            result = self.serialize_exception(e)
            message_type = RPCMessageType.ERROR
            if self.host_exceptions is True:
                log.exception(e)

        if not message.reply_to:
            log.info(
                'RPC message without "reply_to" header %r call result will be lost',
                message,
            )
            await message.ack()
            return

        try:
            result_message = await self.serialize_message(
                payload=result,
                message_type=message_type,
                correlation_id=message.correlation_id,
                delivery_mode=message.delivery_mode,
            )
        except asyncio.CancelledError:
            raise
        except Exception as e:
            result_message = await self.serialize_message(
                payload=e,
                message_type=RPCMessageType.ERROR,
                correlation_id=message.correlation_id,
                delivery_mode=message.delivery_mode,
            )

        try:
            await self.channel.default_exchange.publish(
                result_message, message.reply_to, mandatory=False
            )
        except Exception as exc:
            log.error(
                "Failed to send reply %r due to %s: %s",
                result_message,
                type(exc).__name__,
                exc,
            )
            await message.reject(requeue=False)
            return
        await message.ack()

    # -- serialization hooks ---------------------------------------------------------

    def serialize_exception(self, exception: Exception) -> Any:
        """What an exception raised by a registered function is sent as.

        The exception itself by default (pickled); the caller raises it.
        """
        return exception

    async def execute(self, func: CallbackType[T], payload: dict[str, Any]) -> T:
        """Run a registered function with the call's kwargs (override to wrap)."""
        return await func(**payload)

    async def deserialize_message(self, message: AbstractIncomingMessage) -> Any:
        """The payload of a call or a reply (``deserialize(message.body)``)."""
        return self.deserialize(message.body)

    async def serialize_message(
        self,
        payload: Any,
        message_type: RPCMessageType,
        correlation_id: str | None,
        delivery_mode: DeliveryMode,
        **kwargs: Any,
    ) -> Message:
        """Build a call or reply message (kwargs are more Message properties)."""
        return Message(
            as_body(self.serialize(payload)),
            content_type=self.CONTENT_TYPE,
            correlation_id=correlation_id,
            delivery_mode=delivery_mode,
            timestamp=time.time(),
            type=message_type._value_,  # .value is a slow enum property
            **kwargs,
        )

    # -- calls -------------------------------------------------------------------------

    def _format_routing_key(self, method_name: str) -> str:
        exchange = self.rpc_exchange
        return f"{exchange.name}::{method_name}" if exchange else method_name

    def create_future(self) -> tuple[asyncio.Future[Any], str]:
        """A future for one call and its new correlation id (tracked until done)."""
        future: asyncio.Future[Any] = self.loop.create_future()
        self._call_counter += 1
        correlation_id = f"{self._correlation_prefix}.{self._call_counter}"
        self.futures[correlation_id] = future
        return future, correlation_id

    async def call(
        self,
        method_name: str,
        kwargs: dict[str, Any] | None = None,
        *,
        expiration: int | None = None,
        priority: int = 5,
        delivery_mode: DeliveryMode = DELIVERY_MODE,
    ) -> Any:
        """Call a remote function and wait for its result.

        :param method_name: name it was registered with.
        :param kwargs: its keyword arguments.
        :param expiration: seconds the call may wait in the method queue;
            then :class:`asyncio.TimeoutError` is raised (with direct
            reply-to: seconds until the result must have arrived).
        :param priority: message priority of the call.
        :param delivery_mode: delivery mode of the call (and of the reply).
        :raises asyncio.TimeoutError: the call expired.
        :raises asyncio.CancelledError: :meth:`close` was called meanwhile.
        :raises amqpio.exceptions.MessageProcessError: nothing is registered
            under ``method_name`` (the broker returned the call).
        :raises Exception: whatever the remote function raised.
        """
        if self._state != "initialized":
            raise RuntimeError(f"{self!r} is not initialized (use RPC.create)")
        future, correlation_id = self.create_future()
        timer: asyncio.TimerHandle | None = None
        try:
            properties: dict[str, Any] = {"priority": priority}
            if self._direct:
                reply_to = DIRECT_REPLY_TO_QUEUE
            else:
                reply_to = self.result_queue.name
                # what the rpc.dlx binding of the reply queue matches
                properties["headers"] = {"From": reply_to}
            if expiration is not None:
                properties["expiration"] = expiration
            message = await self.serialize_message(
                payload=kwargs or {},
                message_type=RPCMessageType.CALL,
                correlation_id=correlation_id,
                delivery_mode=delivery_mode,
                reply_to=reply_to,
                **properties,
            )
            routing_key = self._format_routing_key(method_name)
            exchange = self.rpc_exchange or self.channel.default_exchange
            if self._direct and (self._reply_stale or self._reply_lock.locked()):
                # the reply consumer is being started: publishing before its
                # Basic.Consume reached the broker would be refused (406)
                await self._ensure_direct_consumer()
            result = await exchange.publish(
                message, routing_key=routing_key, mandatory=True
            )
            if isinstance(result, AbstractIncomingMessage) and not future.done():
                # returned (unroutable) while the channel has publisher confirms
                future.set_exception(
                    MessageProcessError("Message has been returned", result)
                )
            if self._direct and expiration is not None and not future.done():
                timer = self.loop.call_later(
                    expiration, _expire, future, "Message timed-out"
                )
            return await future
        finally:
            if timer is not None:
                timer.cancel()
            self.futures.pop(correlation_id, None)
            if not future.done():
                future.cancel()
            elif not future.cancelled():
                future.exception()  # retrieved: the caller got it

    # -- callee side ---------------------------------------------------------------------

    async def register(
        self, method_name: str, func: CallbackType[Any], **kwargs: Any
    ) -> Any:
        """Serve ``func`` under ``method_name``: declare its queue and consume it.

        :param method_name: the name callers use.
        :param func: a coroutine function taking keyword arguments only.
        :param kwargs: arguments of the queue declaration (``durable``,
            ``auto_delete``, ``arguments``...; ``x-dead-letter-exchange`` is
            set to :attr:`DLX_NAME`).
        :raises RuntimeError: ``func`` or ``method_name`` is already registered
            on this instance.
        """
        routing_key = self._format_routing_key(method_name)
        if func in self.consumer_tags or func in self.queues:
            raise RuntimeError("Function already registered")
        if routing_key in self.routes:
            raise RuntimeError(
                f"Method name already used for {self.routes[routing_key]!r}"
            )
        arguments = dict(kwargs.pop("arguments", None) or {})
        arguments["x-dead-letter-exchange"] = self.DLX_NAME
        kwargs["arguments"] = arguments
        # reserved before the first await: a concurrent register of the same
        # name or function fails instead of consuming twice
        self.routes[routing_key] = ensure_awaitable(func)
        try:
            queue = await self.channel.declare_queue(routing_key, **kwargs)
            self.queues[func] = queue
            if self.rpc_exchange is not None:
                await queue.bind(self.rpc_exchange, routing_key)
            self.consumer_tags[func] = await queue.consume(
                partial(self.on_call_message, method_name)
            )
        except BaseException:
            self.routes.pop(routing_key, None)
            self.queues.pop(func, None)
            raise
        return None

    async def unregister(self, func: CallbackType[Any]) -> None:
        """Stop serving ``func`` (cancels the consumer; the queue stays)."""
        if func not in self.consumer_tags:
            return
        consumer_tag = self.consumer_tags.pop(func)
        queue = self.queues.pop(func)
        self.routes.pop(queue.name, None)
        await queue.cancel(consumer_tag)


def _expire(future: asyncio.Future[Any], reason: str) -> None:
    if not future.done():
        future.set_exception(asyncio.TimeoutError(reason))


class JsonRPCError(RuntimeError):
    """A :class:`JsonRPC` callee raised; ``args[1]`` is its error dict."""


class JsonRPC(RPC):
    """:class:`RPC` with JSON bodies; remote errors raise :class:`JsonRPCError`.

    The error payload is ``{"error": {"type", "message", "args"}}``. Results
    that JSON cannot represent are sent as their ``repr``.
    """

    SERIALIZER = json
    CONTENT_TYPE = "application/json"

    def serialize(self, data: Any) -> bytes:
        return self.SERIALIZER.dumps(data, ensure_ascii=False, default=repr).encode()

    def serialize_exception(self, exception: Exception) -> Any:
        return {
            "error": {
                "type": exception.__class__.__name__,
                "message": repr(exception),
                "args": exception.args,
            }
        }

    async def deserialize_message(self, message: AbstractIncomingMessage) -> Any:
        payload = await super().deserialize_message(message)
        if message.type == _ERROR:
            payload = JsonRPCError("RPC exception", payload)
        return payload
