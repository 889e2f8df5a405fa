"""connect_robust against a real broker, with faults injected by a TCP proxy.

Each test goes through a :class:`FaultProxy` on a spare loopback port (or
restarts the broker node) and checks what the application sees: which calls
wait, which fail and how, and that the topology (exchanges, queues, bindings,
consumers with their tags, QoS) is back, using the broker's own view
(``rabbitmqctl``) where it matters.

The cut-during-an-RPC scenario of issue 5 is covered by
``test_patterns_robust.py`` (the RPC pattern over connect_robust).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import Any

import pytest

import amqpio
from amqpio import exceptions as exc
from amqpio.abc import AbstractIncomingMessage
from amqpio.robust_connection import RobustConnection
from amqpio.testing.rabbitmq import Broker

from .fault_proxy import FaultProxy
from .robust_support import (
    FAST,
    WAIT,
    LogCapture,
    Recoveries,
    consumers,
    eventually,
    unique,
    within,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def amqpio_log() -> Any:
    capture = LogCapture()
    logger = logging.getLogger("amqpio")
    old_level = logger.level
    logger.addHandler(capture)
    logger.setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        logger.removeHandler(capture)
        logger.setLevel(old_level)


class Inbox:
    """A consumer callback that acks and collects bodies."""

    def __init__(self) -> None:
        self.bodies: asyncio.Queue[bytes] = asyncio.Queue()
        self.messages: list[AbstractIncomingMessage] = []

    async def __call__(self, message: AbstractIncomingMessage) -> None:
        self.messages.append(message)
        await message.ack()
        await self.bodies.put(message.body)

    async def get(self) -> bytes:
        return await within(self.bodies.get())


async def connect(url: str, **kwargs: Any) -> RobustConnection:
    options: dict[str, Any] = {**FAST, **kwargs}
    return await amqpio.connect_robust(url, **options)


async def test_topology_and_consumers_restored_after_a_cut(
    rabbitmq: Broker, proxy: FaultProxy
) -> None:
    connection = await connect(proxy.url(rabbitmq.url))
    recoveries = Recoveries(connection)
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=7)
        source = await channel.declare_exchange(
            unique("src"), amqpio.ExchangeType.FANOUT, auto_delete=True
        )
        target = await channel.declare_exchange(
            unique("dst"), amqpio.ExchangeType.TOPIC, auto_delete=True
        )
        await target.bind(source)  # exchange-to-exchange
        anonymous = await channel.declare_queue(auto_delete=True)
        exclusive = await channel.declare_queue(unique("excl"), exclusive=True)
        assert anonymous.name.startswith("amq_")  # client-made, aio-pika's form
        await anonymous.bind(target, "a.#")
        await exclusive.bind(target, "#")
        inbox_a, inbox_e = Inbox(), Inbox()
        tag_a = await anonymous.consume(inbox_a, arguments={"x-priority": 3})
        tag_e = await exclusive.consume(inbox_e, consumer_tag="my-tag")
        await source.publish(amqpio.Message(b"before"), "a.b")
        assert await inbox_a.get() == b"before"
        assert await inbox_e.get() == b"before"

        lost = asyncio.get_running_loop().create_future()
        channel.close_callbacks.add(
            lambda _, reason=None: lost.done() or lost.set_result(reason)
        )
        reopened = asyncio.Event()
        channel.reopen_callbacks.add(lambda _: reopened.set())

        assert proxy.cut() == 1
        assert isinstance(await within(lost), exc.AMQPConnectionError)
        await recoveries.wait(1)
        await within(reopened.wait())
        assert not connection.reconnecting
        assert not channel.is_closed
        assert recoveries.lost == 1
        assert isinstance(recoveries.reasons[0], exc.AMQPConnectionError)

        # the broker sees one consumer per queue again, with the same tags
        assert await consumers(rabbitmq, anonymous.name) == 1
        assert await consumers(rabbitmq, exclusive.name) == 1
        assert set(channel._consumers) == {tag_a, tag_e}
        prefetch = await asyncio.to_thread(
            rabbitmq.rabbitmqctl,
            "list_channels",
            "prefetch_count",
            "--quiet",
            "--no-table-headers",
        )
        assert "7" in prefetch.split()

        # the whole path works: fanout -> exchange binding -> topic -> queues
        await source.publish(amqpio.Message(b"after"), "a.c")
        assert await inbox_a.get() == b"after"
        assert await inbox_e.get() == b"after"
        await source.publish(amqpio.Message(b"only-exclusive"), "z")
        assert await inbox_e.get() == b"only-exclusive"
        assert inbox_a.bodies.empty()
    finally:
        await connection.close()
    assert connection.is_closed
    assert channel.is_closed


async def test_exclusive_queue_redeclare_retried_while_the_broker_reaps(
    rabbitmq: Broker, proxy: FaultProxy, amqpio_log: LogCapture
) -> None:
    # the broker keeps the old connection (and its exclusive queue) until its
    # heartbeat timeout: the redeclare gets 405 RESOURCE_LOCKED until then
    connection = await connect(proxy.url(rabbitmq.url), heartbeat=1)
    recoveries = Recoveries(connection)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True)  # client-named
        inbox = Inbox()
        await queue.consume(inbox)
        assert proxy.cut_clients() == 1
        await recoveries.wait(1)
        await eventually(lambda: not channel.is_closed and channel._usable())
        assert any(
            "RESOURCE_LOCKED" in m or "ChannelLocked" in m for m in amqpio_log.messages
        )
        assert await consumers(rabbitmq, queue.name) == 1
        await channel.default_exchange.publish(amqpio.Message(b"x"), queue.name)
        assert await inbox.get() == b"x"
    finally:
        await connection.close()


async def test_channel_closed_by_a_channel_exception_is_restored(
    rabbitmq: Broker, proxy: FaultProxy
) -> None:
    connection = await connect(proxy.url(rabbitmq.url))
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(auto_delete=True)
        inbox = Inbox()
        await queue.consume(inbox)
        reopened = asyncio.Event()
        channel.reopen_callbacks.add(lambda _: reopened.set())
        with pytest.raises(exc.ChannelNotFoundEntity):
            await channel.declare_queue(unique("missing"), passive=True)
        await within(reopened.wait())
        assert not channel.is_closed
        assert await consumers(rabbitmq, queue.name) == 1
        await channel.default_exchange.publish(amqpio.Message(b"y"), queue.name)
        assert await inbox.get() == b"y"
        # the same channel object keeps working for new declarations
        other = await channel.declare_queue(auto_delete=True)
        assert other.name.startswith("amq_")
    finally:
        await connection.close()


async def test_server_cancel_is_surfaced_and_the_consumer_comes_back(
    rabbitmq: Broker,
) -> None:
    connection = await connect(rabbitmq.url)
    admin = await amqpio.connect(rabbitmq.url)
    try:
        channel = await connection.channel()
        admin_channel = await admin.channel()
        owned = await channel.declare_queue(unique("owned"))
        external_name = unique("external")
        await admin_channel.declare_queue(external_name)
        external = await channel.get_queue(external_name)  # passive: not ours
        inbox_owned, inbox_external = Inbox(), Inbox()
        tag_owned = await owned.consume(inbox_owned)
        tag_external = await external.consume(inbox_external)
        cancelled: list[str] = []
        channel.cancel_callbacks.add(lambda _, tag: cancelled.append(tag))

        # deleted by someone else: the broker cancels both consumers
        await admin_channel.queue_delete(owned.name)
        await admin_channel.queue_delete(external_name)
        await eventually(lambda: set(cancelled) == {tag_owned, tag_external})

        # ours is declared again by the client and consumed with the same tag
        await eventually(lambda: tag_owned in channel._consumers)
        assert await eventually(lambda: consumers(rabbitmq, owned.name)) == 1
        await channel.default_exchange.publish(amqpio.Message(b"o"), owned.name)
        assert await inbox_owned.get() == b"o"

        # the passively declared one waits until the queue exists again
        await asyncio.sleep(0.5)
        assert tag_external not in channel._consumers
        await admin_channel.declare_queue(external_name)
        await eventually(lambda: tag_external in channel._consumers)
        await admin_channel.default_exchange.publish(
            amqpio.Message(b"e"), external_name
        )
        assert await inbox_external.get() == b"e"
        assert not channel.is_closed
    finally:
        with contextlib.suppress(Exception):
            await channel.queue_delete(owned.name)
            await channel.queue_delete(external_name)
        await admin.close()
        await connection.close()


async def test_calls_wait_for_recovery_then_fail_clearly(
    rabbitmq: Broker, proxy: FaultProxy
) -> None:
    connection = await connect(proxy.url(rabbitmq.url), recovery_timeout=1)
    recoveries = Recoveries(connection)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(auto_delete=True)
        inbox = Inbox()
        await queue.consume(inbox)
        proxy.refuse = True  # the broker is unreachable for now
        proxy.cut()
        await recoveries.wait_lost(1)
        assert connection.reconnecting
        assert not connection.is_closed
        assert channel.is_closed

        loop = asyncio.get_running_loop()

        async def waited(call: Awaitable[Any], error: type[BaseException]) -> float:
            """Seconds ``call`` waited before it raised ``error``."""
            started = loop.time()
            with pytest.raises(error):
                await call
            return loop.time() - started

        # bounded waits: each waits its own limit, not less and not much more
        limit = 0.3
        elapsed = await waited(
            channel.declare_queue(auto_delete=True, timeout=limit),
            exc.RecoveryTimeoutError,
        )
        assert limit * 0.9 <= elapsed < limit + 2, elapsed
        elapsed = await waited(
            channel.default_exchange.publish(
                amqpio.Message(b"late"), queue.name, timeout=limit
            ),
            asyncio.TimeoutError,  # RecoveryTimeoutError is also one
        )
        assert limit * 0.9 <= elapsed < limit + 2, elapsed
        # no timeout: the connection's recovery_timeout (1 s)
        elapsed = await waited(
            channel.declare_queue(auto_delete=True), exc.RecoveryTimeoutError
        )
        assert 0.9 <= elapsed < 3, elapsed
        # opening a channel during the outage waits the same way
        elapsed = await waited(connection.channel(), exc.RecoveryTimeoutError)
        assert 0.9 <= elapsed < 3, elapsed

        # a call made during the outage goes through once the broker is back
        waiting = asyncio.ensure_future(
            channel.default_exchange.publish(
                amqpio.Message(b"during"), queue.name, timeout=WAIT
            )
        )
        await asyncio.sleep(0.2)
        assert not waiting.done()
        proxy.refuse = False
        await recoveries.wait(1)
        assert await within(waiting)
        assert await inbox.get() == b"during"
    finally:
        await connection.close()


async def test_cut_during_the_handshake(rabbitmq: Broker, proxy: FaultProxy) -> None:
    url = proxy.url(rabbitmq.url)
    proxy.cut_after = 40  # inside Connection.Start
    with pytest.raises(exc.AMQPConnectionError):
        # fail_fast (the default): the first failure raises; bounded, so that
        # a client retrying instead fails here rather than hanging the test
        await within(connect(url), 10)
    assert proxy.handshake_cuts == 1

    # without fail_fast the first connect keeps trying
    connecting = asyncio.ensure_future(connect(url, fail_fast=False))
    await eventually(lambda: proxy.handshake_cuts >= 3 or connecting.done())
    assert not connecting.done(), connecting
    proxy.cut_after = None
    connection = await within(connecting)
    recoveries = Recoveries(connection)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(auto_delete=True)
        inbox = Inbox()
        await queue.consume(inbox)

        # a reconnect whose handshakes are cut, until they are not
        proxy.cut_after = 300  # after Connection.Start/Tune, before OpenOk
        cuts = proxy.handshake_cuts
        proxy.cut()
        await eventually(lambda: proxy.handshake_cuts >= cuts + 3)
        assert connection.reconnecting
        proxy.cut_after = None
        await recoveries.wait(1)
        await channel.default_exchange.publish(amqpio.Message(b"h"), queue.name)
        assert await inbox.get() == b"h"
    finally:
        await connection.close()


async def test_black_hole_detected_by_heartbeat(
    rabbitmq: Broker, proxy: FaultProxy
) -> None:
    connection = await connect(proxy.url(rabbitmq.url), heartbeat=1)
    recoveries = Recoveries(connection)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(auto_delete=True)
        inbox = Inbox()
        await queue.consume(inbox)
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert proxy.stall() == 1
        await recoveries.wait_lost(1, timeout=10)
        detected = loop.time() - started
        assert "heartbeat" in str(recoveries.reasons[0])
        assert detected < 5  # two heartbeat intervals, give or take
        await recoveries.wait(1)
        await channel.default_exchange.publish(amqpio.Message(b"b"), queue.name)
        assert await inbox.get() == b"b"
    finally:
        await connection.close()


async def test_broker_node_restart(rabbitmq_ctl: Broker) -> None:
    broker = rabbitmq_ctl
    connection = await connect(broker.url)
    recoveries = Recoveries(connection)
    name = unique("durable")
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, durable=True)
        inbox = Inbox()
        tag = await queue.consume(inbox)
        await asyncio.to_thread(broker.restart)
        await recoveries.wait(1, timeout=60)
        assert tag in channel._consumers
        assert await consumers(broker, name) == 1
        await channel.default_exchange.publish(amqpio.Message(b"r"), name)
        assert await inbox.get() == b"r"
    finally:
        with contextlib.suppress(Exception):
            await within(channel.queue_delete(name), 10)
        await connection.close()


async def test_queue_iterator_keeps_iterating_across_a_cut(
    rabbitmq: Broker, proxy: FaultProxy
) -> None:
    connection = await connect(proxy.url(rabbitmq.url))
    recoveries = Recoveries(connection)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(auto_delete=True)
        await channel.default_exchange.publish(amqpio.Message(b"1"), queue.name)
        async with queue.iterator() as iterator:
            message = await within(iterator.__anext__())
            await message.ack()
            assert message.body == b"1"
            proxy.cut()
            await recoveries.wait(1)
            await channel.default_exchange.publish(amqpio.Message(b"2"), queue.name)
            message = await within(iterator.__anext__())
            assert message.body == b"2"
            await message.ack()
        # closing the iterator cancelled the consumer for good
        assert channel._topology.consumers == {}
    finally:
        await connection.close()
