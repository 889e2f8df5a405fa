"""A consumer the broker cancels (its queue deleted) is surfaced, never a hang."""

from __future__ import annotations

import asyncio

import pytest

import amqpio
from amqpio.testing.rabbitmq import Broker

from .api_support import unique, within

pytestmark = pytest.mark.integration


async def test_iterator_ends_when_the_broker_cancels_its_consumer(
    rabbitmq: Broker,
) -> None:
    async with await amqpio.connect(rabbitmq.url) as connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(unique("cancelled"))
        await channel.default_exchange.publish(amqpio.Message(b"first"), queue.name)
        cancelled: list[str] = []
        channel.cancel_callbacks.add(lambda _channel, tag: cancelled.append(tag))
        received: list[bytes] = []

        async def consume() -> None:
            async with queue.iterator(no_ack=True) as messages:
                async for message in messages:
                    received.append(message.body)

        consumer = asyncio.ensure_future(consume())
        while not received:
            await asyncio.sleep(0.01)
        other = await connection.channel()
        await other.queue_delete(queue.name)
        # the loop ends by itself: no timeout, no cancellation needed
        await within(consumer)
        assert received == [b"first"]
        assert len(cancelled) == 1
        assert not channel.is_closed
