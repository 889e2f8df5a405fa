"""RobustChannel: a channel that is reopened and restored after it is lost.

Theory of operation. A robust channel outlives the AMQP channels under it:
each one is an *incarnation*, numbered by ``_epoch``. When an incarnation ends
without the application closing the channel (the connection dropped, or the
broker closed the channel with a channel exception), the object stays usable:
``is_closed`` is true, calls wait (up to their timeout) until a new
incarnation is open and restored, and its recorded topology (``_topology``,
plain data from :mod:`amqpio._topology`) is declared again:

* after a connection loss, by the robust connection, for all its channels at
  once, so that the dependency order holds across channels;
* after a channel exception (connection still up), by the channel itself,
  retried with backoff; a channel that failed during the connection's pass
  (e.g. 405 RESOURCE_LOCKED on an exclusive queue the broker has not reaped
  yet) is retried the same way.

Restore work runs in a task whose context has ``_RESTORING`` set, so that
requests made by it skip the "wait until restored" gate that the
application's calls go through. A publish whose confirm is pending when the
connection drops fails with :class:`~amqpio.exceptions.PublishOutcomeUnknownError`.
A consumer cancelled by the broker (Basic.Cancel: queue deleted, node lost) is
reported through ``cancel_callbacks`` and, if recorded, re-established once its
queue can be declared again (checked on a separate, short-lived channel).
"""

from __future__ import annotations

import asyncio
import contextvars
import warnings
from collections.abc import Coroutine, Generator
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast, overload

from . import exceptions as exc
from ._topology import (
    ConsumerRecord,
    ExchangeBindingRecord,
    ExchangeRecord,
    QosRecord,
    QueueBindingRecord,
    QueueRecord,
    Record,
    Topology,
    replay_plan,
)
from .abc import (
    AbstractMessage,
    AbstractRobustChannel,
    Arguments,
    ExceptionType,
    ExchangeType,
    TimeoutType,
)
from .channel import Channel, ConsumerCallback
from .exchange import Exchange
from .log import logger
from .queue import Queue
from .robust_exchange import RobustExchange
from .robust_queue import RobustQueue, incarnation_class
from .tools import CallbackCollection

if TYPE_CHECKING:
    from .robust_connection import RobustConnection

__all__ = ("RobustChannel",)

log = logger.getChild("robust_channel")

_T = TypeVar("_T")

#: True in the tasks that restore channels: their requests must not wait for
#: the restore they are part of.
_RESTORING: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "amqpio_restoring", default=False
)

#: Failures of one channel (not of the connection) while restoring it.
CHANNEL_ERRORS: tuple[type[BaseException], ...] = (
    exc.AMQPChannelError,
    exc.ChannelInvalidStateError,
    asyncio.TimeoutError,
)


class Flag(asyncio.Event):
    """An ``asyncio.Event`` that also hands out futures (:meth:`waiter`).

    Waiting for the flag *or* something else (``asyncio.wait``) then needs no
    task. A task made only to run ``event.wait()`` and cancelled before it
    started leaves a coroutine that was never awaited (a RuntimeWarning on
    Python 3.12+, one per waiting call).
    """

    def __init__(self) -> None:
        super().__init__()
        self._futures: set[asyncio.Future[None]] = set()

    def set(self) -> None:
        super().set()
        futures, self._futures = self._futures, set()
        for future in futures:
            if not future.done():
                future.set_result(None)

    def waiter(self) -> asyncio.Future[None]:
        """A future done once the flag is set (already done if it is)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.is_set():
            future.set_result(None)
        else:
            self._futures.add(future)
        return future

    def discard(self, future: asyncio.Future[None]) -> None:
        """Forget a :meth:`waiter` future no longer awaited."""
        self._futures.discard(future)
        future.cancel()


async def wait_for_flag(
    flag: Flag, *others: asyncio.Future[Any], timeout: float | None = None
) -> None:
    """Until ``flag`` is set, one of ``others`` is done or ``timeout`` passed."""
    waiter = flag.waiter()
    try:
        await asyncio.wait(
            (waiter, *others), timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        flag.discard(waiter)


async def restoring(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coro`` in a task where requests bypass the restored-gate."""
    context = contextvars.copy_context()
    context.run(_RESTORING.set, True)
    task: asyncio.Task[_T] = context.run(asyncio.ensure_future, coro)
    return await task


class RobustChannel(Channel, AbstractRobustChannel):
    """A channel that survives reconnects (see the module docstring)."""

    EXCHANGE_CLASS = RobustExchange
    QUEUE_CLASS = RobustQueue

    #: Bound on each request sent while restoring (seconds).
    RESTORE_TIMEOUT: float = 30.0
    #: First delay before a failed channel restore or a cancelled consumer is
    #: tried again (seconds); it doubles up to the connection's cap.
    RESTORE_RETRY_DELAY: float = 0.25

    _connection: RobustConnection
    default_exchange: RobustExchange

    def __init__(
        self,
        connection: RobustConnection,
        channel_number: int | None = None,
        publisher_confirms: bool = True,
        on_return_raises: bool = False,
    ) -> None:
        super().__init__(
            connection=connection,
            channel_number=channel_number,
            publisher_confirms=publisher_confirms,
            on_return_raises=on_return_raises,
        )
        #: Called with ``(channel,)`` when the channel was reopened and restored.
        self.reopen_callbacks: CallbackCollection[AbstractRobustChannel, []] = (
            CallbackCollection(self)
        )
        self._topology = Topology()
        #: What get_exchange()/get_queue() return for a name this channel
        #: declared (robust=True), as aio-pika: the declared object itself.
        self._declared_exchanges: dict[str, RobustExchange] = {}
        self._declared_queues: dict[str, RobustQueue] = {}
        #: Set while the broker's channel exception has closed the channel
        #: (the connection is up): calls raise ChannelInvalidStateError, as on
        #: a plain channel, until the channel is reopened.
        self._broken: BaseException | None = None
        self._restored = Flag()
        self._live = False
        self._close_called = False
        self._epoch = 0
        #: Deliveries of the current incarnation are instances of this class.
        self.MESSAGE_CLASS = incarnation_class()
        self._restore_lock = asyncio.Lock()
        self._restore_task: asyncio.Task[None] | None = None
        self._consumer_tasks: dict[str, asyncio.Task[None]] = {}

    def __repr__(self) -> str:
        state = "restored" if self._restored.is_set() else "not restored"
        return f"<{type(self).__name__} #{self} {state} {self._connection!r}>"

    # -- state -------------------------------------------------------------------

    @property
    def is_closed(self) -> bool:
        """True while no AMQP channel is open under this object (or once closed)."""
        return not self._live or self._closed.done()

    def _usable(self) -> bool:
        return self._restored.is_set() and not self._closed.done()

    def _gone(self) -> bool:
        """Closed for good: by the application, or with its connection."""
        connection = self._connection
        return (
            self._closed.done()
            or self._close_called
            or connection.close_called
            or connection.is_closed
        )

    async def _wait_ready(self, timeout: TimeoutType) -> TimeoutType:
        """Wait until restored; return what is left of ``timeout``.

        Returns at once when the channel or connection is closed for good (the
        caller then raises its usual error). Raises
        :class:`~amqpio.exceptions.RecoveryTimeoutError` when ``timeout`` (or
        the connection's ``recovery_timeout`` when it is ``None``) runs out.
        """
        if self._usable() or _RESTORING.get() or not self._initialized:
            return timeout
        if self._gone():
            return self._closed_for_good(timeout)
        broken = self._broken
        if broken is not None and not self._live:
            # closed by a channel exception and not open again: raise as a
            # plain channel does; once the new channel is open (is_closed is
            # False) calls wait below for its topology replay instead
            raise exc.ChannelInvalidStateError(
                f"Channel is closed: {broken!r} (it is being reopened)"
            ) from broken
        connection = self._connection
        limit = timeout if timeout is not None else connection.recovery_timeout
        loop = asyncio.get_running_loop()
        started = loop.time()
        await wait_for_flag(
            self._restored, self._closed, connection._closed, timeout=limit
        )
        if not self._usable():
            if self._gone():
                return self._closed_for_good(timeout)
            raise exc.RecoveryTimeoutError(
                f"channel {self} was not restored within {limit:g} s "
                f"(lost: {self._close_reason!r}; connection: "
                f"{connection._last_error!r})"
            )
        if timeout is None:
            return None
        return max(0.0, timeout - (loop.time() - started))

    def _closed_for_good(self, timeout: TimeoutType) -> TimeoutType:
        if self._closed.done():
            return timeout  # the base raises, with the reason
        raise exc.ChannelInvalidStateError(
            "Channel is closed"
            + (" (its connection was closed)" if self._connection.close_called else "")
        )

    async def ready(self) -> None:
        """Wait until the channel is open and restored; raise if it was closed."""
        if not self._initialized:
            await self._connection.ready()
            return
        connection = self._connection
        while not self._usable():
            if self._gone():
                raise exc.ChannelInvalidStateError("Channel is closed")
            await wait_for_flag(self._restored, self._closed, connection._closed)

    async def get_underlay_channel(self) -> Channel:
        """The channel itself, once it is usable (aio-pika: the aiormq channel)."""
        await self.ready()
        return await super().get_underlay_channel()

    # -- lifecycle ---------------------------------------------------------------

    async def initialize(self, timeout: TimeoutType = None) -> None:
        """Open the channel, waiting (up to ``timeout``) for the connection."""
        if self._initialized:
            raise RuntimeError("Already initialized")
        if self._closed.done():
            raise RuntimeError("Can't initialize closed channel")
        self._context = contextvars.copy_context()
        connection = self._connection
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - loop.time())
            left = await connection._wait_recovered(left)
            try:
                if left is None:
                    await self._open()
                else:
                    await asyncio.wait_for(self._open(), left)
            except exc.AMQPConnectionError:
                if connection.close_called or connection.is_closed:
                    raise
                continue  # lost while opening: wait for the next connection
            break
        if self._live:  # else lost already: the connection's recovery reopens it
            self._restored.set()

    async def _open(self) -> None:
        await super()._open()
        # in the same step as the base's last line: no loss can come between
        self._live = True

    async def close(self, exc: ExceptionType | None = None) -> None:
        """Close the channel; it is not restored any more."""
        self._close_called = True
        self._cancel_tasks()
        self._connection._forget_channel(self)
        if self._live or not self._initialized:
            await super().close(exc)
        else:
            # no AMQP channel to close: its number may belong to another now
            self._finalize(_reason(exc))
        self._live = False

    def _finalize(self, reason: BaseException) -> None:
        """Closed for good without a close handshake (connection closed)."""
        self._close_called = True
        self._live = False
        self._cancel_tasks()
        self._set_closed(reason)

    async def reopen(self) -> None:
        """Open the channel again (after :meth:`close`) and restore its topology."""
        self._close_called = False
        self._connection._adopt_channel(self)
        self._initialized = True
        await self._restore_alone()

    async def restore(self, channel: Any = None) -> None:
        """Reopen and restore the channel now if it is down."""
        if self._usable() or self._gone():
            return
        await self._restore_alone()

    # -- transport listener --------------------------------------------------------

    def on_closed(self, error: BaseException) -> None:
        if self._closed.done():
            return
        if not self._initialized:
            return  # an open that failed: initialize() got the error
        self._live = False
        self._restored.clear()
        if self._gone():
            self._cancel_tasks()
            super().on_closed(error)
            return
        # this incarnation is gone, the channel is not: tags die with it
        self._consumers.clear()
        self._returnable.clear()
        self._close_reason = error
        self._cancel_consumer_tasks()
        log.debug("Channel %s lost (%r); it will be restored", self, error)
        self.close_callbacks(error)
        if isinstance(error, exc.AMQPChannelError):
            # a channel exception: the connection is up, restore on our own
            self._broken = error
            self._schedule_restore()

    def on_consumer_cancelled(self, consumer_tag: str) -> None:
        super().on_consumer_cancelled(consumer_tag)
        if consumer_tag in self._topology.consumers and not self._gone():
            self._start_consumer_recovery(consumer_tag)

    # -- requests: wait while recovering -------------------------------------------

    async def _request(self, method: Any, timeout: TimeoutType = None) -> Any:
        if not self._restored.is_set() and not _RESTORING.get():
            timeout = await self._wait_ready(timeout)
        return await super()._request(method, timeout)

    async def _publish(
        self,
        exchange: str,
        routing_key: str,
        message: AbstractMessage,
        mandatory: bool,
        immediate: bool,
        timeout: TimeoutType,
    ) -> Any:
        if not self._restored.is_set() and not _RESTORING.get():
            timeout = await self._wait_to_publish(timeout)
        return await super()._publish(
            exchange, routing_key, message, mandatory, immediate, timeout
        )

    async def _wait_to_publish(self, timeout: TimeoutType) -> TimeoutType:
        """Wait until restored and writable; what is left of timeout.

        Nothing is sent while waiting, so a connection lost meanwhile only
        means waiting for the next restore (within ``timeout``).
        """
        if _RESTORING.get():
            return await super()._wait_to_publish(timeout)
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            timeout = await self._wait_ready(timeout)
            protocol = self._protocol
            if not self._usable() or protocol is None or not protocol.is_open:
                # closed for good: the base raises its error, nothing is sent
                return timeout
            try:
                return await protocol.wait_writable(timeout)
            except exc.AMQPConnectionError:
                pass  # lost while waiting, nothing was sent: wait again
            if deadline is not None:
                timeout = max(0.0, deadline - loop.time())

    async def _await_confirm(
        self,
        confirm: asyncio.Future[Any],
        timeout: TimeoutType,
        tag: int,
        message: AbstractMessage,
        exchange: str,
        routing_key: str,
    ) -> Any:
        # the message was written: a connection lost now leaves its outcome
        # unknown (the connection is restored; publishing again may duplicate)
        try:
            return await super()._await_confirm(
                confirm, timeout, tag, message, exchange, routing_key
            )
        except exc.PublishOutcomeUnknownError:
            raise
        except exc.AMQPConnectionError as error:
            raise exc.PublishOutcomeUnknownError(
                f"the connection was lost before the broker confirmed the message "
                f"published to exchange {exchange!r} with routing key "
                f"{routing_key!r}: {error}",
                message,
                exchange,
                routing_key,
                tag,
            ) from error

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
        # wait first: the base registers the consumer before the request, and a
        # reopen would wipe that registration
        if not self._restored.is_set() and not _RESTORING.get():
            timeout = await self._wait_ready(timeout)
        return await super()._consume(
            queue, callback, no_ack, exclusive, arguments, consumer_tag, timeout
        )

    async def _cancel(
        self, consumer_tag: str, timeout: TimeoutType, nowait: bool
    ) -> Any:
        if not self._restored.is_set() and not _RESTORING.get():
            timeout = await self._wait_ready(timeout)
        return await super()._cancel(consumer_tag, timeout, nowait)

    # -- aio-pika API, recording what succeeded --------------------------------------

    async def declare_exchange(
        self,
        name: str,
        type: ExchangeType | str = ExchangeType.DIRECT,
        durable: bool = False,
        auto_delete: bool = False,
        internal: bool = False,
        passive: bool = False,
        arguments: Arguments = None,
        timeout: TimeoutType = None,
        robust: bool = True,
    ) -> RobustExchange:
        """Declare an exchange; ``robust``: declare it again after a reconnect.

        A passive declare of a name this channel declared returns that
        exchange object without asking the broker (aio-pika's behaviour).
        """
        if passive and name in self._declared_exchanges:
            await self._wait_ready(timeout)
            self._get_protocol()  # ChannelInvalidStateError once closed
            return self._declared_exchanges[name]
        exchange = await super().declare_exchange(
            name,
            type,
            durable=durable,
            auto_delete=auto_delete,
            internal=internal,
            passive=passive,
            arguments=arguments,
            timeout=timeout,
        )
        if robust and not internal:
            self._declared_exchanges[name] = cast(RobustExchange, exchange)
        if robust:
            self._topology.record_exchange(
                name,
                type.value if isinstance(type, ExchangeType) else type,
                durable=durable,
                auto_delete=auto_delete,
                internal=internal,
                passive=passive,
                arguments=arguments,
            )
        return cast(RobustExchange, exchange)

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
        robust: bool = True,
    ) -> RobustQueue:
        """Declare a queue; ``robust``: declare it again after a reconnect.

        Without a name the queue is named ``amq_<uuid4 hex>`` by the client
        (as aio-pika does on robust channels), so it keeps its name. A
        passive declare of a name this channel declared returns that queue
        object without asking the broker (aio-pika's behaviour).
        """
        if passive and name and name in self._declared_queues:
            await self._wait_ready(timeout)
            self._get_protocol()  # ChannelInvalidStateError once closed
            return self._declared_queues[name]
        queue = await super().declare_queue(
            name,
            durable=durable,
            exclusive=exclusive,
            passive=passive,
            auto_delete=auto_delete,
            arguments=arguments,
            timeout=timeout,
        )
        if robust:
            self._declared_queues.setdefault(queue.name, cast(RobustQueue, queue))
            self._topology.record_queue(
                queue.name,
                durable=durable,
                exclusive=exclusive,
                auto_delete=auto_delete,
                passive=passive,
                arguments=arguments,
            )
        return cast(RobustQueue, queue)

    async def set_qos(
        self,
        prefetch_count: int = 0,
        prefetch_size: int = 0,
        global_: bool = False,
        timeout: TimeoutType = None,
        all_channels: bool | None = None,
    ) -> Any:
        """Basic.Qos, set again after a reconnect."""
        if all_channels is not None:
            warnings.warn(
                'Use "global_" instead of "all_channels"',
                DeprecationWarning,
                stacklevel=2,
            )
            global_ = all_channels
        result = await super().set_qos(
            prefetch_count, prefetch_size, global_, timeout=timeout
        )
        self._topology.record_qos(prefetch_count, prefetch_size, global_)
        return result

    @property
    def _prefetch_count(self) -> int:
        """aio-pika's attribute (read by frameworks): the recorded QoS count."""
        qos = self._topology.qos
        return 0 if qos is None else qos.prefetch_count

    @property
    def _prefetch_size(self) -> int:
        qos = self._topology.qos
        return 0 if qos is None else qos.prefetch_size

    @property
    def _global_qos(self) -> bool:
        qos = self._topology.qos
        return False if qos is None else qos.global_

    @overload
    async def queue_delete(
        self,
        queue_name: str,
        timeout: TimeoutType = None,
        if_unused: bool = False,
        if_empty: bool = False,
        nowait: Literal[False] = False,
    ) -> Any: ...

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
    ) -> Any: ...

    async def queue_delete(
        self,
        queue_name: str,
        timeout: TimeoutType = None,
        if_unused: bool = False,
        if_empty: bool = False,
        nowait: bool = False,
    ) -> Any:
        """Delete a queue; no channel of the connection restores it any more."""
        result = await super().queue_delete(
            queue_name, timeout, if_unused, if_empty, nowait
        )
        self._forget_queue_everywhere(queue_name)
        return result

    @overload
    async def exchange_delete(
        self,
        exchange_name: str,
        timeout: TimeoutType = None,
        if_unused: bool = False,
        nowait: Literal[False] = False,
    ) -> Any: ...

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
    ) -> Any: ...

    async def exchange_delete(
        self,
        exchange_name: str,
        timeout: TimeoutType = None,
        if_unused: bool = False,
        nowait: bool = False,
    ) -> Any:
        """Delete an exchange; no channel of the connection restores it any more."""
        result = await super().exchange_delete(
            exchange_name, timeout, if_unused, nowait
        )
        self._forget_exchange_everywhere(exchange_name)
        return result

    def __await__(self) -> Generator[Any, Any, RobustChannel]:
        yield from self.initialize().__await__()
        return self

    async def __aenter__(self) -> RobustChannel:
        if not self._initialized:
            await self.initialize()
        return self

    # -- forgetting ----------------------------------------------------------------

    def _forget_queue_everywhere(self, name: str) -> None:
        for channel in (self, *self._connection._robust_channels()):
            channel._topology.forget_queue(name)
            channel._declared_queues.pop(name, None)

    def _forget_exchange_everywhere(self, name: str) -> None:
        for channel in (self, *self._connection._robust_channels()):
            channel._topology.forget_exchange(name)
            channel._declared_exchanges.pop(name, None)

    def _forget_consumer(self, tag: str) -> None:
        self._topology.forget_consumer(tag)
        task = self._consumer_tasks.pop(tag, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    # -- restoring -----------------------------------------------------------------

    async def _reopen_incarnation(self, timeout: float) -> None:
        """Open a new AMQP channel under this object (confirm mode included).

        Deliveries of earlier incarnations become stale: their tags mean
        nothing on the new channel.
        """
        self._epoch += 1
        self.MESSAGE_CLASS = incarnation_class()
        await asyncio.wait_for(Channel.reopen(self), timeout)

    async def _drop_incarnation(self) -> None:
        """Close the current AMQP channel after a failed restore step."""
        protocol = self._protocol
        if not self._live or protocol is None or not protocol.is_open:
            return
        try:
            await asyncio.wait_for(
                protocol.close_channel(self._number or 0), self.RESTORE_TIMEOUT
            )
        except (exc.AMQPError, asyncio.TimeoutError):
            protocol.abort()  # a channel that cannot even be closed: start over

    async def _apply(self, record: Record, timeout: float) -> None:
        """Send one recorded declaration again, on this channel."""
        if isinstance(record, QosRecord):
            await Channel.set_qos(
                self,
                record.prefetch_count,
                record.prefetch_size,
                record.global_,
                timeout=timeout,
            )
        elif isinstance(record, ExchangeRecord):
            await Exchange(
                self,
                record.name,
                record.type,
                durable=record.durable,
                auto_delete=record.auto_delete,
                internal=record.internal,
                passive=record.passive,
                arguments=dict(record.arguments),
            ).declare(timeout)
        elif isinstance(record, QueueRecord):
            await Queue(
                self,
                record.name,
                durable=record.durable,
                exclusive=record.exclusive,
                auto_delete=record.auto_delete,
                arguments=dict(record.arguments),
                passive=record.passive,
            ).declare(timeout)
        elif isinstance(record, ExchangeBindingRecord):
            await Exchange(self, record.destination).bind(
                record.source,
                record.routing_key,
                arguments=dict(record.arguments),
                timeout=timeout,
            )
        elif isinstance(record, QueueBindingRecord):
            await _queue(self, record.queue).bind(
                record.exchange,
                record.routing_key,
                arguments=dict(record.arguments),
                timeout=timeout,
            )
        elif isinstance(record, ConsumerRecord):
            if record.tag not in self._consumers:
                await Channel._consume(
                    self,
                    record.queue,
                    record.callback,
                    record.no_ack,
                    record.exclusive,
                    dict(record.arguments),
                    record.tag,
                    timeout,
                )
        else:  # pragma: no cover - exhaustive
            raise TypeError(f"unknown record {record!r}")

    async def _replay_own(self) -> None:
        timeout = self.RESTORE_TIMEOUT
        await self._reopen_incarnation(timeout)
        for step in replay_plan([(self, self._topology)]):
            await self._apply(step.record, timeout)

    async def _restore_alone(self) -> None:
        """Reopen this channel and replay its topology (the connection is up)."""
        async with self._restore_lock:
            if self._usable():
                return
            try:
                await restoring(self._replay_own())
            except CHANNEL_ERRORS:
                await self._drop_incarnation()
                raise
        self._mark_restored()

    def _mark_restored(self) -> None:
        if self._live and not self._closed.done():
            self._broken = None
            self._restored.set()
            self.reopen_callbacks()

    def _schedule_restore(self) -> None:
        task = self._restore_task
        if task is None or task.done():
            self._restore_task = asyncio.ensure_future(self._restore_loop())

    async def _restore_loop(self) -> None:
        """Restore this channel alone, retrying with backoff until it works."""
        connection = self._connection
        failures = 0
        while not self._gone():
            if not await connection._wait_recovered_forever():
                return
            try:
                await self._restore_alone()
            except CHANNEL_ERRORS as error:
                if self._gone():
                    return  # closed meanwhile (e.g. its connection is closing)
                failures += 1
                delay = connection._retry_delay(self.RESTORE_RETRY_DELAY, failures)
                log.warning(
                    "Restoring channel %s failed (%r); retrying in %.2f s",
                    self,
                    error,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            except exc.AMQPConnectionError:
                continue  # the connection's recovery restores this channel
            if self._usable():
                log.info("Channel %s restored", self)
                return

    def _start_consumer_recovery(self, tag: str) -> None:
        task = self._consumer_tasks.get(tag)
        if task is None or task.done():
            self._consumer_tasks[tag] = asyncio.ensure_future(
                self._recover_consumer(tag)
            )

    async def _recover_consumer(self, tag: str) -> None:
        """Re-establish a consumer the broker cancelled, once its queue is back."""
        connection = self._connection
        failures = 0
        try:
            while True:
                failures += 1
                await asyncio.sleep(
                    connection._retry_delay(self.RESTORE_RETRY_DELAY, failures)
                )
                record = self._topology.consumers.get(tag)
                if record is None or self._gone() or not self._usable():
                    return  # forgotten, closed, or the channel restore re-consumes
                try:
                    await restoring(self._reestablish(record))
                except (exc.AMQPError, exc.ChannelInvalidStateError) as error:
                    log.info("Consumer %r not re-established yet: %r", tag, error)
                    continue
                except asyncio.TimeoutError:
                    log.info("Consumer %r not re-established yet: timeout", tag)
                    continue
                log.info("Consumer %r re-established on channel %s", tag, self)
                return
        finally:
            if self._consumer_tasks.get(tag) is asyncio.current_task():
                del self._consumer_tasks[tag]

    async def _reestablish(self, record: ConsumerRecord) -> None:
        timeout = self.RESTORE_TIMEOUT
        topology = self._topology
        # a failed declare closes its channel: check on a throwaway one
        probe = Channel(self._connection, publisher_confirms=False)
        await probe.initialize(timeout)
        try:
            queue = topology.queues.get(record.queue)
            if queue is None:
                await probe.declare_queue(record.queue, passive=True, timeout=timeout)
            else:
                await Queue(
                    probe,
                    queue.name,
                    durable=queue.durable,
                    exclusive=queue.exclusive,
                    auto_delete=queue.auto_delete,
                    arguments=dict(queue.arguments),
                    passive=queue.passive,
                ).declare(timeout)
            for binding in topology.queue_bindings_of(record.queue):
                await _queue(probe, record.queue).bind(
                    binding.exchange,
                    binding.routing_key,
                    arguments=dict(binding.arguments),
                    timeout=timeout,
                )
        finally:
            if not probe.is_closed:
                await probe.close()
        async with self._restore_lock:
            if (
                topology.consumers.get(record.tag) is record
                and record.tag not in self._consumers
                and self._usable()
            ):
                await self._apply(record, timeout)

    async def _restore_queue(self, name: str) -> None:
        """RobustQueue.restore(): declare, bind and consume one queue again."""
        topology = self._topology
        records: list[Record] = []
        queue = topology.queues.get(name)
        if queue is not None:
            records.append(queue)
        records.extend(topology.queue_bindings_of(name))
        records.extend(topology.consumers_of(name))
        await self.ready()
        for record in records:
            await restoring(self._apply(record, self.RESTORE_TIMEOUT))

    # -- background tasks ----------------------------------------------------------

    def _cancel_consumer_tasks(self) -> None:
        current = asyncio.current_task()
        for task in self._consumer_tasks.values():
            if task is not current:
                task.cancel()
        self._consumer_tasks.clear()

    def _cancel_tasks(self) -> None:
        self._cancel_consumer_tasks()
        task = self._restore_task
        self._restore_task = None
        if task is not None and task is not asyncio.current_task():
            task.cancel()


def _queue(channel: Channel, name: str) -> Queue:
    """A plain Queue object for a request by name."""
    return Queue(
        channel, name, durable=False, exclusive=False, auto_delete=False, arguments=None
    )


def _reason(error: ExceptionType | None) -> BaseException:
    if error is None or isinstance(error, type):
        return (error or asyncio.CancelledError)()
    return error
