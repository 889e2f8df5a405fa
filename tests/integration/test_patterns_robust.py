"""Patterns over connect_robust: RPC and Master/Worker keep working across a cut.

The connections go through a small TCP proxy on a spare loopback port; the
test cuts every proxied connection at once (as a network failure would) while
the broker stays up, waits for both robust connections to reconnect and
restore, and checks that calls and tasks work again.
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

import amqpio
from amqpio import exceptions as exc
from amqpio.abc import AbstractRobustConnection
from amqpio.patterns import RPC, Master
from amqpio.testing.rabbitmq import Broker

pytestmark = pytest.mark.integration

TIMEOUT = 20


class TcpProxy:
    """Forwards loopback connections to the broker; :meth:`cut` drops them all."""

    def __init__(self, port: int, target_host: str, target_port: int) -> None:
        self.port = port
        self.target = (target_host, target_port)
        self.server: asyncio.Server | None = None
        self.links: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.accepted = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.links.update((writer, up_writer))
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.ensure_future(self._pump(source, sink))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter
    ) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self.links.discard(sink)
            sink.close()

    def cut(self) -> int:
        """Abort every proxied connection (RST, no AMQP close); return how many."""
        links = tuple(self.links)
        for writer in links:
            writer.transport.abort()
        self.links.clear()
        return len(links) // 2

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        self.cut()
        for task in tuple(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


@pytest.fixture
async def proxy(
    rabbitmq: Broker, spare_ports: tuple[int, ...]
) -> AsyncIterator[TcpProxy]:
    parts = urllib.parse.urlsplit(rabbitmq.url)
    proxy = TcpProxy(spare_ports[0], parts.hostname or "127.0.0.1", parts.port or 5672)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()


def proxied_url(rabbitmq: Broker, proxy: TcpProxy) -> str:
    parts = urllib.parse.urlsplit(rabbitmq.url)
    netloc = f"{parts.username}:{parts.password}@127.0.0.1:{proxy.port}"
    query = "reconnect_interval=0.1&reconnect_max_interval=0.5"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))


class Reconnects:
    """Counts losses and reconnects of robust connections; waits for totals."""

    def __init__(self, *connections: AbstractRobustConnection) -> None:
        self.count = 0
        self.lost = 0
        self.changed = asyncio.Event()
        for connection in connections:
            connection.reconnect_callbacks.add(self._on_reconnect)
            connection.close_callbacks.add(self._on_lost)

    def _on_reconnect(self, connection: Any) -> None:
        self.count += 1
        self.changed.set()

    def _on_lost(self, connection: Any, reason: Any) -> None:
        self.lost += 1
        self.changed.set()

    async def _until(self, reached: Any) -> None:
        async def wait() -> None:
            while not reached():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), TIMEOUT)

    async def wait(self, total: int) -> None:
        """Until ``total`` reconnects (restored topology included) happened."""
        await self._until(lambda: self.count >= total)

    async def wait_lost(self, total: int) -> None:
        """Until the connections noticed ``total`` losses."""
        await self._until(lambda: self.lost >= total)


def name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


async def multiply(*, x: int, y: int) -> int:
    return x * y


@pytest.mark.parametrize(
    "direct", [False, True], ids=["reply-queue", "direct-reply-to"]
)
async def test_rpc_survives_a_connection_cut(
    rabbitmq: Broker, proxy: TcpProxy, direct: bool
) -> None:
    url = proxied_url(rabbitmq, proxy)
    server_connection = await amqpio.connect_robust(url)
    client_connection = await amqpio.connect_robust(url)
    try:
        reconnects = Reconnects(server_connection, client_connection)
        server = await RPC.create(await server_connection.channel())
        client = await RPC.create(
            await client_connection.channel(), direct_reply_to=direct
        )
        method, stuck = name("mul"), name("stuck")
        started = asyncio.Event()

        async def hang() -> None:
            started.set()
            await asyncio.Event().wait()

        await server.register(method, multiply, auto_delete=True)
        await server.register(stuck, hang, auto_delete=True)
        assert await client.call(method, {"x": 2, "y": 3}) == 6

        first_reply_consumer = client.result_consumer_tag
        pending = asyncio.ensure_future(client.call(stuck))
        await asyncio.wait_for(started.wait(), TIMEOUT)
        assert proxy.cut() == 2
        # the call in flight fails with the connection's loss, it does not hang
        done, _ = await asyncio.wait([pending], timeout=TIMEOUT)
        assert done
        # the README: "calls in flight at the moment of a loss fail with the
        # connection error"
        assert isinstance(pending.exception(), exc.AMQPConnectionError), repr(
            pending.exception()
        )
        assert client.futures == {}

        await reconnects.wait(2)
        results = await asyncio.wait_for(
            asyncio.gather(
                *(client.call(method, {"x": i, "y": 10}) for i in range(50))
            ),
            TIMEOUT,
        )
        assert results == [i * 10 for i in range(50)]
        if direct:  # a new reply consumer on the new AMQP channel
            assert client.result_consumer_tag != first_reply_consumer
        else:  # the robust layer restored the reply queue's consumer
            assert client.result_consumer_tag == first_reply_consumer

        # and once more: a second cut is survived the same way
        assert proxy.cut() == 2
        await reconnects.wait(4)
        assert (
            await asyncio.wait_for(getattr(client.proxy, method)(x=7, y=6), TIMEOUT)
            == 42
        )
        await client.close()
    finally:
        await client_connection.close()
        await server_connection.close()


async def test_master_worker_survive_a_connection_cut(
    rabbitmq: Broker, proxy: TcpProxy
) -> None:
    url = proxied_url(rabbitmq, proxy)
    worker_connection = await amqpio.connect_robust(url)
    master_connection = await amqpio.connect_robust(url)
    queue = name("tasks")
    seen: set[int] = set()
    arrived = asyncio.Event()

    async def task(*, task_id: int) -> None:
        seen.add(task_id)
        arrived.set()

    async def wait_for(ids: set[int]) -> None:
        while not ids <= seen:
            arrived.clear()
            await asyncio.wait_for(arrived.wait(), TIMEOUT)

    try:
        reconnects = Reconnects(worker_connection, master_connection)
        worker_channel = await worker_connection.channel()
        await worker_channel.set_qos(prefetch_count=10)
        # a durable task queue: tasks published while no worker is up wait in it
        await Master(worker_channel).create_worker(queue, task, durable=True)
        master = Master(await master_connection.channel())
        for i in range(10):
            await master.create_task(queue, kwargs={"task_id": i})
        await wait_for(set(range(10)))

        assert proxy.cut() == 2
        await reconnects.wait_lost(2)
        # published during the outage: waits for the restored channel
        during = asyncio.ensure_future(
            asyncio.gather(
                *(
                    master.create_task(queue, kwargs={"task_id": i})
                    for i in range(10, 20)
                )
            )
        )
        await reconnects.wait(2)
        await asyncio.wait_for(during, TIMEOUT)
        for i in range(20, 30):
            await master.create_task(queue, kwargs={"task_id": i})
        await wait_for(set(range(30)))
    finally:
        with contextlib.suppress(Exception):
            channel = await master_connection.channel()
            await channel.queue_delete(queue)
        await master_connection.close()
        await worker_connection.close()
