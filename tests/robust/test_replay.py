"""Reconnect and topology replay against a scripted server on a loopback socket.

What the client sends after a reconnect is checked method by method: the
order (dependency order across channels), what is and is not restored, and
how a 405 RESOURCE_LOCKED, a channel exception and a server-sent Basic.Cancel
are handled. No broker needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import pytest

import amqpio
from amqpio import exceptions as exc
from amqpio import spec
from amqpio.robust_connection import RobustConnection
from helpers.broker import FakeBroker

from .fake_server import FakeConnection, FakeServer
from .support import FAST, WAIT, eventually, within


def reconnected(connection: RobustConnection) -> asyncio.Future[None]:
    future = asyncio.get_running_loop().create_future()

    def done(_: Any) -> None:
        if not future.done():
            future.set_result(None)

    connection.reconnect_callbacks.add(done)
    return future


def without_channel_setup(names: list[str]) -> list[str]:
    skip = {"Channel.Open", "Confirm.Select", "Channel.Close", "Channel.CloseOk"}
    return [n for n in names if n not in skip and not n.startswith("Connection.")]


async def callback(_: Any) -> None:
    pass


async def test_replay_in_dependency_order_across_channels(server: FakeServer) -> None:
    connection = await amqpio.connect_robust(server.url, **FAST)
    try:
        publisher = await connection.channel()
        consumer = await connection.channel(publisher_confirms=False)
        await consumer.set_qos(prefetch_count=3)
        # declared in an order that replays badly as is: the queue on one
        # channel, the exchange it binds to later on another
        queue = await consumer.declare_queue(exclusive=True)
        exchange = await publisher.declare_exchange("x", amqpio.ExchangeType.TOPIC)
        await queue.bind(exchange, "k.#")
        target = await publisher.declare_exchange("y", "fanout", durable=True)
        await target.bind(exchange, "r")
        await queue.consume(callback, consumer_tag="t1", arguments={"x-priority": 2})
        await publisher.declare_queue("temporary", robust=False)
        await publisher.declare_exchange("temporary-x", robust=False)
        gone = await publisher.declare_queue("deleted")
        await gone.delete()

        done = reconnected(connection)
        server.drop()
        await within(done)
        first, second = server.connections
        assert without_channel_setup(second.kinds()) == [
            "Basic.Qos",
            "Exchange.Declare",
            "Exchange.Declare",
            "Queue.Declare",
            "Exchange.Bind",
            "Queue.Bind",
            "Basic.Consume",
        ]
        methods = [m for _, m in second.methods]
        declares = [m for m in methods if isinstance(m, spec.Queue.Declare)]
        assert [d.queue for d in declares] == [queue.name]  # amq_..., client-made
        assert declares[0].exclusive
        exchanges = [m for m in methods if isinstance(m, spec.Exchange.Declare)]
        assert [(e.exchange, e.exchange_type, e.durable) for e in exchanges] == [
            ("x", "topic", False),
            ("y", "fanout", True),
        ]
        (consume,) = [m for m in methods if isinstance(m, spec.Basic.Consume)]
        assert (consume.consumer_tag, consume.arguments) == ("t1", {"x-priority": 2})
        (qos,) = [m for m in methods if isinstance(m, spec.Basic.Qos)]
        assert qos.prefetch_count == 3
        # every channel was reopened, confirm mode where it was on
        channel_setup = [
            (ch, m.NAME)
            for ch, m in second.methods
            if m.NAME in ("Channel.Open", "Confirm.Select")
        ]
        assert sorted(n for _, n in channel_setup) == [
            "Channel.Open",
            "Channel.Open",
            "Confirm.Select",
        ]
        assert not publisher.is_closed and not consumer.is_closed
        assert len(first.methods) > len(second.methods)
    finally:
        await connection.close()


async def test_exclusive_queue_405_is_retried_until_the_lock_goes(
    server: FakeServer,
) -> None:
    connection = await amqpio.connect_robust(server.url, **FAST)
    locked = 3

    def lock(conn: FakeConnection, channel: int, method: Any) -> list[bytes] | None:
        nonlocal locked
        if len(server.connections) > 1 and method.exclusive and locked:
            locked -= 1
            return conn.close_channel(channel, 405, "RESOURCE_LOCKED - in use", method)
        return None

    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True)
        await queue.consume(callback, consumer_tag="c")
        server.hooks[spec.Queue.Declare] = lock
        reopened = asyncio.Event()
        channel.reopen_callbacks.add(lambda _: reopened.set())
        done = reconnected(connection)
        server.drop()
        await within(done)
        await within(reopened.wait())
        second = server.connections[1]
        kinds = without_channel_setup(second.kinds())
        assert kinds == ["Queue.Declare"] * 4 + ["Basic.Consume"]
        assert locked == 0
        # the channel was reopened after each 405
        assert second.kinds().count("Channel.Open") == 4
        assert channel._usable()
    finally:
        await connection.close()


async def test_calls_during_recovery_wait_then_go_or_time_out(
    server: FakeServer,
) -> None:
    connection = await amqpio.connect_robust(
        server.url, reconnect_interval=0.01, reconnect_max_interval=0.05
    )
    try:
        channel = await connection.channel()
        server.refuse = True
        server.drop()
        await eventually(lambda: connection.reconnecting)
        assert channel.is_closed and not connection.is_closed
        with pytest.raises(exc.RecoveryTimeoutError) as info:
            await channel.declare_queue("q", timeout=0.1)
        assert "not restored within 0.1 s" in str(info.value)
        waiting = asyncio.ensure_future(channel.declare_queue("q2", timeout=WAIT))
        published = asyncio.ensure_future(
            channel.default_exchange.publish(amqpio.Message(b"m"), "q2")
        )
        await asyncio.sleep(0.1)
        assert not waiting.done() and not published.done()
        server.refuse = False
        queue = await within(waiting)
        assert queue.name == "q2"
        assert isinstance(await within(published), spec.Basic.Ack)
        assert [p.body for p in server.connections[-1].published] == [b"m"]
    finally:
        await connection.close()


async def test_outstanding_confirms_fail_with_unknown_outcome(
    server: FakeServer,
) -> None:
    connection = await amqpio.connect_robust(server.url, **FAST)
    try:
        channel = await connection.channel()
        server.confirm = False  # the broker never answers these
        pending = [
            asyncio.ensure_future(
                channel.default_exchange.publish(amqpio.Message(b"%d" % i), "q")
            )
            for i in range(10)
        ]
        await eventually(lambda: len(server.connections[0].published) == 10)
        server.confirm = True
        server.drop()
        results = await within(asyncio.gather(*pending, return_exceptions=True))
        assert all(isinstance(r, exc.PublishOutcomeUnknownError) for r in results)
        assert results[3].message.body == b"3"  # type: ignore[union-attr]
        # the channel is back, and a new publish is confirmed
        ack = await within(
            channel.default_exchange.publish(amqpio.Message(b"x"), "q", timeout=WAIT)
        )
        assert isinstance(ack, spec.Basic.Ack)
    finally:
        await connection.close()


async def test_channel_exception_reopens_and_restores_only_that_channel(
    server: FakeServer,
) -> None:
    connection = await amqpio.connect_robust(server.url, **FAST)
    try:
        other = await connection.channel()
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=5)
        queue = await channel.declare_queue("work")
        await queue.consume(callback, consumer_tag="w")
        conn = server.connections[0]
        mark = len(conn.methods)
        closed: list[BaseException] = []
        channel.close_callbacks.add(lambda _, reason=None: closed.append(reason))
        reopened = asyncio.Event()
        channel.reopen_callbacks.add(lambda _: reopened.set())
        with pytest.raises(exc.ChannelNotFoundEntity):
            await channel.declare_queue("missing", passive=True)
        await within(reopened.wait())
        assert isinstance(closed[0], exc.ChannelNotFoundEntity)
        after = [n for n in conn.kinds()[mark:] if n != "Channel.CloseOk"]
        assert after == [
            "Queue.Declare",  # the passive one that failed
            "Channel.Open",
            "Confirm.Select",
            "Basic.Qos",
            "Queue.Declare",
            "Basic.Consume",
        ]
        assert len(server.connections) == 1  # the connection stayed up
        assert not other.is_closed
        assert not channel.is_closed
    finally:
        await connection.close()


async def test_server_cancel_is_reported_and_the_consumer_restarted(
    server: FakeServer,
) -> None:
    connection = await amqpio.connect_robust(server.url, **FAST)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue("q", durable=True)
        await queue.bind("amq.topic", "k")
        await queue.consume(callback, consumer_tag="c1")
        cancelled: list[str] = []
        channel.cancel_callbacks.add(lambda _, tag: cancelled.append(tag))
        conn = server.connections[0]
        mark = len(conn.methods)
        number = channel.number
        assert number is not None
        conn.send(FakeBroker.method(number, spec.Basic.Cancel("c1", no_wait=True)))
        await eventually(lambda: cancelled == ["c1"])
        await eventually(lambda: "c1" in channel._consumers)
        # (registered just before the request goes out: wait for it to arrive)
        await eventually(lambda: "Basic.Consume" in conn.kinds()[mark:])
        after = [(ch, n) for ch, n in ((c, m.NAME) for c, m in conn.methods[mark:])]
        names = [n for _, n in after]
        # checked on a separate channel, then consumed on this one, same tag
        assert names[:3] == ["Channel.Open", "Queue.Declare", "Queue.Bind"]
        assert "Basic.Consume" in names
        probe = after[0][0]
        consume_channel = next(ch for ch, n in after if n == "Basic.Consume")
        assert probe != number
        assert consume_channel == number
        assert not channel.is_closed
    finally:
        await connection.close()


async def test_failover_between_addresses_and_fail_fast(server: FakeServer) -> None:
    with socket.socket() as sock:  # a port where nothing listens
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    dead = f"amqp://guest:guest@127.0.0.1:{dead_port}/"

    with pytest.raises(exc.AMQPConnectionError):
        await amqpio.connect_robust(dead, **FAST)

    connection = await amqpio.connect_robust([dead, server.url], **FAST)
    try:
        assert f":{server.port}/" in str(connection.url)
        channel = await connection.channel()
        await channel.declare_queue("q")
    finally:
        await connection.close()

    # without fail_fast the first connect waits for a broker to come up
    connecting = asyncio.ensure_future(
        amqpio.connect_robust(f"{dead}?fail_fast=0", **FAST)
    )
    await asyncio.sleep(0.1)
    assert not connecting.done()
    late = await FakeServer().start(dead_port)
    try:
        connection = await within(connecting)
        assert connection.connection_attempt == 1
        await connection.close()
    finally:
        await late.close()


async def test_close_while_reconnecting_leaves_nothing_behind(
    server: FakeServer,
) -> None:
    connection = await amqpio.connect_robust(server.url, **FAST)
    channel = await connection.channel()
    queue = await channel.declare_queue("q")
    await queue.consume(callback)
    server.refuse = True
    closes: list[Any] = []
    connection.close_callbacks.add(lambda _, reason=None: closes.append(reason))
    server.drop()
    await eventually(lambda: connection.reconnecting)
    waiting = asyncio.ensure_future(channel.declare_queue("w", timeout=WAIT))
    tasks_before = len(asyncio.all_tasks())
    await connection.close()
    assert connection.is_closed and channel.is_closed
    with pytest.raises(exc.ChannelInvalidStateError):
        await within(waiting)
    # the reconnect task ends: waited for, not assumed after a fixed sleep
    await eventually(lambda: len(asyncio.all_tasks()) < tasks_before)
    assert not connection.reconnecting
    assert len(closes) == 2  # the loss, then the close
    with contextlib.suppress(Exception):
        await channel.close()


async def test_reconnect_on_demand(server: FakeServer) -> None:
    connection = await amqpio.connect_robust(server.url, **FAST)
    try:
        channel = await connection.channel()
        await channel.declare_queue("q")
        done = reconnected(connection)
        await within(connection.reconnect())
        assert done.done()
        assert len(server.connections) == 2
        assert "Queue.Declare" in server.connections[1].kinds()
    finally:
        await connection.close()


async def test_acks_of_deliveries_from_before_a_reconnect_are_refused(
    server: FakeServer,
) -> None:
    connection = await amqpio.connect_robust(server.url, **FAST)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue("q")
        received: list[Any] = []

        async def collect(message: Any) -> None:
            received.append(message)

        await queue.consume(collect, consumer_tag="c")

        def deliver(conn: FakeConnection, tag: int) -> None:
            assert channel.number is not None
            method = spec.Basic.Deliver("c", tag, False, "", "q")
            conn.send(FakeBroker.content(channel.number, method, b"m%d" % tag))

        deliver(server.connections[0], 1)
        await eventually(lambda: len(received) == 1)
        done = reconnected(connection)
        server.drop()
        await within(done)
        old = received[0]
        assert old.stale
        with pytest.raises(exc.ChannelInvalidStateError, match="can no longer"):
            await old.ack()
        assert not old.processed  # nothing was sent: the broker requeued it
        deliver(server.connections[1], 1)  # the same tag, on the new channel
        await eventually(lambda: len(received) == 2)
        assert not received[1].stale
        await received[1].ack()
        await eventually(lambda: "Basic.Ack" in server.connections[1].kinds())
        (ack,) = [m for _, m in server.connections[1].methods if m.NAME == "Basic.Ack"]
        assert ack.delivery_tag == 1
    finally:
        await connection.close()


async def test_reconnects_log_in_with_the_updated_secret(server: FakeServer) -> None:
    connection = await amqpio.connect_robust(server.url, **FAST)
    try:
        await connection.update_secret("token-2", reason="rotated")
        done = reconnected(connection)
        server.drop()
        await within(done)
        start_ok = [
            m
            for _, m in server.connections[1].methods
            if m.NAME == "Connection.StartOk"
        ]
        assert start_ok[0].response.endswith(b"\x00token-2")
    finally:
        await connection.close()
