"""amqpio.pool with real connections and channels (the seed's pooling example)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import amqpio
from amqpio.abc import AbstractChannel, AbstractConnection, PoolInstance
from amqpio.pool import Pool, PoolInvalidStateError
from amqpio.testing.rabbitmq import Broker

pytestmark = pytest.mark.integration

TIMEOUT = 20


@pytest.fixture(params=["connect", "connect_robust"])
def connect(
    request: pytest.FixtureRequest,
) -> Callable[[str], Awaitable[AbstractConnection]]:
    function = getattr(amqpio, request.param, None)
    if function is None:
        pytest.skip(f"amqpio.{request.param} is not available")
    return function  # type: ignore[no-any-return]


async def test_seed_connection_and_channel_pools(
    rabbitmq: Broker, connect: Callable[[str], Awaitable[AbstractConnection]]
) -> None:
    """4.1.8 "Connection pooling", bounded: 1000 publishes through 10 channels."""
    total = 1000
    loop = asyncio.get_running_loop()
    connections: list[AbstractConnection] = []
    channels: list[AbstractChannel] = []

    async def get_connection() -> AbstractConnection:
        connection = await connect(rabbitmq.url)
        connections.append(connection)
        return connection

    connection_pool: Pool[AbstractConnection] = Pool(
        get_connection, max_size=2, loop=loop
    )

    async def get_channel() -> AbstractChannel:
        async with connection_pool.acquire() as connection:
            channel = await connection.channel()
            channels.append(channel)
            return channel

    channel_pool: Pool[AbstractChannel] = Pool(get_channel, max_size=10, loop=loop)
    queue_name = f"pool_queue-{uuid.uuid4().hex[:8]}"
    received: list[bytes] = []
    consuming = asyncio.Event()

    async def consume() -> None:
        async with channel_pool.acquire() as channel:
            await channel.set_qos(10)
            queue = await channel.declare_queue(
                queue_name, durable=False, auto_delete=False
            )
            async with queue.iterator() as queue_iter:
                consuming.set()
                async for message in queue_iter:
                    received.append(message.body)
                    await message.ack()
                    if len(received) == total:
                        break
            await queue.delete(if_unused=False, if_empty=False)

    async def publish(i: int) -> None:
        async with channel_pool.acquire() as channel:
            await channel.default_exchange.publish(
                amqpio.Message(f"Channel: {channel!r} {i}".encode()),
                queue_name,
            )

    async with connection_pool, channel_pool:
        task = loop.create_task(consume())
        await asyncio.wait_for(consuming.wait(), TIMEOUT)
        await asyncio.gather(*(publish(i) for i in range(total)))
        await asyncio.wait_for(task, TIMEOUT)

    assert len(received) == total
    assert len({body.rsplit(b" ", 1)[1] for body in received}) == total
    # items were reused: at most max_size of each were ever made
    assert 1 <= len(connections) <= 2
    assert 2 <= len(channels) <= 10
    assert all(isinstance(c, PoolInstance) for c in (*connections, *channels))
    # leaving ``async with`` closed both pools and everything they made
    assert connection_pool.is_closed and channel_pool.is_closed
    assert all(channel.is_closed for channel in channels)
    assert all(connection.is_closed for connection in connections)


async def test_channel_is_reused_and_closed_with_the_pool(rabbitmq: Broker) -> None:
    connection = await amqpio.connect(rabbitmq.url)
    try:
        pool: Pool[AbstractChannel] = Pool(connection.channel, max_size=1)
        async with pool.acquire() as first:
            pass
        async with pool.acquire() as second:
            assert second is first
            assert not second.is_closed
        await pool.close()
        assert first.is_closed
        with pytest.raises(PoolInvalidStateError):
            pool.acquire()
    finally:
        await connection.close()


async def test_waiters_share_one_connection(rabbitmq: Broker) -> None:
    made: list[Any] = []

    async def get_connection() -> AbstractConnection:
        connection = await amqpio.connect(rabbitmq.url)
        made.append(connection)
        return connection

    pool: Pool[AbstractConnection] = Pool(get_connection, max_size=1)

    async def declare(i: int) -> str:
        async with pool.acquire() as connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(exclusive=True)
            await channel.close()
            return queue.name

    async with pool:
        names = await asyncio.gather(*(declare(i) for i in range(20)))
    assert len(set(names)) == 20
    assert len(made) == 1
    assert made[0].is_closed
