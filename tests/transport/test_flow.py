"""Write coalescing, flow control (``drain``) and the heartbeat timer."""

from __future__ import annotations

import asyncio

import pytest

from amqpio import exceptions as exc
from amqpio import spec
from amqpio.codec.frames import HEARTBEAT_FRAME
from amqpio.sansio import ConnectionConfig
from amqpio.spec import BasicProperties
from helpers.broker import Heartbeat, Published

from .fakes import TUNE, Harness, RecordingChannelListener, connect, failure, settle

B = spec.Basic


# -- coalescing ------------------------------------------------------------------


async def test_commands_in_one_iteration_make_two_writes(harness: Harness) -> None:
    # The first command of a loop iteration is written at once (latency); all
    # that follow in the same iteration share a single second write.
    channel = await harness.open_channel()
    await asyncio.sleep(0)  # start a fresh iteration
    harness.transport.writes.clear()
    before = len(harness.broker.received)
    for i in range(3):
        harness.protocol.publish(
            channel, "", "q", b"%d" % i, BasicProperties(), False, False
        )
    harness.protocol.ack(channel, 1, False)
    harness.protocol.nack(channel, 2, False, True)
    harness.protocol.send(channel, B.Reject(3, False))
    qos = harness.protocol.request(channel, B.Qos(0, 10, False))
    assert len(harness.transport.writes) == 1  # the first publish, at once
    await asyncio.sleep(0)
    assert len(harness.transport.writes) == 2
    received = harness.broker.received[before:]
    assert [type(item).__name__ for item in received] == [
        "Published",
        "Published",
        "Published",
        "tuple",
        "tuple",
        "tuple",
        "tuple",
    ]
    assert [p.body for p in received[:3] if isinstance(p, Published)] == [
        b"0",
        b"1",
        b"2",
    ]
    assert received[3:] == [
        (channel, B.Ack(1, False)),
        (channel, B.Nack(2, False, True)),
        (channel, B.Reject(3, False)),
        (channel, B.Qos(0, 10, False)),
    ]
    # an iteration with nothing queued writes nothing
    await settle()
    assert len(harness.transport.writes) == 2
    harness.broker.send(harness.broker.method(channel, B.QosOk()))
    assert qos.result() == B.QosOk()


async def test_acks_wait_for_the_end_of_the_iteration(harness: Harness) -> None:
    # Nobody awaits an ack: it is not written at once (it would go out ahead
    # of a publish or a wake-up already due), and the acks of one iteration
    # share one write.
    channel = await harness.open_channel()
    await asyncio.sleep(0)  # start a fresh iteration
    harness.transport.writes.clear()
    harness.protocol.ack(channel, 1, False)
    harness.protocol.nack(channel, 2, False, False)
    harness.protocol.reject(channel, 3, True)
    assert harness.transport.writes == []
    await asyncio.sleep(0)
    assert len(harness.transport.writes) == 1
    assert harness.broker.methods()[-3:] == [
        (channel, B.Ack(1, False)),
        (channel, B.Nack(2, False, False)),
        (channel, B.Reject(3, True)),
    ]


async def test_a_publish_after_an_ack_joins_its_write(harness: Harness) -> None:
    channel = await harness.open_channel()
    await asyncio.sleep(0)
    harness.transport.writes.clear()
    harness.protocol.ack(channel, 1, False)
    harness.protocol.publish(channel, "", "q", b"x", BasicProperties(), False, False)
    assert harness.transport.writes == []
    await asyncio.sleep(0)
    assert len(harness.transport.writes) == 1
    received = harness.broker.received[-2:]
    assert received[0] == (channel, B.Ack(1, False))
    assert isinstance(received[1], Published) and received[1].body == b"x"


async def test_ack_on_a_closed_connection_raises_at_once(harness: Harness) -> None:
    channel = await harness.open_channel()
    harness.transport.lose()
    await settle()
    with pytest.raises(exc.AMQPConnectionError):
        harness.protocol.ack(channel, 1, False)


async def test_channel_opens_in_one_iteration_make_two_writes(harness: Harness) -> None:
    listener = RecordingChannelListener()
    await asyncio.sleep(0)  # start a fresh iteration
    harness.transport.writes.clear()
    futures = [harness.protocol.open_channel(listener)[1] for _ in range(4)]
    await asyncio.sleep(0)
    assert len(harness.transport.writes) == 2
    await asyncio.gather(*futures)
    assert harness.broker.methods()[-4:] == [
        (n, spec.Channel.Open()) for n in (1, 2, 3, 4)
    ]


async def test_replies_and_commands_issued_in_between_share_writes(
    harness: Harness,
) -> None:
    # The CancelOk answering a broker Cancel is written from data_received.
    channel = await harness.open_channel()
    harness.transport.writes.clear()
    harness.broker.send(harness.broker.method(channel, B.Cancel("ctag")))
    assert len(harness.transport.writes) == 1
    assert harness.broker.methods()[-1] == (channel, B.CancelOk("ctag"))


async def test_a_single_buffer_is_written_with_write(harness: Harness) -> None:
    calls: list[str] = []
    write, writelines = harness.transport.write, harness.transport.writelines

    def record_write(data: bytes | bytearray | memoryview) -> None:
        calls.append("write")
        write(data)

    def record_writelines(data: object) -> None:
        calls.append("writelines")
        writelines(data)  # type: ignore[arg-type]

    harness.transport.write = record_write  # type: ignore[method-assign]
    harness.transport.writelines = record_writelines  # type: ignore[method-assign,assignment]
    channel = await harness.open_channel()
    assert calls == ["write"]
    harness.protocol.publish(channel, "", "q", b"body", BasicProperties(), False, False)
    await asyncio.sleep(0)
    assert calls == ["write", "writelines"]


# -- flow control ----------------------------------------------------------------


async def test_drain_returns_at_once_when_not_paused(harness: Harness) -> None:
    await harness.protocol.drain()
    assert harness.protocol._drain_waiters == []


async def test_pause_writing_makes_drain_wait_until_resume(harness: Harness) -> None:
    harness.transport.pause()
    waiters = [asyncio.create_task(harness.protocol.drain()) for _ in range(2)]
    await settle()
    assert not any(w.done() for w in waiters)
    harness.transport.resume()
    await settle()
    assert [w.result() for w in waiters] == [None, None]
    assert harness.protocol._drain_waiters == []
    # and again
    harness.transport.pause()
    again = asyncio.create_task(harness.protocol.drain())
    await settle()
    assert not again.done()
    harness.transport.resume()
    await again


async def test_cancelled_drain_does_not_disturb_the_others(harness: Harness) -> None:
    harness.transport.pause()
    cancelled = asyncio.create_task(harness.protocol.drain())
    kept = asyncio.create_task(harness.protocol.drain())
    await settle()
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    harness.transport.resume()
    await kept


async def test_connection_lost_releases_drain_waiters(harness: Harness) -> None:
    harness.transport.pause()
    waiters = [asyncio.create_task(harness.protocol.drain()) for _ in range(3)]
    await settle()
    reset = ConnectionResetError("reset")
    harness.transport.lose(reset)
    await settle()
    errors = {id(failure(w)) for w in waiters}
    assert len(errors) == 1
    error = failure(waiters[0])
    assert type(error) is exc.AMQPConnectionError
    assert error.__cause__ is reset
    assert harness.protocol._drain_waiters == []
    # paused when it ended: a later drain returns instead of hanging
    await asyncio.wait_for(harness.protocol.drain(), 1)


# -- heartbeats ------------------------------------------------------------------


async def test_timer_is_armed_from_the_core_deadline(harness: Harness) -> None:
    p, clock = harness.protocol, harness.clock
    deadline = p.core.next_deadline()
    # 60 s heartbeats: one is due 30 s after the last bytes went out
    assert deadline == clock.now + TUNE.heartbeat / 2
    [timer] = clock.armed()
    assert timer.when() == deadline == p._timer_at
    assert p._timer is timer  # type: ignore[comparison-overlap]
    # nothing happens before the deadline
    assert clock.advance(TUNE.heartbeat / 2 - 0.01) == 0
    assert harness.transport.writes == []


async def test_heartbeat_is_sent_when_due_and_the_timer_rearmed(
    harness: Harness,
) -> None:
    p, clock = harness.protocol, harness.clock
    start = clock.now
    assert clock.advance(30) == 1
    assert harness.transport.writes == [HEARTBEAT_FRAME]
    assert harness.broker.received[-1] == Heartbeat(0)
    [timer] = clock.armed()
    assert timer.when() == p.core.next_deadline() == start + 60
    assert clock.advance(30) == 1
    assert harness.transport.writes == [HEARTBEAT_FRAME] * 2
    assert p.is_open


async def test_traffic_from_the_broker_postpones_the_timeout(harness: Harness) -> None:
    p, clock = harness.protocol, harness.clock
    start = clock.now
    clock.advance(100)  # three heartbeats out, nothing in
    assert len(harness.transport.writes) == 3
    harness.broker.send(harness.broker.heartbeat())
    [timer] = clock.armed()
    assert timer.when() == p.core.next_deadline() == start + 120  # next beat out
    clock.advance(119)  # the peer is dead only 120 s after its heartbeat
    assert p.is_open
    assert not harness.transport.closing
    clock.advance(1)
    assert not p.is_open
    assert harness.transport.aborted
    await settle()
    error = p.closed.result()
    assert type(error) is exc.AMQPConnectionError
    assert harness.listener.calls == [("closed", error)]
    assert clock.armed() == []


async def test_commands_count_as_outbound_traffic(harness: Harness) -> None:
    clock = harness.clock
    channel = await harness.open_channel()
    harness.transport.writes.clear()
    clock.advance(20)
    harness.protocol.publish(channel, "", "q", b"x", BasicProperties(), False, False)
    await asyncio.sleep(0)
    assert len(harness.transport.writes) == 1
    # the timer fires at the old deadline but no heartbeat is needed
    assert clock.advance(10) == 1
    assert len(harness.transport.writes) == 1
    [timer] = clock.armed()
    assert timer.when() > clock.now


async def test_disabled_heartbeats_arm_no_timer() -> None:
    h = connect(ConnectionConfig(heartbeat=0))
    await h.protocol.opened
    assert h.protocol.core.next_deadline() is None
    assert h.clock.armed() == []
    h.clock.advance(3600)
    assert h.protocol.is_open
    h.transport.lose()
    await settle()


async def test_broker_proposing_no_heartbeat_arms_no_timer() -> None:
    h = connect(tune=spec.Connection.Tune(2047, 131072, 0))
    await h.protocol.opened
    assert h.clock.armed() == []
    h.transport.lose()
    await settle()


async def test_heartbeat_timeout_during_the_handshake() -> None:
    # Tune arrives (heartbeats on), OpenOk never does.
    h = connect()
    h.broker.handlers.pop(spec.Connection.Open)
    await settle()
    assert not h.protocol.opened.done()
    [timer] = h.clock.armed()
    assert timer.when() == h.protocol.core.next_deadline()
    h.clock.advance(120)
    with pytest.raises(exc.AMQPConnectionError, match="heartbeat"):
        await h.protocol.opened
    await settle()
    assert h.transport.aborted and h.transport.lost


async def test_timer_is_cancelled_when_the_connection_is_lost(harness: Harness) -> None:
    assert len(harness.clock.armed()) == 1
    harness.transport.lose()
    assert harness.clock.armed() == []
    assert harness.protocol._timer is None
