"""Helpers shared by the ``test_api_*`` integration tests (no fixtures here)."""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import pytest

import amqpio
from amqpio.testing.rabbitmq import Broker

T = TypeVar("T")

#: Bound on every wait for the broker: long enough for a slow CI machine,
#: short enough that a hang fails the test instead of the suite.
WAIT = 10.0


def unique(prefix: str) -> str:
    """A name no other test (or earlier run) uses."""
    return f"amqpio-test-{prefix}-{uuid.uuid4().hex[:12]}"


def host_port(url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 5672


async def within(awaitable: Awaitable[T], timeout: float = WAIT) -> T:
    """Await with a bound, so that a hang fails the test."""
    return await asyncio.wait_for(awaitable, timeout)


async def eventually(
    check: Callable[[], Awaitable[T | None]], timeout: float = WAIT
) -> T:
    """Poll ``check`` until it returns a true value (for broker-side statistics)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.05)


def need_management(broker: Broker) -> str:
    url = broker.management_url
    if url is None:
        pytest.skip("no management plugin on this broker")
    return url


def management(
    broker: Broker, method: str, path: str, body: Any = None, *, ok_404: bool = False
) -> Any:
    """Call the management HTTP API as guest (blocking; use ``asyncio.to_thread``)."""
    base = need_management(broker)
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base.rstrip("/") + "/api/" + path.lstrip("/"), data=data, method=method
    )
    request.add_header(
        "Authorization", "Basic " + base64.b64encode(b"guest:guest").decode()
    )
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=WAIT) as response:
            raw = response.read()
    except urllib.error.HTTPError as error:
        if ok_404 and error.code == 404:
            return None
        raise
    return json.loads(raw) if raw else None


def quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def local_port(connection: amqpio.Connection) -> int:
    """The client-side TCP port of a connection (how the broker names it)."""
    protocol = connection.transport
    assert protocol is not None and protocol.transport is not None
    return int(protocol.transport.get_extra_info("sockname")[1])


async def broker_views(
    broker: Broker, connections: Sequence[amqpio.Connection]
) -> list[dict[str, Any]]:
    """The management API's entries for these connections, in order.

    Waits until all are listed (the API lists a connection seconds after it
    opened: poll once for many connections rather than once for each).
    """
    ports = [local_port(connection) for connection in connections]

    async def find() -> list[dict[str, Any]] | None:
        entries = await asyncio.to_thread(management, broker, "GET", "connections")
        by_port = {entry.get("peer_port"): entry for entry in entries}
        if all(port in by_port for port in ports):
            return [dict(by_port[port]) for port in ports]
        return None

    return await eventually(find)


async def message_count(channel: amqpio.Channel, queue: str) -> int:
    """Ready messages in ``queue`` (a passive declare)."""
    declared = await channel.declare_queue(queue, passive=True)
    return int(declared.declaration_result.message_count)


class Relay:
    """A TCP relay to the broker that a test can freeze (silence) or cut.

    Everything runs on the test's event loop; :meth:`close` leaves nothing open.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._writers: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    async def start(self, port: int) -> str:
        """Listen on ``port``; return the broker URL through the relay."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", port)
        return f"amqp://guest:guest@127.0.0.1:{port}/"

    async def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        self._writers += [writer, up_writer]
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.ensure_future(self._pump(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while data := await reader.read(65536):
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.transport.abort()

    def freeze(self) -> None:
        """Stop forwarding in both directions (a silent, hung peer)."""
        self._flowing.clear()

    def cut(self) -> None:
        """Drop every relayed connection at once."""
        for writer in self._writers:
            writer.transport.abort()

    async def close(self) -> None:
        self.cut()
        self._flowing.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
