"""The asyncio driver of the sans-IO core.

Theory of operation. ``AMQPProtocol`` is an ``asyncio.Protocol`` that owns one
``sansio.Connection``. Bytes from the socket go to ``core.receive_data`` with
``loop.time()``; the events that come back resolve futures (handshake, replies
keyed by request id, publisher confirms keyed by channel and delivery tag) or
go to the listener of their channel (deliveries, returns, cancels, closes).
Commands from the API call the core, which queues bytes and counts them.
The first command of a loop iteration is written at once; the others are
written together by one ``call_soon`` at the end of the iteration (a burst of
publishes or acks costs one system call), or as soon as the core holds
``FLUSH_AT`` bytes. The transport then buffers what the socket does not take;
above its high-water mark it pauses us, and publishes and acks wait
(:meth:`AMQPProtocol.wait_writable`, :meth:`AMQPProtocol.drain`) until it
resumes: what the client holds stays bounded whatever the application does.
Publishes also wait while the broker blocks the connection (resource alarm).
One ``call_at`` timer, re-armed from ``core.next_deadline()``, drives
heartbeats.

Every future the protocol hands out is failed with a typed exception when the
connection ends (``connection_lost``, a broker close, a protocol violation or a
heartbeat timeout): nothing awaits forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import types
from collections.abc import Callable, Generator
from typing import Final, Protocol, cast

from .. import exceptions as exc
from ..codec.table import FieldTable
from ..codec.values import Buffer
from ..sansio import events as ev
from ..sansio.config import ConnectionConfig, Tuning
from ..sansio.connection import Connection as CoreConnection
from ..sansio.errors import LocalProtocolError, RemoteProtocolError
from ..spec import Basic, BasicProperties, Method
from ..spec import Connection as ConnectionMethods

__all__ = [
    "FLUSH_AT",
    "TURN_BUDGET",
    "TURN_BYTES",
    "AMQPProtocol",
    "ChannelListener",
    "ConnectionListener",
    "UnderlayView",
]

#: Bytes queued in one loop iteration that are written without waiting for
#: the end of the iteration (large messages go out as they are published).
FLUSH_AT: Final = 65536
#: Publishes in one loop iteration after which a publisher lets the other
#: tasks run (a publishing loop never starves the event loop).
TURN_BUDGET: Final = 128
#: Body bytes published in one loop iteration after which a publisher lets
#: the other tasks run: while the socket takes everything, a loop of large
#: publishes would otherwise copy ``TURN_BUDGET`` bodies in one iteration.
TURN_BYTES: Final = 4 << 20
#: The transport's write buffer limits: above HIGH it pauses us.
WRITE_BUFFER_HIGH: Final = 1 << 20
WRITE_BUFFER_LOW: Final = 256 << 10


def _write_each(transport: asyncio.Transport, data: list[Buffer]) -> None:
    """Write large parts (bodies) as they are, small ones (frame headers)
    joined: no copy of a body beyond the transport's own buffering."""
    small: list[Buffer] = []
    for part in data:
        if len(part) < 16384:
            small.append(part)
            continue
        if small:
            transport.write(small[0] if len(small) == 1 else b"".join(small))
            small = []
        transport.write(part)
    if small:
        transport.write(small[0] if len(small) == 1 else b"".join(small))


@types.coroutine
def _one_turn() -> Generator[None, None, None]:
    """Let the event loop run the other ready callbacks once."""
    yield


class ChannelListener(Protocol):
    """What the API channel object receives from the transport."""

    def on_delivery(self, event: ev.DeliveryReceived) -> None: ...

    def on_return(self, event: ev.MessageReturned) -> None: ...

    def on_consumer_cancelled(self, consumer_tag: str) -> None: ...

    def on_flow(self, active: bool) -> None: ...

    def on_closed(self, error: BaseException) -> None: ...


class ConnectionListener(Protocol):
    """What the API connection object receives from the transport."""

    def on_blocked(self, reason: str) -> None: ...

    def on_unblocked(self) -> None: ...

    def on_closed(self, error: BaseException) -> None: ...


def _set_tcp_nodelay(transport: asyncio.BaseTransport) -> None:
    """Disable Nagle's algorithm (frames are written whole, latency matters).

    Through the transport's socket object where there is one; uvloop sets
    TCP_NODELAY itself and its pseudo-socket may refuse options.
    """
    sock = transport.get_extra_info("socket")
    family = getattr(sock, "family", None)
    if sock is None or family not in (socket.AF_INET, socket.AF_INET6):
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class UnderlayView:
    """``connection.transport.connection`` as aio-pika code reads it.

    In aio-pika that is aiormq's connection; the attributes its users read
    are answered from the protocol: ``server_properties``,
    ``server_capabilities``, ``connection_tune`` (the negotiated
    ``channel_max``, ``frame_max`` and ``heartbeat``) and ``is_closed``.
    """

    __slots__ = ("_protocol",)

    def __init__(self, protocol: AMQPProtocol) -> None:
        self._protocol = protocol

    @property
    def server_properties(self) -> FieldTable:
        return self._protocol.core.server_properties

    @property
    def server_capabilities(self) -> FieldTable:
        capabilities = self.server_properties.get("capabilities")
        return capabilities if isinstance(capabilities, dict) else {}

    @property
    def connection_tune(self) -> ConnectionMethods.Tune:
        tuning = self._protocol.tuning
        return ConnectionMethods.Tune(
            tuning.channel_max, tuning.frame_max, tuning.heartbeat
        )

    @property
    def is_closed(self) -> bool:
        return not self._protocol.is_open

    @property
    def is_opened(self) -> bool:
        return self._protocol.is_open


class AMQPProtocol(asyncio.Protocol):
    """``asyncio.Protocol`` driving one sans-IO AMQP connection."""

    def __init__(
        self,
        config: ConnectionConfig,
        loop: asyncio.AbstractEventLoop,
        listener: ConnectionListener | None = None,
    ) -> None:
        self.loop = loop
        self.core = CoreConnection(config)
        self.listener = listener
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[ev.ConnectionOpened] = loop.create_future()
        #: Resolved with the exception that ended the connection.
        self.closed: asyncio.Future[BaseException] = loop.create_future()
        #: Resolved by ``connection_lost``: the socket is really closed.
        self._lost: asyncio.Future[None] = loop.create_future()
        self._replies: dict[int, asyncio.Future[Method | None]] = {}
        self._reply_channel: dict[int, int] = {}
        self._channel_opens: dict[int, asyncio.Future[None]] = {}
        self._channel_closes: dict[int, asyncio.Future[None]] = {}
        self._confirms: dict[int, dict[int, asyncio.Future[Method]]] = {}
        self._listeners: dict[int, ChannelListener] = {}
        self._close_waiter: asyncio.Future[None] | None = None
        self._secret_waiters: list[asyncio.Future[None]] = []
        #: A command was queued in this loop iteration: _end_turn will write.
        self._turn_open = False
        self._turn_publishes = 0
        self._turn_bytes = 0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._paused = False
        self._writelines_joins = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        #: The broker's reason while it blocks this connection, else None.
        self.blocked: str | None = None
        #: Publishers waiting for a resume, an unblock or held bytes to go.
        self._writers: list[asyncio.Future[None]] = []
        self._error: BaseException | None = None
        #: The transport's error, chained to the ConnectionLost exception.
        self._lost_cause: Exception | None = None
        #: Delivery tag of the latest publish in confirm mode.
        self.last_delivery_tag = 0
        self._handlers: dict[type[ev.Event], Callable[[ev.Event], None]] = {
            ev.DeliveryReceived: self._on_delivery,  # type: ignore[dict-item]
            ev.PublishAcked: self._on_acked,  # type: ignore[dict-item]
            ev.PublishNacked: self._on_nacked,  # type: ignore[dict-item]
            ev.ReplyReceived: self._on_reply,  # type: ignore[dict-item]
            ev.MessageReturned: self._on_returned,  # type: ignore[dict-item]
            ev.ChannelOpened: self._on_channel_opened,  # type: ignore[dict-item]
            ev.ChannelClosed: self._on_channel_closed,  # type: ignore[dict-item]
            ev.ChannelFlowChanged: self._on_flow,  # type: ignore[dict-item]
            ev.ConsumerCancelled: self._on_cancelled,  # type: ignore[dict-item]
            ev.ConnectionOpened: self._on_opened,  # type: ignore[dict-item]
            ev.ConnectionClosed: self._on_connection_closed,  # type: ignore[dict-item]
            ev.ConnectionLost: self._on_lost,  # type: ignore[dict-item]
            ev.HandshakeFailed: self._on_handshake_failed,  # type: ignore[dict-item]
            ev.HeartbeatTimedOut: self._on_heartbeat_timeout,  # type: ignore[dict-item]
            ev.ConnectionBlocked: self._on_blocked,  # type: ignore[dict-item]
            ev.ConnectionUnblocked: self._on_unblocked,  # type: ignore[dict-item]
            ev.SecretUpdated: self._on_secret_updated,  # type: ignore[dict-item]
        }

    # -- asyncio.Protocol ----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Any loop's transport: only its interface is used (uvloop's
        # transports are not asyncio.Transport subclasses).
        self.transport = cast(asyncio.Transport, transport)
        # the base class's writelines joins everything into one bytes object
        # (the selector transports before Python 3.12): large bodies are then
        # written piece by piece instead
        self._writelines_joins = (
            getattr(type(transport), "writelines", None)
            is asyncio.WriteTransport.writelines
        )
        try:
            _set_tcp_nodelay(transport)
            with contextlib.suppress(AttributeError, NotImplementedError):
                self.transport.set_write_buffer_limits(
                    WRITE_BUFFER_HIGH, WRITE_BUFFER_LOW
                )
            self.core.initiate()
            self._flush()
        except Exception as error:
            self._internal_error("connection_made", error)

    def data_received(self, data: bytes) -> None:
        try:
            events = self.core.receive_data(data, self.loop.time())
        except RemoteProtocolError as error:
            self._dispatch(error.events)
            failure = exc.connection_exception(
                error.reply_code,
                f"protocol violation by the broker: {error.text}",
                error.class_id,
                error.method_id,
            )
            failure.__cause__ = error
            self._fail(failure)
            self._flush()
            self._abort_soon()
            return
        except Exception as error:
            self._internal_error("data_received", error)
            return
        try:
            if events:
                self._dispatch(events)
            self._flush()
            if self._writers and self.core.bytes_held < FLUSH_AT:
                self._wake_writers()  # a reply released held frames
        except Exception as error:
            self._internal_error("data_received", error)

    def eof_received(self) -> bool | None:
        try:
            self._dispatch(self.core.receive_eof())
        except Exception as error:
            self._internal_error("eof_received", error)
        return None  # let the transport close itself

    def _internal_error(self, where: str, error: Exception) -> None:
        """A bug in a protocol callback: end the connection with a typed error.

        The loop would only log it and carry on (and connect() would wait for
        a handshake that never starts): every waiter fails at once instead.
        """
        failure = exc.AMQPConnectionError(
            f"internal error in {where}: {error!r}; the connection was closed"
        )
        failure.__cause__ = error
        self._fail(failure)
        self.abort()

    def connection_lost(self, error: Exception | None) -> None:
        self._lost_cause = error
        self._dispatch(self.core.receive_eof())
        if self._error is None:
            reason: BaseException = exc.AMQPConnectionError(
                "connection lost" if error is None else f"connection lost: {error}"
            )
            if error is not None:
                reason.__cause__ = error
            self._fail(reason)
        self.transport = None
        self._cancel_timer()
        # nothing will resume writing: a later drain() must not wait forever
        self._paused = False
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._drain_waiters.clear()
        self._wake_writers()
        if not self._lost.done():
            self._lost.set_result(None)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._wake_writers()

    def _wake_writers(self) -> None:
        writers, self._writers = self._writers, []
        for waiter in writers:
            if not waiter.done():
                waiter.set_result(None)

    # -- writing and timers ----------------------------------------------------

    def _schedule_flush(self) -> None:
        # The first command of a loop iteration is written at once (no added
        # latency for a request/response exchange); the commands that follow in
        # the same iteration are written together at its end, or as soon as
        # FLUSH_AT bytes are queued.
        if not self._turn_open:
            self._turn_open = True
            self.loop.call_soon(self._end_turn)
            self._flush()
        elif self.core.bytes_to_send >= FLUSH_AT:
            self._flush()

    def _end_turn(self) -> None:
        self._turn_open = False
        self._turn_publishes = 0
        self._turn_bytes = 0
        self._flush()

    @property
    def writing_paused(self) -> bool:
        """The transport's buffer is above its high-water mark."""
        return self._paused

    @property
    def publish_must_wait(self) -> bool:
        """A publish must go through :meth:`wait_writable` before it is queued:
        the transport is paused, the broker blocks us, channels hold too much,
        or this loop iteration has had its share of publishes (or none yet:
        the first publish of an iteration lets tasks scheduled before it, such
        as an ack, go first)."""
        return (
            not self._turn_open
            or self._turn_publishes >= TURN_BUDGET
            or self._turn_bytes >= TURN_BYTES
            or self._holding
        )

    @property
    def _holding(self) -> bool:
        # publishes wait: paused transport, blocked broker, or channels hold
        # FLUSH_AT bytes behind pending requests
        return (
            self._paused or self.blocked is not None or self.core.bytes_held >= FLUSH_AT
        )

    async def wait_writable(self, timeout: float | None = None) -> float | None:
        """Wait until a publish may be queued; return what is left of ``timeout``.

        Waits while the transport is paused, while the broker blocks the
        connection and while channels hold ``FLUSH_AT`` bytes behind pending
        requests; else lets the loop run once. Raises the connection's error
        if it ends, and ``asyncio.TimeoutError`` when ``timeout`` passes
        (nothing was sent then).
        """
        if not self._holding:
            await _one_turn()
            self.check_open()
            # other publishers ran meanwhile (they may have filled the buffer)
            if not self._holding:
                return timeout
        loop = self.loop
        deadline = None if timeout is None else loop.time() + timeout
        while self._holding:
            self.check_open()
            waiter: asyncio.Future[None] = loop.create_future()
            self._writers.append(waiter)
            if deadline is None:
                await waiter
                continue
            left = deadline - loop.time()
            try:
                if left <= 0:
                    raise asyncio.TimeoutError
                await asyncio.wait_for(waiter, left)
            except asyncio.TimeoutError:
                self.check_open()
                why = (
                    f"the broker blocks the connection ({self.blocked})"
                    if self.blocked is not None
                    else "the connection takes no more writes"
                )
                raise asyncio.TimeoutError(
                    f"not published within {timeout} s: {why}; nothing was sent"
                ) from None
        self.check_open()
        return None if deadline is None else max(0.0, deadline - loop.time())

    def _flush(self) -> None:
        size = self.core.bytes_to_send
        data = self.core.data_to_send()
        transport = self.transport
        if data and transport is not None and not transport.is_closing():
            if len(data) == 1:
                transport.write(data[0])
            elif size >= FLUSH_AT and self._writelines_joins:
                _write_each(transport, data)
            else:
                transport.writelines(data)
            # the next heartbeat is due half an interval after these bytes
            self.core.mark_sent(self.loop.time())
        if self._timer is None:
            # an armed timer stays: deadlines only move later (it re-arms
            # itself when it fires early)
            self._arm_timer()

    def _arm_timer(self) -> None:
        deadline = self.core.next_deadline()
        timer_at = self._timer_at
        if deadline is not None and timer_at is not None and timer_at <= deadline:
            # inbound traffic only pushes deadlines later: keep the armed
            # timer, which re-arms itself when it fires early
            return
        self._cancel_timer()
        if deadline is not None:
            self._timer_at = deadline
            self._timer = self.loop.call_at(deadline, self._on_timer)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._timer_at = None

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        try:
            events = self.core.handle_timer(self.loop.time())
            if events:
                self._dispatch(events)
            self._flush()
        except Exception as error:
            self._internal_error("the heartbeat timer", error)

    async def drain(self) -> None:
        """Wait while the transport's write buffer is above its high-water mark."""
        if not self._paused:
            return
        waiter: asyncio.Future[None] = self.loop.create_future()
        self._drain_waiters.append(waiter)
        await waiter
        self.check_open()

    def _abort_soon(self) -> None:
        transport = self.transport
        if transport is not None:
            # let the queued Connection.Close go out first
            self.loop.call_soon(transport.close)

    # -- commands --------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._error is None and self.transport is not None

    @property
    def connection(self) -> UnderlayView:
        """aio-pika's ``connection.transport.connection`` (see UnderlayView)."""
        return UnderlayView(self)

    @property
    def tuning(self) -> Tuning:
        tuning = self.core.tuning
        assert tuning is not None
        return tuning

    def check_open(self) -> None:
        """Raise the exception that ended the connection, if it has ended."""
        if self._error is not None:
            # the same instance is raised again and again: start a fresh
            # traceback each time or it grows (and pins frames) for ever
            raise self._error.with_traceback(None)
        if self.transport is None:
            raise exc.AMQPConnectionError("not connected")

    def open_channel(
        self, listener: ChannelListener, channel_id: int | None = None
    ) -> tuple[int, asyncio.Future[None]]:
        """Open a channel; the future resolves on Channel.OpenOk.

        Raises ``ValueError`` for a ``channel_id`` out of range or in use
        (aio-pika's exception for both).
        """
        self.check_open()
        if channel_id is not None and channel_id in self._listeners:
            raise ValueError(f"Channel {channel_id} already used")
        try:
            number = self.core.open_channel(channel_id)
        except LocalProtocolError as error:
            raise exc.ChannelInvalidStateError(str(error)) from None
        future: asyncio.Future[None] = self.loop.create_future()
        self._channel_opens[number] = future
        self._listeners[number] = listener
        self._confirms[number] = {}
        self._schedule_flush()
        return number, future

    def close_channel(self, channel_id: int) -> asyncio.Future[None]:
        """Close a channel; the future resolves on Channel.CloseOk."""
        future: asyncio.Future[None] = self.loop.create_future()
        if self._error is not None or channel_id not in self._listeners:
            future.set_result(None)
            return future
        try:
            self.core.close_channel(channel_id)
        except LocalProtocolError:
            future.set_result(None)
            return future
        self._channel_closes[channel_id] = future
        self._schedule_flush()
        return future

    def request(self, channel_id: int, method: Method) -> asyncio.Future[Method | None]:
        """Send a method; the future resolves with its reply (``None`` when none)."""
        self.check_open()
        try:
            request_id = self.core.send_method(channel_id, method)
        except LocalProtocolError as error:
            raise exc.ChannelInvalidStateError(str(error)) from None
        future: asyncio.Future[Method | None] = self.loop.create_future()
        if request_id is None:
            future.set_result(None)
        else:
            self._replies[request_id] = future
            self._reply_channel[request_id] = channel_id
        self._schedule_flush()
        return future

    def send(self, channel_id: int, method: Method) -> None:
        """Send an asynchronous method (no reply expected)."""
        self._async_command(self.core.send_method, channel_id, method)

    def publish(
        self,
        channel_id: int,
        exchange: str,
        routing_key: str,
        body: Buffer,
        properties: BasicProperties | bytes,
        mandatory: bool,
        immediate: bool,
    ) -> asyncio.Future[Method] | None:
        """Queue a publish; in confirm mode return the future of its confirm."""
        if self._error is not None:
            raise self._error.with_traceback(None)
        try:
            tag = self.core.publish(
                channel_id,
                exchange,
                routing_key,
                body,
                properties,
                mandatory,
                immediate,
            )
        except LocalProtocolError as error:
            raise exc.ChannelInvalidStateError(str(error)) from None
        self._turn_publishes += 1
        self._turn_bytes += len(body)
        self._schedule_flush()
        if tag is None:
            return None
        self.last_delivery_tag = tag
        future: asyncio.Future[Method] = self.loop.create_future()
        self._confirms[channel_id][tag] = future
        return future

    def take_confirm(
        self, channel_id: int, delivery_tag: int
    ) -> asyncio.Future[Method] | None:
        """Remove and return the confirm future of a publish (e.g. returned)."""
        return self._confirms.get(channel_id, {}).pop(delivery_tag, None)

    def ack(self, channel_id: int, delivery_tag: int, multiple: bool) -> None:
        # _settle inlined: consumers ack every message
        if self._error is not None or self.transport is None:
            self.check_open()
        try:
            self.core.ack(channel_id, delivery_tag, multiple)
        except LocalProtocolError as error:
            raise exc.ChannelInvalidStateError(str(error)) from None
        if not self._turn_open:
            self._turn_open = True
            self.loop.call_soon(self._end_turn)
        elif self.core.bytes_to_send >= FLUSH_AT:
            self._flush()

    def nack(
        self, channel_id: int, delivery_tag: int, multiple: bool, requeue: bool
    ) -> None:
        self._settle(self.core.nack, channel_id, delivery_tag, multiple, requeue)

    def reject(self, channel_id: int, delivery_tag: int, requeue: bool) -> None:
        self._settle(self.core.reject, channel_id, delivery_tag, requeue)

    def _settle(self, command: Callable[..., object], *args: object) -> None:
        # Nobody waits on an ack: it is written at the end of the loop turn
        # (with the other acks of the turn) rather than at once, so it never
        # delays a publish or a wake-up that is already due in this turn.
        self._queue(command, *args)
        if not self._turn_open:
            self._turn_open = True
            self.loop.call_soon(self._end_turn)
        elif self.core.bytes_to_send >= FLUSH_AT:
            self._flush()

    def _async_command(self, command: Callable[..., object], *args: object) -> None:
        self._queue(command, *args)
        self._schedule_flush()

    def _queue(self, command: Callable[..., object], *args: object) -> None:
        self.check_open()
        try:
            command(*args)
        except LocalProtocolError as error:
            raise exc.ChannelInvalidStateError(str(error)) from None

    def update_secret(self, new_secret: bytes, reason: str) -> asyncio.Future[None]:
        self.check_open()
        try:
            self.core.update_secret(new_secret, reason)
        except LocalProtocolError as error:
            raise exc.AMQPConnectionError(
                f"cannot update the secret: {error}"
            ) from None
        future: asyncio.Future[None] = self.loop.create_future()
        self._secret_waiters.append(future)
        self._schedule_flush()
        return future

    def close(
        self, reply_code: int = 200, reply_text: str = ""
    ) -> asyncio.Future[None]:
        """Start the close handshake; the future resolves when it completes."""
        if self._close_waiter is None:
            self._close_waiter = self.loop.create_future()
            if self._error is not None or self.transport is None:
                self._close_waiter.set_result(None)
            else:
                try:
                    self.core.close(reply_code, reply_text)
                except LocalProtocolError:
                    self._close_waiter.set_result(None)
                    self.abort()
                self._schedule_flush()
        return self._close_waiter

    def abort(self, error: BaseException | None = None) -> None:
        """Drop the socket at once.

        ``error``, when given, is what ends the connection for pending futures
        and the listener, instead of the "connection lost" that follows (e.g.
        the client's own handshake timeout, not a close by the broker).
        """
        if self.transport is not None:
            if error is not None:
                self._fail(error)
            self.transport.abort()

    async def wait_closed(self, timeout: float) -> None:
        """Wait until the transport has closed (``connection_lost``).

        A TLS transport closes a round trip after ``close()`` (close_notify);
        after ``timeout`` seconds the socket is aborted.
        """
        if self.transport is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._lost), timeout)
        except asyncio.TimeoutError:
            self.abort()

    # -- events ----------------------------------------------------------------

    def _dispatch(self, events: list[ev.Event]) -> None:
        handlers = self._handlers
        for event in events:
            handlers[type(event)](event)

    def _on_delivery(self, event: ev.DeliveryReceived) -> None:
        if event.request_id is not None:
            future = self._replies.pop(event.request_id, None)
            self._reply_channel.pop(event.request_id, None)
            if future is not None and not future.done():
                # Basic.Get answered with content: the reply is the event
                future.set_result(event)  # type: ignore[arg-type]
            return
        listener = self._listeners.get(event.channel_id)
        if listener is not None:
            listener.on_delivery(event)

    def _on_acked(self, event: ev.PublishAcked) -> None:
        future = self._confirms[event.channel_id].pop(event.delivery_tag, None)
        if future is not None and not future.done():
            future.set_result(Basic.Ack(event.delivery_tag, False))

    def _on_nacked(self, event: ev.PublishNacked) -> None:
        future = self._confirms[event.channel_id].pop(event.delivery_tag, None)
        if future is not None and not future.done():
            future.set_result(Basic.Nack(event.delivery_tag, False, False))

    def _on_reply(self, event: ev.ReplyReceived) -> None:
        future = self._replies.pop(event.request_id, None)
        self._reply_channel.pop(event.request_id, None)
        if future is not None and not future.done():
            future.set_result(event.reply)

    def _on_returned(self, event: ev.MessageReturned) -> None:
        listener = self._listeners.get(event.channel_id)
        if listener is not None:
            listener.on_return(event)

    def _on_channel_opened(self, event: ev.ChannelOpened) -> None:
        future = self._channel_opens.pop(event.channel_id, None)
        if future is not None and not future.done():
            future.set_result(None)

    def _on_channel_closed(self, event: ev.ChannelClosed) -> None:
        number = event.channel_id
        if event.by_broker:
            error: BaseException = exc.channel_exception(
                event.reply_code, event.reply_text, event.class_id, event.method_id
            )
        else:
            error = exc.ChannelClosed(event.reply_code, event.reply_text)
        self._fail_channel(number, error)
        closing = self._channel_closes.pop(number, None)
        if closing is not None and not closing.done():
            closing.set_result(None)

    def _fail_channel(self, number: int, error: BaseException) -> None:
        opening = self._channel_opens.pop(number, None)
        if opening is not None and not opening.done():
            opening.set_exception(error)
        for request_id, channel_id in list(self._reply_channel.items()):
            if channel_id == number:
                del self._reply_channel[request_id]
                future = self._replies.pop(request_id, None)
                if future is not None and not future.done():
                    future.set_exception(error)
        for confirm in self._confirms.pop(number, {}).values():
            if not confirm.done():
                confirm.set_exception(error)
        listener = self._listeners.pop(number, None)
        if listener is not None:
            listener.on_closed(error)

    def _on_flow(self, event: ev.ChannelFlowChanged) -> None:
        listener = self._listeners.get(event.channel_id)
        if listener is not None:
            listener.on_flow(event.active)

    def _on_cancelled(self, event: ev.ConsumerCancelled) -> None:
        listener = self._listeners.get(event.channel_id)
        if listener is not None:
            listener.on_consumer_cancelled(event.consumer_tag)

    def _on_opened(self, event: ev.ConnectionOpened) -> None:
        if not self.opened.done():
            self.opened.set_result(event)

    def _on_connection_closed(self, event: ev.ConnectionClosed) -> None:
        if event.by_broker:
            if not self.opened.done() and event.reply_code == 403:
                error: BaseException = exc.ProbableAuthenticationError(event.reply_text)
            else:
                error = exc.connection_exception(
                    event.reply_code, event.reply_text, event.class_id, event.method_id
                )
        else:
            error = exc.ConnectionClosed(event.reply_code, event.reply_text)
        self._fail(error)
        if self._close_waiter is not None and not self._close_waiter.done():
            self._close_waiter.set_result(None)
        self._abort_soon()

    def _on_lost(self, event: ev.ConnectionLost) -> None:
        if event.probable_authentication_failure:
            error: BaseException = exc.ProbableAuthenticationError(
                "the broker closed the socket after the login was sent"
            )
        elif event.probable_access_refused:
            error = exc.ConnectionNotAllowed(
                "the broker closed the socket after Connection.Open (virtual host "
                "missing or not permitted?)"
            )
        elif event.during_handshake:
            error = exc.AMQPConnectionError(
                "the broker closed the socket mid-handshake"
            )
        elif self._close_waiter is not None:
            # close() gave up waiting (e.g. a blocked connection) or the
            # socket dropped: the broker did not necessarily close it
            error = exc.AMQPConnectionError(
                "the connection ended before the broker answered Connection.Close"
            )
        else:
            error = exc.AMQPConnectionError("the broker closed the connection")
        if self._lost_cause is not None:
            error.__cause__ = self._lost_cause
        self._fail(error)

    def _on_handshake_failed(self, event: ev.HandshakeFailed) -> None:
        if event.reason == "protocol-version":
            error: BaseException = exc.IncompatibleProtocolError(event.detail)
        else:
            error = exc.AuthenticationError(event.detail)
        self._fail(error)
        self._abort_soon()

    def _on_heartbeat_timeout(self, event: ev.HeartbeatTimedOut) -> None:
        self._fail(
            exc.AMQPConnectionError(
                "no traffic from the broker for two heartbeat intervals"
            )
        )
        self.abort()

    def _on_blocked(self, event: ev.ConnectionBlocked) -> None:
        self.blocked = event.reason
        if self.listener is not None:
            self.listener.on_blocked(event.reason)

    def _on_unblocked(self, event: ev.ConnectionUnblocked) -> None:
        self.blocked = None
        self._wake_writers()
        if self.listener is not None:
            self.listener.on_unblocked()

    def _on_secret_updated(self, event: ev.SecretUpdated) -> None:
        if self._secret_waiters:
            waiter = self._secret_waiters.pop(0)
            if not waiter.done():
                waiter.set_result(None)

    # -- failure ---------------------------------------------------------------

    def _fail(self, error: BaseException) -> None:
        """End the connection with ``error``: fail every pending future once."""
        if self._error is not None:
            return
        self._error = error
        if not self.opened.done():
            self.opened.set_exception(error)
            self.opened.exception()  # mark retrieved: connect() may have given up
        for number in list(self._listeners):
            self._fail_channel(number, error)
        for future in self._replies.values():
            if not future.done():
                future.set_exception(error)
        self._replies.clear()
        self._reply_channel.clear()
        for waiter in self._secret_waiters:
            if not waiter.done():
                waiter.set_exception(error)
        self._secret_waiters.clear()
        # closing a channel or the connection is complete once it has ended
        for closing in self._channel_closes.values():
            if not closing.done():
                closing.set_result(None)
        self._channel_closes.clear()
        if self._close_waiter is not None and not self._close_waiter.done():
            self._close_waiter.set_result(None)
        if not self.closed.done():
            self.closed.set_result(error)
        self._wake_writers()
        if self.listener is not None:
            self.listener.on_closed(error)
