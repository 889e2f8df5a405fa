"""connect() against hostile or broken servers on a real loopback socket.

Each server speaks raw bytes (frames built with the fake broker's codec): one
that accepts TCP and says nothing, one that trickles a valid Connection.Start
a byte at a time, one that lifts frame_max with Tune(frame_max=0) and then
announces a 2 GiB frame. The client must fail with a typed error within its
deadline (plus a loose margin on a busy machine), close its socket, and never
buffer toward the announced size.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

import amqpio
from amqpio import exceptions as exc
from amqpio import spec
from amqpio._url import DEFAULT_HANDSHAKE_TIMEOUT, parse_url
from amqpio.codec.frames import FRAME_METHOD
from amqpio.sansio.config import DEFAULT_FRAME_MAX
from helpers.broker import FakeBroker, Heartbeat

from .fakes import SERVER_PROPERTIES_TABLE

C = spec.Connection
#: Generous: the machine may be busy; the bounds prove the promise, not speed.
MARGIN = 2.0

Handler = Callable[["Peer"], Awaitable[None]]


@dataclass
class Peer:
    """One accepted client connection, seen from the server."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    codec: FakeBroker = field(default_factory=FakeBroker)
    #: what the client sent, decoded (methods as (channel, method))
    received: list[object] = field(default_factory=list)
    #: set once the client closed its side (EOF or reset)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    #: bytes the server wrote
    sent: int = 0

    async def next_methods(self, count: int) -> list[tuple[int, spec.Method]]:
        """Read until ``count`` more methods arrived; return them."""
        start = len(self.methods())
        while len(self.methods()) < start + count:
            data = await self.reader.read(65536)
            if not data:
                raise ConnectionError("client closed")
            self.received += [
                item for item in self.codec.decode([data]) if item != Heartbeat()
            ]
        return self.methods()[start:]

    def methods(self) -> list[tuple[int, spec.Method]]:
        return [item for item in self.received if isinstance(item, tuple)]

    async def read_header(self) -> None:
        data = await self.reader.readexactly(8)
        self.received += self.codec.decode([data])
        assert self.codec.header == b"AMQP\x00\x00\x09\x01"

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        self.sent += len(data)
        await self.writer.drain()

    async def wait_for_eof(self) -> None:
        """Read (and decode) whatever comes until the client closes."""
        with contextlib.suppress(ConnectionError):
            while data := await self.reader.read(65536):
                self.received += self.codec.decode([data])


@dataclass
class Server:
    port: int
    peers: list[Peer]

    def url(self, query: str = "") -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/{query}"


@contextlib.asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[Server]:
    """A loopback server running ``handler`` for each connection."""
    peers: list[Peer] = []
    tasks: set[asyncio.Task[None]] = set()

    async def run(peer: Peer) -> None:
        try:
            await handler(peer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away: what these tests expect
        finally:
            peer.closed.set()
            peer.writer.close()
            with contextlib.suppress(ConnectionError):
                await peer.writer.wait_closed()

    async def accept(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        peer = Peer(reader, writer)
        peers.append(peer)
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        await run(peer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield Server(server.sockets[0].getsockname()[1], peers)
    finally:
        server.close()
        # end the handlers by dropping their sockets (cancelling a stream
        # handler task makes asyncio 3.11 log an error)
        for peer in peers:
            peer.writer.transport.abort()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


async def silent(peer: Peer) -> None:
    """Accept TCP, read what comes, never answer."""
    await peer.wait_for_eof()


async def closed_within(peer: Peer, seconds: float = MARGIN) -> None:
    """The client closed its socket (the server saw EOF) within ``seconds``."""
    await asyncio.wait_for(peer.closed.wait(), seconds)


async def timed(awaitable: Awaitable[object]) -> tuple[BaseException, float]:
    """The exception ``awaitable`` raises and how long it took."""
    started = time.monotonic()
    with pytest.raises(BaseException) as info:
        await awaitable
    return info.value, time.monotonic() - started


# -- handshake deadline ----------------------------------------------------------


def test_handshake_timeout_error_is_a_connection_error_and_a_timeout() -> None:
    assert "HandshakeTimeoutError" in exc.__all__
    error = exc.HandshakeTimeoutError("late")
    assert isinstance(error, exc.AMQPConnectionError)
    assert isinstance(error, asyncio.TimeoutError)
    assert isinstance(error, ConnectionError)


async def test_default_handshake_timeout_is_ten_seconds() -> None:
    assert DEFAULT_HANDSHAKE_TIMEOUT == 10.0
    assert parse_url("amqp://h/").handshake_timeout == 10.0
    assert parse_url().handshake_timeout == 10.0
    assert amqpio.Connection("amqp://h/")._params.handshake_timeout == 10.0


@pytest.mark.parametrize("how", ["keyword", "url"])
async def test_silent_server_times_out_the_handshake(how: str) -> None:
    deadline = 0.5
    async with serving(silent) as server:
        if how == "keyword":
            call = amqpio.connect(server.url(), handshake_timeout=deadline)
        else:
            call = amqpio.connect(server.url(f"?handshake_timeout={deadline}"))
        error, elapsed = await timed(call)
        assert isinstance(error, exc.HandshakeTimeoutError), error
        assert "handshake timeout of 0.5 s" in str(error)
        assert deadline * 0.9 <= elapsed < deadline + MARGIN
        [peer] = server.peers
        await closed_within(peer)
        assert peer.codec.header == b"AMQP\x00\x00\x09\x01"


async def test_silent_server_times_out_connect_robust() -> None:
    async with serving(silent) as server:
        error, elapsed = await timed(
            amqpio.connect_robust(server.url(), handshake_timeout=0.5)
        )
        assert isinstance(error, exc.HandshakeTimeoutError), error
        assert elapsed < 0.5 + MARGIN
        await closed_within(server.peers[0])


async def test_trickling_server_cannot_extend_the_deadline() -> None:
    """An absolute deadline: one byte every 0.1 s keeps an idle timer happy."""
    start = FakeBroker.method(0, C.Start(server_properties=SERVER_PROPERTIES_TABLE))
    assert len(start) > 100  # would take over 10 s to deliver

    async def trickle(peer: Peer) -> None:
        await peer.read_header()
        for i in range(len(start)):
            await peer.send(start[i : i + 1])
            await asyncio.sleep(0.1)
        await peer.wait_for_eof()

    deadline = 1.0
    async with serving(trickle) as server:
        error, elapsed = await timed(
            amqpio.connect(server.url(), handshake_timeout=deadline)
        )
        assert isinstance(error, exc.HandshakeTimeoutError), error
        assert deadline * 0.9 <= elapsed < deadline + MARGIN
        [peer] = server.peers
        await closed_within(peer)
        # bytes kept coming until the deadline, yet it passed
        assert 3 <= peer.sent < len(start)


async def test_handshake_timeout_none_disables_the_deadline() -> None:
    async with serving(silent) as server:
        task = asyncio.ensure_future(
            amqpio.connect(server.url(), handshake_timeout=None)
        )
        done, _ = await asyncio.wait({task}, timeout=1.0)
        assert not done  # still waiting, well past a small deadline
        [peer] = server.peers
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await closed_within(peer)


async def test_smaller_timeout_wins_with_a_plain_timeout_error() -> None:
    async with serving(silent) as server:
        error, elapsed = await timed(
            amqpio.connect(server.url(), timeout=0.3, handshake_timeout=5)
        )
        assert isinstance(error, asyncio.TimeoutError)
        assert not isinstance(error, exc.HandshakeTimeoutError)
        assert elapsed < 0.3 + MARGIN
        await closed_within(server.peers[0])


async def test_smaller_handshake_timeout_wins_over_timeout() -> None:
    async with serving(silent) as server:
        error, elapsed = await timed(
            amqpio.connect(server.url(), timeout=5, handshake_timeout=0.3)
        )
        assert isinstance(error, exc.HandshakeTimeoutError)
        assert elapsed < 0.3 + MARGIN


async def test_close_callbacks_hear_of_the_timeout_not_of_a_broker_close() -> None:
    async with serving(silent) as server:
        connection = amqpio.Connection(server.url(), handshake_timeout=0.3)
        reasons: list[BaseException | None] = []
        connection.close_callbacks.add(lambda _, reason: reasons.append(reason))
        with pytest.raises(exc.HandshakeTimeoutError) as info:
            await connection.connect()
        await closed_within(server.peers[0])
        assert reasons == [info.value]
        assert connection.is_closed


async def test_handshake_completing_in_time_is_unaffected() -> None:
    async def broker(peer: Peer) -> None:
        await peer.read_header()
        await peer.send(
            FakeBroker.method(0, C.Start(server_properties=SERVER_PROPERTIES_TABLE))
        )
        await peer.next_methods(1)  # StartOk
        await peer.send(FakeBroker.method(0, C.Tune(2047, 131072, 0)))
        await peer.next_methods(2)  # TuneOk, Open
        await peer.send(FakeBroker.method(0, C.OpenOk()))
        [(_, close)] = await peer.next_methods(1)
        assert isinstance(close, C.Close)
        await peer.send(FakeBroker.method(0, C.CloseOk()))
        await peer.wait_for_eof()

    async with serving(broker) as server:
        connection = await amqpio.connect(server.url(), handshake_timeout=2)
        await asyncio.sleep(2.5)  # past the handshake deadline: nothing happens
        assert not connection.is_closed
        await connection.close()


# -- frame limit ---------------------------------------------------------------


async def test_frame_bomb_after_tune_without_limit_fails_at_once() -> None:
    """Tune(frame_max=0), then a 2 GiB frame header and a stream of bytes."""
    bomb = 64 << 20  # what the server tries to push after the header

    async def hostile(peer: Peer) -> None:
        await peer.read_header()
        await peer.send(
            FakeBroker.method(0, C.Start(server_properties=SERVER_PROPERTIES_TABLE))
        )
        await peer.next_methods(1)  # StartOk
        await peer.send(FakeBroker.method(0, C.Tune(0, 0, 0)))
        await peer.next_methods(2)  # TuneOk, Open
        # a method frame on channel 0 announcing 2 GiB of payload
        await peer.send(struct.pack(">BHI", FRAME_METHOD, 0, 1 << 31))
        chunk = bytes(65536)
        while peer.sent < bomb and not peer.writer.is_closing():
            await peer.send(chunk)

    async with serving(hostile) as server:
        tracemalloc.start()
        try:
            error, elapsed = await timed(
                amqpio.connect(server.url(), handshake_timeout=10)
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert isinstance(error, exc.ConnectionFrameError), error
        assert error.reply_code == 501
        assert "frame_max" in str(error)
        assert elapsed < MARGIN  # at once, not at the handshake deadline
        assert peak < 16 << 20  # no buffering toward 2 GiB (nor the 64 MiB sent)
        [peer] = server.peers
        await closed_within(peer)
        # the client answered Tune(0) with its own ceiling, not "no limit"
        tune_ok = next(m for _, m in peer.methods() if isinstance(m, C.TuneOk))
        assert tune_ok.frame_max == DEFAULT_FRAME_MAX
