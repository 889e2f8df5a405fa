"""Helpers for the robust-connection fault tests (no fixtures here)."""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from amqpio.robust_connection import RobustConnection
from amqpio.testing.rabbitmq import Broker

from .fault_proxy import FaultProxy

T = TypeVar("T")

#: Bound on every wait in these tests: a hang fails the test, not the suite.
WAIT = 30.0
#: Fast reconnects for tests: first retry after up to 50 ms, cap 0.5 s.
FAST = {"reconnect_interval": 0.05, "reconnect_max_interval": 0.5}


def unique(prefix: str) -> str:
    return f"amqpio-robust-{prefix}-{uuid.uuid4().hex[:10]}"


def host_port(url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 5672


async def start_proxy(broker: Broker, port: int) -> FaultProxy:
    host, target = host_port(broker.url)
    return await FaultProxy(port, host, target).start()


async def within(awaitable: Awaitable[T], timeout: float = WAIT) -> T:
    return await asyncio.wait_for(awaitable, timeout)


async def eventually(
    check: Callable[[], Any], timeout: float = WAIT, interval: float = 0.05
) -> Any:
    """Poll ``check`` (sync or async) until it returns a true value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


class Recoveries:
    """Counts a robust connection's losses and reconnects; waits for totals."""

    def __init__(self, connection: RobustConnection) -> None:
        self.lost = 0
        self.reconnected = 0
        self.reasons: list[BaseException | None] = []
        self._changed = asyncio.Event()
        connection.close_callbacks.add(self._on_lost)
        connection.reconnect_callbacks.add(self._on_reconnect)

    def _on_lost(self, _: Any, reason: BaseException | None = None) -> None:
        self.lost += 1
        if len(self.reasons) < 5:  # bounded: the leak test counts memory
            self.reasons.append(reason)
        self._changed.set()

    def _on_reconnect(self, _: Any) -> None:
        self.reconnected += 1
        self._changed.set()

    async def _until(self, done: Callable[[], bool], timeout: float) -> None:
        async def wait() -> None:
            while not done():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), timeout)

    async def wait(self, total: int, timeout: float = WAIT) -> None:
        """Until ``total`` reconnects (topology restored) happened."""
        await self._until(lambda: self.reconnected >= total, timeout)

    async def wait_lost(self, total: int, timeout: float = WAIT) -> None:
        await self._until(lambda: self.lost >= total, timeout)


def consumer_count(broker: Broker, queue: str, vhost: str = "/") -> int | None:
    """The broker's consumer count of ``queue`` (rabbitmqctl), None if absent."""
    out = broker.rabbitmqctl(
        "list_queues",
        "-p",
        vhost,
        "name",
        "consumers",
        "--quiet",
        "--no-table-headers",
    )
    for line in out.splitlines():
        name, _, count = line.rpartition("\t")
        if name == queue:
            return int(count)
    return None


async def consumers(broker: Broker, queue: str) -> int | None:
    return await asyncio.to_thread(consumer_count, broker, queue)


class LogCapture(logging.Handler):
    """Records amqpio log messages (to check what recovery reported)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
