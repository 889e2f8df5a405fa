"""Fakes for driving ``AMQPProtocol`` without a socket, a broker or real time.

``FakeTransport`` is an ``asyncio.Transport`` that hands every ``write`` or
``writelines`` call to a ``ScriptedBroker`` and records it (one entry per
call, so tests can count system calls), and lets a test trigger
``pause_writing``/``resume_writing`` and ``connection_lost``. Closing or
aborting it reports ``connection_lost`` on the next loop iteration, as the
selector transports do.

``ScriptedBroker`` wraps the fake broker of ``tests/helpers``: it decodes what
the client wrote and answers from a table of handlers keyed by method class
(by default: the handshake, channel open/close, Confirm.Select, connection
close and UpdateSecret). Replies travel like network bytes: they reach
``data_received`` on a later loop iteration, cut into chunks by a splitter.

``ClockLoop`` stands in for the event loop inside the protocol: it delegates
everything to the running loop except ``time()`` (a number the test moves)
and ``call_at`` (recorded ``FakeTimer``s that fire only from ``advance``), so
heartbeat deadlines are checked and crossed without sleeping.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from amqpio import spec
from amqpio.codec.table import FieldTable
from amqpio.sansio import ConnectionConfig
from amqpio.spec import Method
from amqpio.transport.protocol import AMQPProtocol
from helpers.broker import (
    SERVER_PROPERTIES,
    FakeBroker,
    Published,
    Sent,
    Splitter,
    whole,
)

Handler = Callable[[int, Method], Iterable[bytes]]

SERVER_PROPERTIES_TABLE = cast(FieldTable, SERVER_PROPERTIES)

#: The default broker proposal: 60 s heartbeats arm the timer in every test.
TUNE = spec.Connection.Tune(2047, 131072, 60)


class FakeTimer:
    """What ``ClockLoop.call_at`` returns: a ``TimerHandle`` look-alike."""

    def __init__(
        self, when: float, callback: Callable[..., object], args: tuple[Any, ...]
    ) -> None:
        self._when = when
        self._callback = callback
        self._args = args
        self._cancelled = False
        self.fired = False

    def when(self) -> float:
        return self._when

    def cancel(self) -> None:
        self._cancelled = True

    def cancelled(self) -> bool:
        return self._cancelled

    def fire(self) -> None:
        self.fired = True
        self._callback(*self._args)


class ClockLoop:
    """The running loop with a clock and timers under the test's control."""

    def __init__(self, loop: asyncio.AbstractEventLoop, now: float = 1000.0) -> None:
        self._loop = loop
        self.now = now
        self.timers: list[FakeTimer] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loop, name)

    def time(self) -> float:
        return self.now

    def call_at(
        self,
        when: float,
        callback: Callable[..., object],
        *args: Any,
        context: object = None,
    ) -> FakeTimer:
        timer = FakeTimer(when, callback, args)
        self.timers.append(timer)
        return timer

    def armed(self) -> list[FakeTimer]:
        """Timers scheduled and neither cancelled nor fired."""
        return [t for t in self.timers if not t.cancelled() and not t.fired]

    def advance(self, seconds: float) -> int:
        """Move the clock forward, stopping at each timer that becomes due to
        fire it (so callbacks see their own deadline as ``time()``); return
        how many fired."""
        target = self.now + seconds
        fired = 0
        while True:
            due = [t for t in self.armed() if t.when() <= target]
            if not due:
                self.now = target
                return fired
            timer = min(due, key=FakeTimer.when)
            self.now = max(self.now, timer.when())
            timer.fire()
            fired += 1
            assert fired < 1000, "a timer keeps re-arming in the past"


class FakeSocket:
    """Enough of a socket for ``connection_made``: family and setsockopt."""

    def __init__(self, family: int = socket.AF_INET) -> None:
        self.family = family
        self.options: list[tuple[int, int, int]] = []

    def setsockopt(self, level: int, option: int, value: int) -> None:
        self.options.append((level, option, value))


class DuckTransport:
    """Records writes, forwards them to the broker, simulates flow control.

    It has the transport interface but not ``asyncio.Transport`` as a base,
    like uvloop's transports; :class:`FakeTransport` is the same with it.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        protocol: AMQPProtocol,
        broker: ScriptedBroker,
        extra: dict[str, object] | None = None,
    ) -> None:
        self._extra = dict(extra or {})
        self.loop = loop
        self.protocol = protocol
        self.broker = broker
        #: One entry per write/writelines call: the bytes it carried.
        self.writes: list[bytes] = []
        self.closing = False
        self.aborted = False
        self.lost = False

    def get_extra_info(self, name: str, default: object = None) -> object:
        return self._extra.get(name, default)

    # -- asyncio.Transport -------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        assert not self.closing, "write after close"
        self.writes.append(bytes(data))
        self.broker.client_wrote(bytes(data))

    def writelines(
        self, list_of_data: Iterable[bytes | bytearray | memoryview]
    ) -> None:
        assert not self.closing, "write after close"
        data = b"".join(bytes(d) for d in list_of_data)
        self.writes.append(data)
        self.broker.client_wrote(data)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        if not self.closing:
            self.closing = True
            self.loop.call_soon(self._connection_lost, None)

    def abort(self) -> None:
        self.aborted = True
        self.close()

    # -- test controls -----------------------------------------------------

    def pause(self) -> None:
        self.protocol.pause_writing()

    def resume(self) -> None:
        self.protocol.resume_writing()

    def lose(self, error: Exception | None = None) -> None:
        """The socket broke (or the broker closed it) right now."""
        self.closing = True
        self._connection_lost(error)

    def _connection_lost(self, error: Exception | None) -> None:
        if not self.lost:
            self.lost = True
            self.protocol.connection_lost(error)


class FakeTransport(DuckTransport, asyncio.Transport):
    """A :class:`DuckTransport` that also is an ``asyncio.Transport``."""


class ScriptedBroker:
    """The fake broker of ``tests/helpers`` answering from a handler table."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        splitter: Splitter = whole,
        tune: spec.Connection.Tune = TUNE,
    ) -> None:
        self.loop = loop
        self.codec = FakeBroker()
        self.split = splitter
        self.transport: DuckTransport | None = None
        #: Everything the client sent, decoded, in order.
        self.received: list[Sent] = []
        start = spec.Connection.Start(server_properties=SERVER_PROPERTIES_TABLE)
        self.on_header: Callable[[], Iterable[bytes]] = lambda: [self.method(0, start)]
        C = spec.Connection
        self.handlers: dict[type[Method], Handler] = {
            C.StartOk: lambda ch, m: [self.method(0, tune)],
            C.Open: lambda ch, m: [self.method(0, C.OpenOk())],
            C.Close: lambda ch, m: [self.method(0, C.CloseOk())],
            C.UpdateSecret: lambda ch, m: [self.method(0, C.UpdateSecretOk())],
            spec.Channel.Open: lambda ch, m: [self.method(ch, spec.Channel.OpenOk())],
            spec.Channel.Close: lambda ch, m: [self.method(ch, spec.Channel.CloseOk())],
            spec.Confirm.Select: lambda ch, m: [
                self.method(ch, spec.Confirm.SelectOk())
            ],
        }

    method = staticmethod(FakeBroker.method)
    content = staticmethod(FakeBroker.content)
    heartbeat = staticmethod(FakeBroker.heartbeat)

    # -- client -> broker ----------------------------------------------------

    def client_wrote(self, data: bytes) -> None:
        had_header = self.codec.header is not None
        items = self.codec.decode([data])
        if not had_header and self.codec.header is not None:
            self.send_soon(*self.on_header())
        for item in items:
            self.received.append(item)
            if isinstance(item, tuple):
                channel, method = item
                handler = self.handlers.get(type(method))
                if handler is not None:
                    self.send_soon(*handler(channel, method))

    def methods(self) -> list[tuple[int, Method]]:
        """The method frames received so far (publishes and heartbeats skipped)."""
        return [item for item in self.received if isinstance(item, tuple)]

    def published(self) -> list[Published]:
        return [item for item in self.received if isinstance(item, Published)]

    # -- broker -> client ----------------------------------------------------

    def send(self, *frames: bytes) -> None:
        """Deliver bytes to the client now, chunked by the splitter."""
        transport = self.transport
        assert transport is not None
        for chunk in self.split(b"".join(frames)):
            if transport.lost:
                return
            transport.protocol.data_received(chunk)

    def send_soon(self, *frames: bytes) -> None:
        """Deliver bytes on a later loop iteration, as a network would."""
        if frames:
            self.loop.call_soon(self._deliver, b"".join(frames))

    def _deliver(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None and not transport.lost:
            self.send(data)

    def drop_soon(self, error: Exception | None = None) -> None:
        """Close the socket after the bytes already on their way arrive."""
        transport = self.transport
        assert transport is not None
        self.loop.call_soon(transport.lose, error)


@dataclass
class Harness:
    """One protocol wired to a fake transport, a scripted broker and a clock."""

    protocol: AMQPProtocol
    transport: DuckTransport
    broker: ScriptedBroker
    clock: ClockLoop
    listener: RecordingConnectionListener
    channels: dict[int, RecordingChannelListener] = field(default_factory=dict)

    async def open_channel(self, channel_id: int | None = None) -> int:
        listener = RecordingChannelListener()
        number, future = self.protocol.open_channel(listener, channel_id)
        await future
        self.channels[number] = listener
        return number

    async def confirming_channel(self) -> int:
        number = await self.open_channel()
        reply = await self.protocol.request(number, spec.Confirm.Select())
        assert reply == spec.Confirm.SelectOk()
        return number


def connect(
    config: ConnectionConfig | None = None,
    *,
    splitter: Splitter = whole,
    tune: spec.Connection.Tune = TUNE,
    extra: dict[str, object] | None = None,
    on_header: Callable[[], Iterable[bytes]] | None = None,
    transport_class: type[DuckTransport] | None = None,
) -> Harness:
    """Build a harness and call ``connection_made``; the handshake then runs
    on the loop (await ``harness.protocol.opened``). ``on_header`` replaces
    the broker's answer to the protocol header (Connection.Start)."""
    loop = asyncio.get_running_loop()
    clock = ClockLoop(loop)
    listener = RecordingConnectionListener()
    protocol = AMQPProtocol(
        config or ConnectionConfig(), cast(asyncio.AbstractEventLoop, clock), listener
    )
    broker = ScriptedBroker(loop, splitter, tune)
    if on_header is not None:
        broker.on_header = on_header
    transport = (transport_class or FakeTransport)(loop, protocol, broker, extra)
    broker.transport = transport
    protocol.connection_made(transport)
    return Harness(protocol, transport, broker, clock, listener)


# -- listeners ---------------------------------------------------------------


class RecordingChannelListener:
    """A ``ChannelListener`` that keeps whatever it is told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def on_delivery(self, event: object) -> None:
        self.calls.append(("delivery", event))

    def on_return(self, event: object) -> None:
        self.calls.append(("return", event))

    def on_consumer_cancelled(self, consumer_tag: str) -> None:
        self.calls.append(("cancelled", consumer_tag))

    def on_flow(self, active: bool) -> None:
        self.calls.append(("flow", active))

    def on_closed(self, error: BaseException) -> None:
        self.calls.append(("closed", error))

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.calls]


class RecordingConnectionListener:
    """A ``ConnectionListener`` that keeps whatever it is told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def on_blocked(self, reason: str) -> None:
        self.calls.append(("blocked", reason))

    def on_unblocked(self) -> None:
        self.calls.append(("unblocked", None))

    def on_closed(self, error: BaseException) -> None:
        self.calls.append(("closed", error))


# -- assertions --------------------------------------------------------------


def pending_futures(protocol: AMQPProtocol) -> list[asyncio.Future[Any]]:
    """Every future the protocol still holds that is not done."""
    futures: list[asyncio.Future[Any]] = [protocol.opened]
    futures += protocol._replies.values()
    futures += protocol._channel_opens.values()
    futures += protocol._channel_closes.values()
    for confirms in protocol._confirms.values():
        futures += confirms.values()
    futures += protocol._secret_waiters
    futures += protocol._drain_waiters
    futures += protocol._writers
    if protocol._close_waiter is not None:
        futures.append(protocol._close_waiter)
    return [f for f in futures if not f.done()]


def assert_nothing_pending(protocol: AMQPProtocol) -> None:
    assert pending_futures(protocol) == []
    assert protocol._replies == {}
    assert protocol._reply_channel == {}
    assert protocol._channel_opens == {}
    assert protocol._channel_closes == {}
    assert protocol._confirms == {}
    assert protocol._secret_waiters == []
    assert protocol._drain_waiters == []
    assert protocol._writers == []
    assert protocol._listeners == {}


def failure(future: asyncio.Future[Any]) -> BaseException:
    """The exception of a failed future (marking it retrieved)."""
    assert future.done(), future
    assert not future.cancelled(), future
    error = future.exception()
    assert error is not None, future.result()
    return error


async def settle(iterations: int = 10) -> None:
    """Let scheduled callbacks (flushes, broker replies) run."""
    for _ in range(iterations):
        await asyncio.sleep(0)
