"""The scripted server keeps RabbitMQ's rules, and the client copes with them.

``no_wait`` methods get no reply, confirms come only in confirm mode and
coalesced (``multiple``), unknown names are NOT_FOUND, a closing channel
drops what it receives, heartbeats are negotiated and enforced. Each test
drives amqpio (or, to be silent on purpose, a hand-written client) against
``fake_server.FakeServer``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import amqpio
from amqpio import exceptions as exc
from amqpio import spec
from amqpio.codec.frames import FRAME_HEARTBEAT, PROTOCOL_HEADER, FrameReader
from helpers.broker import FakeBroker

from .fake_server import FakeConnection, FakeServer
from .support import FAST, eventually, within


def confirms(conn: FakeConnection) -> list[tuple[int, Any]]:
    return [
        (channel, method)
        for channel, method in conn.replies
        if isinstance(method, (spec.Basic.Ack, spec.Basic.Nack))
    ]


async def callback(_: Any) -> None:
    pass


async def test_no_wait_methods_get_no_reply(server: FakeServer) -> None:
    connection = await amqpio.connect_robust(server.url, **FAST)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue("q")
        await channel.declare_exchange("x")
        tag = await queue.consume(callback)
        assert await queue.cancel(tag, nowait=True) is None
        await channel.queue_delete("q", nowait=True)
        await channel.exchange_delete("x", nowait=True)
        # the connection is in step: the next request gets its own reply
        after = await within(channel.declare_queue("after"))
        assert after.name == "after"
        conn = server.connections[0]
        sent = [m for _, m in conn.methods if getattr(m, "no_wait", False)]
        assert [m.NAME for m in sent] == [
            "Basic.Cancel",
            "Queue.Delete",
            "Exchange.Delete",
        ]
        replied = {m.NAME for _, m in conn.replies}
        assert not replied & {"Basic.CancelOk", "Queue.DeleteOk", "Exchange.DeleteOk"}
        assert "q" not in server.queues and "x" not in server.exchanges
    finally:
        await connection.close()


async def test_publishes_are_confirmed_only_in_confirm_mode(
    server: FakeServer,
) -> None:
    connection = await amqpio.connect_robust(server.url, **FAST)
    try:
        plain = await connection.channel(publisher_confirms=False)
        confirming = await connection.channel()
        for body in (b"p1", b"p2"):
            assert (
                await plain.default_exchange.publish(amqpio.Message(body), "q") is None
            )
        ack = await within(
            confirming.default_exchange.publish(amqpio.Message(b"c"), "q")
        )
        assert isinstance(ack, spec.Basic.Ack)
        assert ack.delivery_tag == 1  # counted on this channel, from Confirm.Select
        conn = server.connections[0]
        await eventually(lambda: len(conn.published) == 3)
        assert confirms(conn) == [(confirming.number, spec.Basic.Ack(1, False))]
    finally:
        await connection.close()


async def test_a_burst_is_confirmed_by_multiple_acks(server: FakeServer) -> None:
    connection = await amqpio.connect_robust(server.url, **FAST)
    try:
        channel = await connection.channel()
        results = await within(
            asyncio.gather(
                *(
                    channel.default_exchange.publish(amqpio.Message(b"%d" % i), "q")
                    for i in range(50)
                )
            )
        )
        assert all(isinstance(r, spec.Basic.Ack) for r in results)
        acks = [m for _, m in confirms(server.connections[0])]
        assert any(a.multiple for a in acks)  # one ack covered several publishes
        assert len(acks) < 50
        assert acks[-1].delivery_tag == 50
        # a confirm after the burst is its own again
        ack = await within(channel.default_exchange.publish(amqpio.Message(b"x"), "q"))
        assert isinstance(ack, spec.Basic.Ack)
        assert confirms(server.connections[0])[-1][1] == spec.Basic.Ack(51, False)
    finally:
        await connection.close()


async def test_multiple_nacks_fail_every_publish_they_cover(
    server: FakeServer,
) -> None:
    connection = await amqpio.connect_robust(server.url, **FAST)
    try:
        channel = await connection.channel()
        server.nack = True
        results = await within(
            asyncio.gather(
                *(
                    channel.default_exchange.publish(amqpio.Message(b"%d" % i), "q")
                    for i in range(20)
                ),
                return_exceptions=True,
            )
        )
        assert all(isinstance(r, exc.DeliveryError) for r in results), results
        nacks = [m for _, m in confirms(server.connections[0])]
        assert all(isinstance(n, spec.Basic.Nack) for n in nacks)
        assert any(n.multiple for n in nacks)
        assert nacks[-1].delivery_tag == 20
        assert not channel.is_closed
    finally:
        await connection.close()


async def test_unknown_names_are_not_found(server: FakeServer) -> None:
    owner = await amqpio.connect(server.url)
    connection = await amqpio.connect(server.url)
    try:
        await (await owner.channel()).declare_queue("mine", exclusive=True)
        await (await connection.channel()).get_queue("mine")
        await owner.close()  # its exclusive queue goes with it
        await eventually(lambda: "mine" not in server.queues)
        with pytest.raises(exc.ChannelNotFoundEntity, match="no queue 'mine'"):
            await (await connection.channel()).get_queue("mine")
        with pytest.raises(exc.ChannelNotFoundEntity, match="no exchange 'nope'"):
            await (await connection.channel()).get_exchange("nope")
        channel = await connection.channel()
        queue = await channel.declare_queue("q")
        with pytest.raises(exc.ChannelNotFoundEntity, match="no exchange 'nope'"):
            await queue.bind("nope", "k")
        channel = await connection.channel()
        assert (await channel.get_exchange("amq.topic")).name == "amq.topic"
        await (await channel.get_queue("q")).bind("amq.topic", "k")
        closes = [
            m for _, m in server.connections[1].replies if m.NAME == "Channel.Close"
        ]
        assert [c.reply_code for c in closes] == [404] * 3
    finally:
        await connection.close()
        await owner.close()


async def test_publishes_into_a_closing_channel_are_dropped_not_confirmed(
    server: FakeServer,
) -> None:
    connection = await amqpio.connect(server.url)
    held: list[bytes] = []

    def late_404(conn: FakeConnection, channel: int, method: Any) -> list[bytes]:
        # the channel is closed now; the client learns it a bit later
        held.extend(conn.close_channel(channel, 404, "NOT_FOUND - no queue", method))
        return []

    try:
        channel = await connection.channel()
        number = channel.number
        server.hooks[spec.Queue.Declare] = late_404
        declare = asyncio.ensure_future(channel.declare_queue("nope", passive=True))
        await eventually(lambda: held)
        publishes = [
            asyncio.ensure_future(
                channel.default_exchange.publish(amqpio.Message(b"%d" % i), "q")
            )
            for i in range(3)
        ]
        conn = server.connections[0]
        await eventually(lambda: len(conn.discarded) == 3)
        conn.send(*held)
        results = await within(
            asyncio.gather(declare, *publishes, return_exceptions=True)
        )
        assert all(isinstance(r, exc.ChannelNotFoundEntity) for r in results), results
        assert conn.published == [] and confirms(conn) == []
        assert conn.methods[-1] == (number, spec.Channel.CloseOk())
        assert number not in conn.closing
        reopened = await connection.channel()
        ack = await within(reopened.default_exchange.publish(amqpio.Message(b"r"), "q"))
        assert isinstance(ack, spec.Basic.Ack) and ack.delivery_tag == 1
    finally:
        await connection.close()


# -- heartbeats ------------------------------------------------------------------


async def silent_client(port: int, heartbeat: int) -> tuple[list[str], float]:
    """Log in with ``heartbeat`` in TuneOk, then send nothing at all; return
    what the server sent afterwards and how long it waited before closing."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    frames = FrameReader(0)

    async def next_method() -> spec.Method:
        while (frame := frames.read_frame()) is None:
            frames.feed(await reader.read(65536))
        return spec.decode_method(frame[2])

    c = spec.Connection
    writer.write(PROTOCOL_HEADER)
    assert isinstance(await next_method(), c.Start)
    start_ok = c.StartOk(
        client_properties={}, mechanism="PLAIN", response=b"\0u\0p", locale="en_US"
    )
    writer.write(FakeBroker.method(0, start_ok))
    tune = await next_method()
    assert isinstance(tune, c.Tune)
    tune_ok = c.TuneOk(tune.channel_max, tune.frame_max, heartbeat)
    writer.write(FakeBroker.method(0, tune_ok) + FakeBroker.method(0, c.Open()))
    assert isinstance(await next_method(), c.OpenOk)
    loop = asyncio.get_running_loop()
    silent_since = loop.time()
    received: list[str] = []
    while data := await reader.read(65536):
        frames.feed(data)
        while (frame := frames.read_frame()) is not None:
            received.append("heartbeat" if frame[0] == FRAME_HEARTBEAT else "other")
    writer.close()
    return received, loop.time() - silent_since


async def test_heartbeats_are_negotiated_sent_and_enforced(
    server: FakeServer,
) -> None:
    # needs heartbeats of 1 s: about 3 s of wall time
    assert server.heartbeat == 60  # proposed in Tune, as RabbitMQ
    silent = asyncio.ensure_future(silent_client(server.port, heartbeat=1))
    await eventually(lambda: len(server.connections) == 1)
    connection = await amqpio.connect_robust(server.url + "?heartbeat=1", **FAST)
    try:
        received, waited = await within(silent)
        quiet, live = server.connections
        # the TuneOk value won over the proposal; silence ends the connection
        # after two heartbeat checks: 2 to 3 intervals
        assert quiet.heartbeat == 1 and quiet.timed_out
        assert 1.9 <= waited < 4.5, waited
        assert received and set(received) == {"heartbeat"}
        # the robust client, as idle, kept the connection alive with heartbeats
        assert live.heartbeat == 1 and not live.timed_out
        assert live.heartbeats_received >= 2 and live.heartbeats_sent >= 2
        assert live.transport is not None
        assert not connection.reconnecting and connection.connection_attempt == 1
    finally:
        await connection.close()


async def test_heartbeats_off_only_when_the_client_says_zero(
    server: FakeServer,
) -> None:
    # the client's TuneOk decides, whatever Tune proposed (RabbitMQ takes it)
    off = await amqpio.connect_robust(server.url, heartbeat=0, **FAST)
    default = await amqpio.connect_robust(server.url, **FAST)
    try:
        quiet, beating = server.connections
        assert quiet.heartbeat == 0 and not quiet._timers
        assert beating.heartbeat == 60 and len(beating._timers) == 2
    finally:
        await default.close()
        await off.close()
