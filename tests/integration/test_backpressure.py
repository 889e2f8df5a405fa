"""Bounded memory against a real broker: a burst of large messages without
confirms, a broker that blocks publishers, a confirm that comes too late.

Memory is the process's resident set (Linux ``/proc``): its peak is reset
before the burst and compared with the resident set at that moment.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import amqpio
from amqpio import exceptions as exc
from amqpio.testing.rabbitmq import Broker

from .api_support import message_count, unique, within

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc"
)

MIB = 1 << 20


def _status_mib(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {key} in /proc/self/status")


class Peak:
    """Peak resident memory growth from now on, in MiB."""

    def __init__(self) -> None:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to VmRSS
        self.base = _status_mib("VmRSS")

    def growth(self) -> float:
        return _status_mib("VmHWM") - self.base


class LagProbe:
    """The longest a coroutine scheduled every 10 ms waited beyond its time."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, time.perf_counter() - start - 0.01)

    async def stop(self) -> float:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        return self.worst


async def test_a_burst_of_large_messages_without_confirms_stays_bounded(
    rabbitmq: Broker,
) -> None:
    body = os.urandom(MIB)
    count = 256  # 256 MiB
    async with await amqpio.connect(rabbitmq.url) as connection:
        channel = await connection.channel(publisher_confirms=False)
        name = unique("burst")
        # the broker keeps the last few only: its memory is not under test
        queue = await channel.declare_queue(
            name, auto_delete=True, arguments={"x-max-length": 4}
        )
        peak = Peak()
        probe = LagProbe()
        for _ in range(count):
            await channel.default_exchange.publish(amqpio.Message(body), name)
        await queue.declare()  # a round trip: everything was written
        worst = await probe.stop()
        growth = peak.growth()
    assert growth < 64, f"{growth:.0f} MiB more resident memory"
    assert worst < 0.1, f"the event loop stalled {worst * 1000:.0f} ms"


async def test_publishes_wait_while_the_broker_blocks_and_nothing_is_lost(
    rabbitmq_ctl: Broker,
) -> None:
    body = os.urandom(256 << 10)
    count = 240  # 60 MiB
    name = unique("blocked")
    async with await amqpio.connect(rabbitmq_ctl.url) as consumer_connection:
        consumer_channel = await consumer_connection.channel()
        queue = await consumer_channel.declare_queue(name, auto_delete=True)
        received = 0
        all_in = asyncio.get_running_loop().create_future()

        async def count_it(message: amqpio.abc.AbstractIncomingMessage) -> None:
            nonlocal received
            assert message.body == body
            received += 1
            if received == count:
                all_in.set_result(None)

        await queue.consume(count_it, no_ack=True)
        async with await amqpio.connect(rabbitmq_ctl.url) as connection:
            channel = await connection.channel(publisher_confirms=False)
            blocked = asyncio.Event()
            connection.blocked_callbacks.add(lambda *_: blocked.set())
            published = 0

            async def publish_all() -> None:
                nonlocal published
                while published < count:
                    await channel.default_exchange.publish(amqpio.Message(body), name)
                    published += 1
                    if published == 20:
                        await asyncio.to_thread(rabbitmq_ctl.set_memory_watermark, 0)
                    if published >= 20 and not blocked.is_set():
                        # until the broker says it blocks us, publish slowly:
                        # the alarm takes a moment to reach the connection
                        assert published < count - 40, "the broker never blocked"
                        await asyncio.sleep(0.02)

            try:
                publisher = asyncio.ensure_future(publish_all())
                await within(blocked.wait(), 30)
                await asyncio.sleep(0.5)  # let the publisher run into the block
                peak = Peak()
                probe = LagProbe()
                stalled_at = published
                await asyncio.sleep(10)
                # the publisher waits: not done, no more publishes, memory flat
                assert not publisher.done()
                assert published == stalled_at < count
                assert peak.growth() < 16, f"{peak.growth():.0f} MiB during the block"
                assert await probe.stop() < 0.1
            finally:
                await asyncio.to_thread(rabbitmq_ctl.set_memory_watermark, 0.4)
            await within(publisher, 60)
            assert published == count
            await within(all_in, 60)
    assert received == count


async def test_a_confirm_timeout_while_blocked_is_an_unknown_outcome(
    rabbitmq_ctl: Broker,
) -> None:
    async with await amqpio.connect(rabbitmq_ctl.url) as connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True)
        late: list[tuple[Any, exc.PublishConfirmTimeoutError, bool]] = []
        late_in = asyncio.Event()

        def on_late(
            ch: Any, error: exc.PublishConfirmTimeoutError, acked: bool
        ) -> None:
            late.append((ch, error, acked))
            late_in.set()

        channel.late_confirm_callbacks.add(on_late)
        blocked = asyncio.Event()
        connection.blocked_callbacks.add(lambda *_: blocked.set())
        try:
            await asyncio.to_thread(rabbitmq_ctl.set_memory_watermark, 0)
            # written before the client learns of the block: unknown outcome
            with pytest.raises(exc.PublishConfirmTimeoutError) as info:
                await channel.default_exchange.publish(
                    amqpio.Message(b"first"), queue.name, timeout=2
                )
            error = info.value
            assert isinstance(error, asyncio.TimeoutError)  # aio-pika code
            assert isinstance(error, exc.PublishOutcomeUnknownError)
            assert error.delivery_tag == 1
            assert error.message.body == b"first"
            assert error.routing_key == queue.name
            await within(blocked.wait(), 30)
            assert connection.is_blocked
            # published once the block is known: it waits, is never written,
            # and its timeout says so with a plain TimeoutError
            with pytest.raises(asyncio.TimeoutError, match="nothing was sent") as info2:
                await channel.default_exchange.publish(
                    amqpio.Message(b"second"), queue.name, timeout=0.5
                )
            assert not isinstance(info2.value, exc.PublishOutcomeUnknownError)
        finally:
            await asyncio.to_thread(rabbitmq_ctl.set_memory_watermark, 0.4)
        await within(late_in.wait(), 30)
        assert late == [(channel, error, True)]
        assert await message_count(channel, queue.name) == 1
        message = await queue.get(timeout=5)
        assert message is not None and message.body == b"first"
        await message.ack()


@pytest.mark.skipif(sys.platform != "linux", reason="needs Linux /proc")
async def test_acks_of_a_large_backlog_stay_bounded(rabbitmq: Broker) -> None:
    """A consumer acking many messages at once (prefetch 2000) with an
    application that never awaits anything but the acks."""
    async with await amqpio.connect(rabbitmq.url) as connection:
        channel = await connection.channel(publisher_confirms=False)
        queue = await channel.declare_queue(exclusive=True)
        for _ in range(5000):
            await channel.default_exchange.publish(amqpio.Message(b"a"), queue.name)
        await channel.set_qos(prefetch_count=2000)
        done = asyncio.Event()
        acked = 0

        async def ack(message: amqpio.abc.AbstractIncomingMessage) -> None:
            nonlocal acked
            await message.ack()
            acked += 1
            if acked == 5000:
                done.set()

        await queue.consume(ack)
        await within(done.wait(), 30)
        assert connection.transport is not None
        assert await message_count(channel, queue.name) == 0


async def test_concurrent_large_publishes_stay_bounded(rabbitmq: Broker) -> None:
    """100 tasks publishing 1 MiB each at once: the bytes in flight stay near the
    transport's high-water mark, not 100 MiB."""
    body = os.urandom(MIB)
    async with await amqpio.connect(rabbitmq.url) as connection:
        channel = await connection.channel(publisher_confirms=False)
        name = unique("concurrent")
        queue = await channel.declare_queue(
            name, auto_delete=True, arguments={"x-max-length": 4}
        )
        peak = Peak()
        await asyncio.gather(
            *(
                channel.default_exchange.publish(amqpio.Message(body), name)
                for _ in range(100)
            )
        )
        await queue.declare()
        growth = peak.growth()
    assert growth < 64, f"{growth:.0f} MiB more resident memory"
