"""Acks, nacks and rejects through the protocol: their flags reach the broker,
they are written together at the end of the loop turn (or at FLUSH_AT), they
fail with the connection's error once it ended; confirms taken away (returned
messages) ignore a later ack or nack; bodies written piece by piece keep their
order."""

from __future__ import annotations

import asyncio

import pytest

from amqpio import exceptions as exc
from amqpio import spec
from amqpio.spec import BasicProperties
from amqpio.transport.protocol import FLUSH_AT, _write_each

from .fakes import Harness, settle

B = spec.Basic
PROPS = BasicProperties()


async def fresh_iteration() -> None:
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def test_settlement_flags_reach_the_broker(harness: Harness) -> None:
    channel = await harness.open_channel()
    protocol = harness.protocol
    protocol.ack(channel, 7, True)
    protocol.nack(channel, 8, False, True)
    protocol.nack(channel, 9, True, False)
    protocol.reject(channel, 10, False)
    protocol.reject(channel, 11, True)
    await settle()
    assert harness.broker.methods()[-5:] == [
        (channel, B.Ack(7, True)),
        (channel, B.Nack(8, False, True)),
        (channel, B.Nack(9, True, False)),
        (channel, B.Reject(10, False)),
        (channel, B.Reject(11, True)),
    ]


async def test_settlements_of_one_turn_share_one_write_at_its_end(
    harness: Harness,
) -> None:
    channel = await harness.open_channel()
    protocol = harness.protocol
    await fresh_iteration()
    writes = harness.transport.writes
    writes.clear()
    protocol.ack(channel, 1, False)
    protocol.nack(channel, 2, False, True)
    protocol.reject(channel, 3, False)
    protocol.ack(channel, 4, False)
    assert writes == []  # nobody waits on them: not written at once
    await asyncio.sleep(0)
    assert len(writes) == 1
    await settle()
    assert [m for _, m in harness.broker.methods()[-4:]] == [
        B.Ack(1, False),
        B.Nack(2, False, True),
        B.Reject(3, False),
        B.Ack(4, False),
    ]
    # the next turn starts again
    writes.clear()
    protocol.reject(channel, 5, True)
    assert writes == []
    await asyncio.sleep(0)
    assert len(writes) == 1


@pytest.mark.parametrize("settle_with", ["ack", "nack", "reject"])
async def test_settlements_are_written_once_flush_at_is_queued(
    harness: Harness, settle_with: str
) -> None:
    channel = await harness.open_channel()
    protocol = harness.protocol
    core = protocol.core
    await fresh_iteration()

    def settle_one(tag: int) -> None:
        if settle_with == "ack":
            protocol.ack(channel, tag, False)
        elif settle_with == "nack":
            protocol.nack(channel, tag, False, True)
        else:
            protocol.reject(channel, tag, True)

    settle_one(1)  # opens the turn, waits for its end
    one = core.bytes_to_send
    before = core.bytes_to_send
    protocol.publish(channel, "", "q", b"x", PROPS, False, False)
    overhead = core.bytes_to_send - before - 1  # frames around a body
    # a publish that leaves room for exactly one more settlement
    room = FLUSH_AT - core.bytes_to_send - one - overhead
    protocol.publish(channel, "", "q", b"x" * room, PROPS, False, False)
    assert core.bytes_to_send == FLUSH_AT - one
    harness.transport.writes.clear()
    settle_one(2)  # FLUSH_AT reached: written now, not at the turn's end
    assert core.bytes_to_send == 0
    assert len(harness.transport.writes) == 1


async def test_settling_after_the_broker_closed_the_connection_raises_its_error(
    harness: Harness,
) -> None:
    channel = await harness.open_channel()
    protocol = harness.protocol
    harness.broker.send(
        harness.broker.method(0, spec.Connection.Close(320, "CONNECTION_FORCED", 0, 0))
    )
    for settle_one in (
        lambda: protocol.ack(channel, 1, False),
        lambda: protocol.nack(channel, 1, False, True),
        lambda: protocol.reject(channel, 1, True),
    ):
        with pytest.raises(exc.ConnectionClosed) as info:
            settle_one()
        assert info.value.reply_code == 320


async def test_settling_on_a_channel_that_is_not_open_is_invalid_state(
    harness: Harness,
) -> None:
    await harness.open_channel()
    protocol = harness.protocol
    for settle_one in (
        lambda: protocol.ack(9, 1, False),
        lambda: protocol.nack(9, 1, False, True),
        lambda: protocol.reject(9, 1, True),
    ):
        with pytest.raises(exc.ChannelInvalidStateError, match="channel 9"):
            settle_one()


async def test_settling_on_a_lost_connection_raises(harness: Harness) -> None:
    channel = await harness.open_channel()
    harness.transport.lose(ConnectionResetError("reset"))
    with pytest.raises(exc.AMQPConnectionError):
        harness.protocol.ack(channel, 1, False)
    with pytest.raises(exc.AMQPConnectionError):
        harness.protocol.reject(channel, 1, False)


async def test_a_taken_confirm_ignores_a_later_ack_or_nack(harness: Harness) -> None:
    channel = await harness.confirming_channel()
    protocol = harness.protocol
    futures = [
        protocol.publish(channel, "", "q", b"%d" % i, PROPS, True, False)
        for i in range(3)
    ]
    await settle()
    taken = protocol.take_confirm(channel, 1)
    assert taken is futures[0]
    assert protocol.take_confirm(channel, 1) is None
    assert protocol.take_confirm(channel + 1, 2) is None
    other = protocol.take_confirm(channel, 3)
    assert other is futures[2]
    harness.broker.send(
        harness.broker.method(channel, B.Nack(1, False, False)),
        harness.broker.method(channel, B.Ack(3, False)),
        harness.broker.method(channel, B.Nack(2, False, False)),
    )
    assert not taken.done() and not other.done()
    second = futures[1]
    assert second is not None and second.result() == B.Nack(2, False, False)
    assert protocol._confirms == {channel: {}}
    assert protocol.is_open


def test_resuming_writes_is_a_plain_false(harness: Harness) -> None:
    harness.transport.pause()
    assert harness.protocol.writing_paused is True
    harness.transport.resume()
    assert harness.protocol.writing_paused is False


class Recorder:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)


def test_write_each_joins_small_parts_and_writes_large_ones_alone() -> None:
    big = b"B" * 16384
    just_under = b"u" * 16383
    parts: list[bytes] = [b"h1", b"h2", big, b"h3", just_under, big, b"t1", b"t2"]
    recorder = Recorder()
    _write_each(recorder, parts)  # type: ignore[arg-type]
    assert recorder.writes == [b"h1h2", big, b"h3" + just_under, big, b"t1t2"]
    assert b"".join(recorder.writes) == b"".join(parts)
    lone = Recorder()
    _write_each(lone, [big, b"tail"])  # type: ignore[arg-type]
    assert lone.writes == [big, b"tail"]
    single = Recorder()
    _write_each(single, [b"h", big])  # type: ignore[arg-type]
    assert single.writes == [b"h", big]
