"""amqpio objects for the integration tests, on the session broker of
``tests/conftest.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import amqpio
from amqpio.testing.rabbitmq import Broker

from .fault_proxy import FaultProxy
from .robust_support import start_proxy

# -- amqpio objects for the API tests (a test module may define its own) -------


@pytest.fixture
async def connection(rabbitmq: Broker) -> AsyncIterator[amqpio.Connection]:
    """A connection to the session broker, closed after the test."""
    conn = await amqpio.connect(rabbitmq.url)
    yield conn
    await conn.close()


@pytest.fixture
async def channel(connection: amqpio.Connection) -> amqpio.Channel:
    """A channel (publisher confirms on) of ``connection``."""
    return await connection.channel()


@pytest.fixture
async def queue(channel: amqpio.Channel) -> amqpio.Queue:
    """A server-named exclusive queue, gone with the connection."""
    return await channel.declare_queue(exclusive=True)


@pytest.fixture
async def proxy(
    rabbitmq: Broker, spare_ports: tuple[int, ...]
) -> AsyncIterator[FaultProxy]:
    """A fault-injecting TCP proxy in front of the session broker (a module
    may define its own ``proxy``)."""
    proxy = await start_proxy(rabbitmq, spare_ports[2])
    try:
        yield proxy
    finally:
        await proxy.close()
