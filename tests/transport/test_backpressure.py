"""Bounded buffering: writes at FLUSH_AT, publishers wait while the transport is
paused, while the broker blocks the connection and while channels hold frames
behind a request; the loop's turn is shared after TURN_BUDGET publishes or
TURN_BYTES of bodies."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from amqpio import exceptions as exc
from amqpio import spec
from amqpio.spec import BasicProperties
from amqpio.transport.protocol import FLUSH_AT, TURN_BUDGET, TURN_BYTES

from .fakes import FakeTransport, Harness, connect, settle

C = spec.Connection
B = spec.Basic
PROPS = BasicProperties()


async def fresh_iteration() -> None:
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def test_queued_bytes_are_written_once_they_reach_flush_at(
    harness: Harness,
) -> None:
    channel = await harness.open_channel()
    await fresh_iteration()
    harness.transport.writes.clear()
    body = b"b" * 20000
    core = harness.protocol.core
    most = 0
    for _ in range(20):  # 400 kB in one iteration of the loop
        harness.protocol.publish(channel, "", "q", body, PROPS, False, False)
        most = max(most, core.bytes_to_send)
    # never more than FLUSH_AT plus one message waits for the end of the turn
    assert most < FLUSH_AT + len(body) + 100
    written = sum(map(len, harness.transport.writes))
    assert written >= 20 * len(body) - FLUSH_AT
    assert len(harness.transport.writes) >= 20 * len(body) // (FLUSH_AT + len(body))
    await settle()
    assert core.bytes_to_send == 0
    assert [p.body for p in harness.broker.published()] == [body] * 20


async def test_small_publishes_of_one_iteration_share_a_write(
    harness: Harness,
) -> None:
    channel = await harness.open_channel()
    await fresh_iteration()
    harness.transport.writes.clear()
    for i in range(100):
        harness.protocol.publish(channel, "", "q", b"%d" % i, PROPS, False, False)
    assert len(harness.transport.writes) == 1  # the first, at once
    await asyncio.sleep(0)
    assert len(harness.transport.writes) == 2
    assert len(harness.broker.published()) == 100


async def test_a_publisher_yields_after_its_turn_budget(harness: Harness) -> None:
    channel = await harness.open_channel()
    protocol = harness.protocol
    await fresh_iteration()
    # the first publish of an iteration lets the tasks scheduled before it run
    assert protocol.publish_must_wait
    ran: list[int] = []
    asyncio.get_running_loop().call_soon(ran.append, 1)
    assert await protocol.wait_writable(None) is None
    assert ran == [1]
    protocol.publish(channel, "", "q", b"x", PROPS, False, False)  # opens the turn
    for i in range(1, TURN_BUDGET):
        assert not protocol.publish_must_wait, i
        protocol.publish(channel, "", "q", b"x", PROPS, False, False)
    assert protocol.publish_must_wait
    assert await protocol.wait_writable(5.0) == 5.0
    # a new iteration: the budget starts again with its first publish
    protocol.publish(channel, "", "q", b"x", PROPS, False, False)
    assert not protocol.publish_must_wait
    await settle()
    assert len(harness.broker.published()) == TURN_BUDGET + 1


async def test_a_publisher_of_large_bodies_yields_after_its_byte_budget(
    harness: Harness,
) -> None:
    # the socket takes everything (the transport never pauses): without a byte
    # budget a loop of 1 MiB publishes would copy TURN_BUDGET MiB in one turn
    channel = await harness.open_channel()
    protocol = harness.protocol
    await fresh_iteration()
    body = b"b" * (1 << 20)
    assert await protocol.wait_writable(None) is None
    in_turn = 0
    while not protocol.publish_must_wait or in_turn == 0:
        protocol.publish(channel, "", "q", body, PROPS, False, False)
        in_turn += 1
    assert not protocol.writing_paused
    assert in_turn == TURN_BYTES // len(body)
    assert await protocol.wait_writable(None) is None
    # a new iteration: the budget starts again with its first publish
    protocol.publish(channel, "", "q", body, PROPS, False, False)
    assert not protocol.publish_must_wait
    await settle()
    assert len(harness.broker.published()) == in_turn + 1


async def test_publishers_wait_while_the_transport_is_paused(
    harness: Harness,
) -> None:
    await harness.open_channel()
    protocol = harness.protocol
    harness.transport.pause()
    assert protocol.writing_paused and protocol.publish_must_wait
    waiters = [asyncio.ensure_future(protocol.wait_writable(None)) for _ in range(3)]
    await settle()
    assert not any(w.done() for w in waiters)
    harness.transport.resume()
    await settle()
    assert [w.result() for w in waiters] == [None, None, None]


async def test_a_wait_for_writing_honours_its_timeout(harness: Harness) -> None:
    await harness.open_channel()
    harness.transport.pause()
    with pytest.raises(asyncio.TimeoutError, match="nothing was sent"):
        await harness.protocol.wait_writable(0.05)
    assert harness.protocol._writers == [] or all(
        w.done() for w in harness.protocol._writers
    )
    harness.transport.resume()
    assert await harness.protocol.wait_writable(1.0) == 1.0


async def test_publishers_wait_while_the_broker_blocks_the_connection(
    harness: Harness,
) -> None:
    await harness.open_channel()
    protocol = harness.protocol
    harness.broker.send(harness.broker.method(0, C.Blocked("low on memory")))
    assert protocol.blocked == "low on memory"
    assert protocol.publish_must_wait
    waiter = asyncio.ensure_future(protocol.wait_writable(30.0))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    with pytest.raises(asyncio.TimeoutError, match="low on memory"):
        await protocol.wait_writable(0.01)
    harness.broker.send(harness.broker.method(0, C.Unblocked()))
    left = await asyncio.wait_for(waiter, 1)
    assert left is not None and 29.0 < left <= 30.0
    assert protocol.blocked is None
    assert harness.listener.calls[:2] == [
        ("blocked", "low on memory"),
        ("unblocked", None),
    ]


async def test_a_connection_lost_while_waiting_fails_the_publisher(
    harness: Harness,
) -> None:
    await harness.open_channel()
    harness.broker.send(harness.broker.method(0, C.Blocked("disk")))
    waiter = asyncio.ensure_future(harness.protocol.wait_writable(None))
    await settle()
    harness.transport.lose(ConnectionResetError("reset"))
    with pytest.raises(exc.AMQPConnectionError):
        await asyncio.wait_for(waiter, 1)


async def test_frames_held_behind_requests_count_and_make_publishers_wait(
    harness: Harness,
) -> None:
    channel = await harness.open_channel()
    protocol = harness.protocol
    # two requests: the second is held until the first's reply, and so is
    # every frame after it on that channel
    first = protocol.request(channel, B.Qos(0, 1, False))
    second = protocol.request(channel, B.Qos(0, 2, False))
    body = b"h" * 30000
    for _ in range(3):
        protocol.publish(channel, "", "q", body, PROPS, False, False)
    assert protocol.core.bytes_held >= 3 * len(body)
    assert protocol.publish_must_wait
    waiter = asyncio.ensure_future(protocol.wait_writable(None))
    await settle()
    assert not waiter.done()
    harness.broker.send(harness.broker.method(channel, B.QosOk()))
    assert first.result() == B.QosOk()
    await settle()
    assert not waiter.done()  # still behind the second request
    harness.broker.send(harness.broker.method(channel, B.QosOk()))
    # its reply releases the held frames: the publisher goes on
    await asyncio.wait_for(waiter, 1)
    assert protocol.core.bytes_held == 0
    assert second.result() == B.QosOk()
    await settle()
    assert len(harness.broker.published()) == 3


class JoiningTransport(FakeTransport):
    """A transport whose ``writelines`` is the base class's (it joins the
    parts into one bytes object: the selector transports before 3.12)."""

    writelines = asyncio.WriteTransport.writelines  # type: ignore[assignment]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.objects: list[object] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.objects.append(data)
        super().write(data)


@pytest.mark.parametrize("size", [300_000, 1 << 20, 5 << 20])
async def test_large_bodies_are_not_joined_by_a_joining_writelines(size: int) -> None:
    h = connect(transport_class=JoiningTransport)
    await h.protocol.opened
    transport = h.transport
    assert isinstance(transport, JoiningTransport)
    channel = await h.open_channel()
    await fresh_iteration()
    transport.objects.clear()
    body = bytes(range(256)) * (size // 256)
    h.protocol.publish(channel, "", "q", body, PROPS, False, False)
    h.protocol.publish(channel, "", "q", body, PROPS, False, False)
    await settle()
    # every large body piece reached write() as a view of the body, not a
    # copy (only a last piece under 16 KiB is joined with frame headers)
    big = [o for o in transport.objects if len(o) >= 16384]  # type: ignore[arg-type]
    assert big and all(
        (isinstance(o, memoryview) and o.obj is body) or o is body for o in big
    )
    assert sum(len(o) for o in big) > 2 * (len(body) - 16384)  # type: ignore[arg-type]
    assert [p.body for p in h.broker.published()] == [body, body]
    transport.lose()
    await settle()


async def test_publishers_woken_together_check_again(harness: Harness) -> None:
    """Publishers that yielded in the same turn do not all go on when the
    first of them fills the transport: each checks again."""
    channel = await harness.open_channel()
    protocol = harness.protocol
    await fresh_iteration()
    went: list[int] = []

    async def publisher(i: int) -> None:
        while protocol.publish_must_wait:
            await protocol.wait_writable(None)
            break
        went.append(i)
        protocol.publish(channel, "", "q", b"x", PROPS, False, False)
        if i == 0:
            harness.transport.pause()  # the first one filled the buffer

    tasks = [asyncio.ensure_future(publisher(i)) for i in range(5)]
    await settle()
    assert went == [0]
    harness.transport.resume()
    await asyncio.wait_for(asyncio.gather(*tasks), 1)
    assert sorted(went) == [0, 1, 2, 3, 4]
