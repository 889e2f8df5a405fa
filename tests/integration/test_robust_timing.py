"""When a robust connection reconnects: spacing of the attempts, observed on the wire.

aio-pika waits ``reconnect_interval`` before reconnecting a connection that
worked; amqpio does the same, and backs off (doubling, jittered, capped) only
over consecutive failed attempts. The spacing is read from the times the fault
proxy in front of the broker accepted each connection. A channel whose restore
fails (the connection up) is retried with the same backoff from
``RobustChannel.RESTORE_RETRY_DELAY``: read from the Channel.Open frames the
proxy forwarded to the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import itertools
from types import ModuleType
from typing import Any

import pytest

import amqpio
from amqpio import exceptions as exc
from amqpio.robust_channel import RobustChannel
from amqpio.testing.rabbitmq import Broker
from helpers.reference import needs_aio_pika_10

from .fault_proxy import FaultProxy
from .robust_support import Recoveries, eventually, unique, within

pytestmark = pytest.mark.integration


def libraries() -> list[Any]:
    # aio-pika 9.6 (Python 3.10) leaks the transports of the cut connections
    aio_pika = pytest.param("aio_pika", id="aio_pika", marks=needs_aio_pika_10)
    return [pytest.param("amqpio", id="amqpio"), aio_pika]


async def gaps_after(proxy: FaultProxy, count: int) -> list[float]:
    """Wait for ``count`` more accepted connections; the gaps before each."""
    start = len(proxy.accept_times)
    await eventually(lambda: len(proxy.accept_times) >= start + count, timeout=30)
    times = proxy.accept_times[start - 1 : start + count]
    return [later - earlier for earlier, later in itertools.pairwise(times)]


async def test_a_lost_connection_is_retried_after_reconnect_interval(
    rabbitmq: Broker, proxy: FaultProxy
) -> None:
    interval = 0.5
    connection = await amqpio.connect_robust(
        proxy.url(rabbitmq.url),
        reconnect_interval=interval,
        reconnect_max_interval=4 * interval,
    )
    recoveries = Recoveries(connection)
    loop = asyncio.get_running_loop()
    try:
        # connections that worked, cut at once each time: every reconnect
        # waits reconnect_interval, the delay does not grow
        for round_ in range(3):
            cut_at = loop.time()
            proxy.cut()
            await recoveries.wait(round_ + 1)
            waited = proxy.accept_times[-1] - cut_at
            assert interval * 0.95 <= waited < interval * 1.5 + 0.5, waited

        # consecutive failures back off: about 0.5, 0.5-1, 1-2 s, then 1-2 (cap)
        proxy.refuse = True
        proxy.cut()
        failed = await gaps_after(proxy, 4)
        assert interval * 0.95 <= failed[0] < interval * 1.5 + 0.5, failed
        assert interval * 0.95 <= failed[1] < 2 * interval + 0.5, failed
        assert 2 * interval * 0.95 <= failed[2] < 4 * interval + 0.5, failed
        assert 2 * interval * 0.95 <= failed[3] < 4 * interval + 0.5, failed

        # a connection that works again resets the growth
        proxy.refuse = False
        await recoveries.wait(4)
        cut_at = loop.time()
        proxy.cut()
        await recoveries.wait(5)
        waited = proxy.accept_times[-1] - cut_at
        assert interval * 0.95 <= waited < interval * 1.5 + 0.5, waited
    finally:
        await connection.close()


async def test_reconnect_on_demand_does_not_wait(
    rabbitmq: Broker, proxy: FaultProxy
) -> None:
    connection = await amqpio.connect_robust(
        proxy.url(rabbitmq.url), reconnect_interval=5
    )
    loop = asyncio.get_running_loop()
    try:
        started = loop.time()
        await within(connection.reconnect(), 4)
        assert loop.time() - started < 4
        assert len(proxy.accept_times) == 2
    finally:
        await connection.close()


CHANNEL_OPEN = (20, 10)


async def test_a_failing_channel_restore_is_retried_with_backoff(
    rabbitmq: Broker, proxy: FaultProxy
) -> None:
    name = unique("restore-backoff")
    cap = 1.0
    proxy.tap = True
    connection = await amqpio.connect_robust(
        proxy.url(rabbitmq.url), reconnect_max_interval=cap
    )

    def opens() -> list[float]:
        return [
            t for t, _, *method in proxy.methods_up if tuple(method) == CHANNEL_OPEN
        ]

    try:
        channel = await connection.channel()
        await channel.declare_queue(name, arguments={"x-max-length": 10})
        async with await amqpio.connect(rabbitmq.url) as other:
            other_channel = await other.channel()
            # the recorded declare now conflicts (406): every restore fails
            await other_channel.queue_delete(name)
            await other_channel.declare_queue(name, arguments={"x-max-length": 20})
            before = len(opens())
            with pytest.raises(exc.ChannelNotFoundEntity):
                await channel.declare_queue(unique("missing"), passive=True)
            # the first reopen at once, then four retries after failures
            await eventually(lambda: len(opens()) >= before + 5, timeout=15)
            times = opens()[before : before + 5]
            gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
            base = RobustChannel.RESTORE_RETRY_DELAY
            for retry, gap in enumerate(gaps, 1):
                ceiling = min(cap, base * 2 ** (retry - 1))
                # jitter: between half and all of the ceiling, plus one failed
                # attempt (open + declare round trips)
                assert ceiling / 2 * 0.95 <= gap < ceiling + 0.5, (retry, gaps)
            assert gaps[3] > gaps[0], gaps  # it grows: 0.5-1 s against 0.125-0.25
            # the conflict gone, the next retry restores the channel
            await other_channel.queue_delete(name)
        await eventually(lambda: not channel.is_closed, timeout=10)
        # deleted above: the replay declared it again, with its own arguments
        await within(channel.declare_queue(name, passive=True), 10)
        async with await amqpio.connect(rabbitmq.url) as other:
            other_channel = await other.channel()
            await other_channel.declare_queue(name, arguments={"x-max-length": 10})
    finally:
        with contextlib.suppress(Exception):
            await within(channel.queue_delete(name), 10)
        await connection.close()


@pytest.mark.parametrize("library", libraries())
async def test_iterator_collects_while_the_connection_is_cut_every_5_kb(
    rabbitmq: Broker, proxy: FaultProxy, library: str
) -> None:
    """The issue's scenario, on both libraries: 50 messages within 15 s."""
    lib: ModuleType = importlib.import_module(library)
    name = unique("cut-every-5kb")
    publisher = await amqpio.connect(rabbitmq.url)
    try:
        channel = await publisher.channel()
        await channel.declare_queue(name)
        for index in range(50):
            await channel.default_exchange.publish(
                amqpio.Message(b"%03d" % index + b"." * 400), routing_key=name
            )
        proxy.cut_after = 5 * 1024
        seen: set[bytes] = set()

        async def collect() -> None:
            connection = await lib.connect_robust(
                proxy.url(rabbitmq.url), reconnect_interval=1
            )
            try:
                robust_channel = await connection.channel()
                # one message in flight: traffic trickles, acks get through
                await robust_channel.set_qos(prefetch_count=1)
                robust_queue = await robust_channel.declare_queue(name)
                async with robust_queue.iterator() as messages:
                    async for message in messages:
                        try:
                            await message.ack()
                        except Exception:  # delivered on a channel now gone
                            continue
                        seen.add(message.body[:3])
                        if len(seen) == 50:
                            return
            finally:
                await connection.close()

        await asyncio.wait_for(collect(), 15)
        assert len(seen) == 50
        assert proxy.handshake_cuts >= 2  # cut (at 5 KB) more than once
    finally:
        await channel.queue_delete(name)
        await publisher.close()
