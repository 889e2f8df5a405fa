"""aio-pika 6 API kept for drop-in code: add_close_callback and friends."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import amqpio
from amqpio.testing.rabbitmq import Broker

from .api_support import unique, within

pytestmark = pytest.mark.integration


async def test_connection_add_close_callback(rabbitmq: Broker) -> None:
    connection = await amqpio.connect(rabbitmq.url)
    calls: list[tuple[Any, ...]] = []
    connection.add_close_callback(lambda *args: calls.append(args))
    removed: list[object] = []

    def never(*args: object) -> None:
        removed.append(args)

    connection.add_close_callback(never)
    connection.remove_close_callback(never)
    await connection.close()
    assert len(calls) == 1
    assert calls[0][0] is connection
    assert removed == []


async def test_channel_close_and_return_callbacks(rabbitmq: Broker) -> None:
    async with await amqpio.connect(rabbitmq.url) as connection:
        channel = await connection.channel()
        returned: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        closed: list[tuple[Any, ...]] = []
        channel.add_on_return_callback(
            lambda _channel, message: returned.set_result(message)
        )
        channel.add_close_callback(lambda *args: closed.append(args))
        routing_key = unique("nowhere")
        await channel.default_exchange.publish(
            amqpio.Message(b"lost"), routing_key, mandatory=True
        )
        message = await within(returned)
        assert message.body == b"lost"
        assert message.routing_key == routing_key
        await channel.close()
        assert len(closed) == 1 and closed[0][0] is channel
