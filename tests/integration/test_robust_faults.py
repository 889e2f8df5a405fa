"""Connection cuts under load: confirms, manual acks, and many reconnects.

Each test prints its figures (run with ``-s`` to see them): how many
messages were published, confirmed, failed with an unknown outcome, consumed,
redelivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import tracemalloc
from collections import Counter
from typing import Any

import pytest

import amqpio
from amqpio import exceptions as exc
from amqpio.abc import AbstractIncomingMessage
from amqpio.robust_connection import RobustConnection
from amqpio.testing.rabbitmq import Broker

from .fault_proxy import FaultProxy
from .robust_support import FAST, WAIT, Recoveries, eventually, unique

pytestmark = pytest.mark.integration


async def connect(url: str, **kwargs: Any) -> RobustConnection:
    options: dict[str, Any] = {**FAST, **kwargs}
    return await amqpio.connect_robust(url, **options)


async def drain_queue(broker: Broker, name: str) -> Counter[str]:
    """message_id -> how many copies the queue holds (read with a plain client)."""
    counts: Counter[str] = Counter()
    connection = await amqpio.connect(broker.url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, durable=True)
        while True:
            message = await queue.get(no_ack=True, fail=False, timeout=WAIT)
            if message is None:
                break
            assert message.message_id is not None
            counts[message.message_id] += 1
        await queue.delete(if_unused=False, if_empty=False)
    finally:
        await connection.close()
    return counts


async def test_publish_burst_with_confirms_cut(
    rabbitmq: Broker, proxy: FaultProxy
) -> None:
    total = 3000
    connection = await connect(proxy.url(rabbitmq.url))
    recoveries = Recoveries(connection)
    name = unique("burst")
    try:
        channel = await connection.channel()  # publisher confirms on
        await channel.declare_queue(name, durable=True)
        confirmed: list[str] = []
        unknown: list[str] = []
        other: list[BaseException] = []

        async def publish(i: int) -> None:
            message_id = f"m{i}"
            try:
                await channel.default_exchange.publish(
                    amqpio.Message(b"x" * 256, message_id=message_id),
                    name,
                    timeout=WAIT,
                )
            except exc.PublishOutcomeUnknownError as error:
                assert isinstance(error, exc.AMQPConnectionError)
                assert isinstance(error, exc.ChannelInvalidStateError)
                assert error.routing_key == name
                unknown.append(message_id)
            except BaseException as error:  # counted, asserted below
                other.append(error)
            else:
                confirmed.append(message_id)

        tasks = []
        for i in range(total):
            tasks.append(asyncio.ensure_future(publish(i)))
            if i == total // 3:
                # cut while a third of the burst waits for confirms
                await eventually(lambda: len(confirmed) >= 200, interval=0.001)
                proxy.cut()
            if i % 100 == 0:
                await asyncio.sleep(0)
        _, pending = await asyncio.wait(tasks, timeout=2 * WAIT)
        await recoveries.wait(1)
    finally:
        await connection.close()

    assert not pending, f"{len(pending)} publishes still pending"
    assert other == [], other[:3]
    assert len(confirmed) + len(unknown) == total
    assert unknown, "the cut should have caught some confirms in flight"
    stored = await drain_queue(rabbitmq, name)
    missing = [m for m in confirmed if m not in stored]
    assert missing == [], f"{len(missing)} confirmed messages are not in the queue"
    unknown_stored = sum(1 for m in unknown if m in stored)
    print(
        f"\nburst: published={total} confirmed={len(confirmed)} "
        f"unknown-outcome={len(unknown)} (of which in the queue: {unknown_stored}) "
        f"nacked=0 pending=0 stored={sum(stored.values())} "
        f"duplicates={sum(c - 1 for c in stored.values())}"
    )


async def test_consumption_with_manual_acks_cut(
    rabbitmq: Broker, proxy: FaultProxy
) -> None:
    total = 2000
    name = unique("consume")
    publisher = await amqpio.connect(rabbitmq.url)
    try:
        channel = await publisher.channel()
        await channel.declare_queue(name, durable=True)
        await asyncio.gather(
            *(
                channel.default_exchange.publish(
                    amqpio.Message(b"y", message_id=f"m{i}"), name
                )
                for i in range(total)
            )
        )
    finally:
        await publisher.close()

    connection = await connect(proxy.url(rabbitmq.url))
    recoveries = Recoveries(connection)
    acked: set[str] = set()
    deliveries: Counter[str] = Counter()
    redelivered_flags: list[bool] = []
    stale_acks = 0
    all_acked = asyncio.Event()

    async def on_message(message: AbstractIncomingMessage) -> None:
        nonlocal stale_acks
        assert message.message_id is not None
        if deliveries[message.message_id]:
            # seen before: the broker must say so
            redelivered_flags.append(bool(message.redelivered))
        deliveries[message.message_id] += 1
        await asyncio.sleep(0.02)  # some work before the ack
        try:
            await message.ack()
        except exc.ChannelInvalidStateError:
            stale_acks += 1  # delivered before the cut: the broker requeued it
            return
        acked.add(message.message_id)
        if len(acked) == total:
            all_acked.set()

    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=50)
        queue = await channel.declare_queue(name, durable=True)
        await queue.consume(on_message)
        await eventually(lambda: len(acked) >= total // 3, interval=0.001)
        proxy.cut()
        await recoveries.wait(1)
        await asyncio.wait_for(all_acked.wait(), 2 * WAIT)
    finally:
        await connection.close()

    leftover = await drain_queue(rabbitmq, name)
    assert acked == {f"m{i}" for i in range(total)}  # nothing lost
    assert not leftover
    duplicates = sum(count - 1 for count in deliveries.values())
    assert duplicates == len(redelivered_flags)
    assert all(redelivered_flags)  # every repeat was flagged redelivered
    print(
        f"\nconsume: published={total} consumed-and-acked={len(acked)} "
        f"deliveries={sum(deliveries.values())} redelivered={duplicates} "
        f"(all flagged) stale-acks-refused={stale_acks} lost=0"
    )


async def test_fifty_reconnects_do_not_leak(
    rabbitmq: Broker, proxy: FaultProxy
) -> None:
    connection = await connect(
        proxy.url(rabbitmq.url), reconnect_interval=0, reconnect_max_interval=0.05
    )
    recoveries = Recoveries(connection)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(auto_delete=True)
        received: list[bytes] = []

        async def on_message(message: AbstractIncomingMessage) -> None:
            received.append(message.body)

        await queue.consume(on_message, no_ack=True)

        async def cycle(n: int) -> None:
            for _ in range(n):
                target = recoveries.reconnected + 1
                await eventually(lambda: proxy.cut() == 1, interval=0.01)
                await recoveries.wait(target)
                await channel.default_exchange.publish(amqpio.Message(b"p"), queue.name)

        def snapshot() -> tuple[int, int, int, int]:
            gc.collect()
            callbacks = (
                len(connection.close_callbacks)
                + len(connection.reconnect_callbacks)
                + len(channel.close_callbacks)
                + len(channel.reopen_callbacks)
                + len(channel.cancel_callbacks)
            )
            current, _ = tracemalloc.get_traced_memory()
            return (
                len(asyncio.all_tasks()),
                callbacks,
                len(channel._consumers) + len(channel._topology),
                current,
            )

        # log records kept by pytest's capture would count as growth
        logger = logging.getLogger("amqpio")
        level = logger.level
        logger.setLevel(logging.ERROR)
        tracemalloc.start()
        try:
            # warm up with tracing on: until the objects that live across a
            # reconnect were all allocated under tracing, replacing them
            # looks like growth
            await cycle(30)
            before = snapshot()
            await cycle(50)
            await eventually(lambda: len(received) >= 80)
            after = snapshot()
        finally:
            tracemalloc.stop()
            logger.setLevel(level)
    finally:
        await connection.close()

    assert recoveries.reconnected == 80
    assert after[0] <= before[0], f"tasks grew: {before[0]} -> {after[0]}"
    assert after[1] == before[1], f"callbacks grew: {before[1]} -> {after[1]}"
    assert after[2] == before[2]
    growth = after[3] - before[3]
    print(
        f"\n50 reconnects: tasks {before[0]}->{after[0]}, callbacks {before[1]}"
        f"->{after[1]}, traced memory growth {growth} bytes"
    )
    assert growth < 16_000, f"memory grew by {growth} bytes over 50 reconnects"


async def test_unknown_outcome_never_reported_as_nack(
    rabbitmq: Broker, proxy: FaultProxy
) -> None:
    # publishes stuck behind a stalled socket when the heartbeat gives up
    connection = await connect(proxy.url(rabbitmq.url), heartbeat=1)
    name = unique("stalled")
    try:
        channel = await connection.channel()
        await channel.declare_queue(name, auto_delete=True)
        proxy.stall()
        results = await asyncio.gather(
            *(
                channel.default_exchange.publish(amqpio.Message(b"s"), name)
                for _ in range(20)
            ),
            return_exceptions=True,
        )
        assert all(isinstance(r, exc.PublishOutcomeUnknownError) for r in results)
        assert not any(isinstance(r, exc.DeliveryError) for r in results)
    finally:
        with contextlib.suppress(Exception):
            await connection.close()
