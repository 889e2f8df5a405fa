"""Connection level: blocking, closes, update-secret, heartbeats, frame faults."""

from __future__ import annotations

import pytest

from amqpio import spec
from amqpio.sansio import (
    ConnectionBlocked,
    ConnectionClosed,
    ConnectionLost,
    ConnectionState,
    ConnectionUnblocked,
    HeartbeatTimedOut,
    LocalProtocolError,
    RemoteProtocolError,
    SecretUpdated,
)
from helpers.broker import FRAME_METHOD, FakeBroker, Heartbeat, Pair, scripted

K = spec.Connection


@scripted
def test_blocked_and_unblocked(pair: Pair) -> None:
    pair.handshake()
    assert pair.recv(pair.broker.method(0, K.Blocked("low on memory"))) == [
        ConnectionBlocked("low on memory")
    ]
    assert pair.conn.blocked
    assert pair.recv(pair.broker.method(0, K.Unblocked())) == [ConnectionUnblocked()]
    assert not pair.conn.blocked


@scripted
def test_broker_close_is_answered(pair: Pair) -> None:
    pair.handshake()
    pair.open_channel()
    events = pair.recv(pair.broker.method(0, K.Close(320, "CONNECTION_FORCED", 0, 0)))
    assert events == [ConnectionClosed(320, "CONNECTION_FORCED", 0, 0, True)]
    assert pair.methods() == [(0, K.CloseOk())]
    assert pair.conn.state is ConnectionState.CLOSED
    assert pair.conn.channel_ids == ()
    with pytest.raises(LocalProtocolError):
        pair.conn.publish(1, "", "q", b"")
    assert pair.conn.receive_eof() == []


@scripted
def test_client_close_handshake(pair: Pair) -> None:
    pair.handshake()
    pair.open_channel()
    pair.conn.close(200, "bye")
    assert pair.methods() == [(0, K.Close(200, "bye", 0, 0))]
    with pytest.raises(LocalProtocolError):
        pair.conn.close()
    with pytest.raises(LocalProtocolError):
        pair.conn.open_channel()
    # spec: while closing, everything but Close/CloseOk is discarded
    events = pair.recv(
        pair.broker.content(1, spec.Basic.Deliver("c", 1), b"late"),
        pair.broker.method(0, K.Blocked("x")),
        pair.broker.method(1, spec.Basic.Ack(1)),
        pair.broker.method(0, K.CloseOk()),
    )
    assert events == [ConnectionClosed(200, "bye", 0, 0, False)]
    assert pair.conn.state is ConnectionState.CLOSED
    assert pair.sent() == []


@scripted
def test_close_crossing_the_brokers_close(pair: Pair) -> None:
    pair.handshake()
    pair.conn.close()
    pair.sent()
    events = pair.recv(
        pair.broker.method(0, K.Close(320, "shutdown", 0, 0)),
        pair.broker.method(0, K.CloseOk()),
    )
    assert events == [ConnectionClosed(320, "shutdown", 0, 0, True)]
    assert pair.methods() == [(0, K.CloseOk())]


def test_eof_while_open_and_while_closing() -> None:
    pair = Pair()
    pair.handshake()
    assert pair.conn.receive_eof() == [ConnectionLost(False, False, False)]
    pair = Pair()
    pair.handshake()
    pair.conn.close()
    assert pair.conn.receive_eof() == [ConnectionLost(False, False, False)]


@scripted
def test_update_secret(pair: Pair) -> None:
    pair.handshake()
    pair.conn.update_secret(b"token", "refresh")
    assert pair.methods() == [(0, K.UpdateSecret(b"token", "refresh"))]
    assert pair.recv(pair.broker.method(0, K.UpdateSecretOk())) == [SecretUpdated()]
    with pytest.raises(RemoteProtocolError):
        pair.recv(pair.broker.method(0, K.UpdateSecretOk()))


@pytest.mark.parametrize(
    ("data", "code", "readable"),
    [
        # readable: the frame stream is intact, so a later CloseOk is seen
        (FakeBroker.frame(FRAME_METHOD, 0, b"\x00\x0a\x00\x63"), 501, True),
        (FakeBroker.frame(FRAME_METHOD, 0, b"\x00\x0a"), 501, True),
        (FakeBroker.frame(9, 0, b""), 501, False),  # unknown frame type
        (b"\x00" * 8, 501, False),  # frame type 0
        (FakeBroker.method(0, K.OpenOk())[:-1] + b"\x00", 501, False),
        (FakeBroker.heartbeat(3), 501, True),
        (FakeBroker.method(0, spec.Basic.Qos()), 503, True),
        (FakeBroker.method(0, K.Tune()), 503, True),
        (FakeBroker.method(0, K.StartOk()), 503, True),
        (FakeBroker.method(1, K.Close()), 503, True),
    ],
)
def test_remote_faults_queue_connection_close(
    data: bytes, code: int, readable: bool
) -> None:
    pair = Pair()
    pair.handshake()
    pair.open_channel()
    with pytest.raises(RemoteProtocolError) as info:
        pair.recv(data)
    assert info.value.reply_code == code
    [(channel, close)] = pair.methods()
    assert channel == 0 and isinstance(close, K.Close)
    assert (close.reply_code, close.class_id, close.method_id) == (
        code,
        info.value.class_id,
        info.value.method_id,
    )
    assert pair.conn.state is ConnectionState.CLOSING
    # the connection then only waits for CloseOk
    events = pair.recv(pair.broker.method(0, K.CloseOk()))
    if readable:
        assert events == [
            ConnectionClosed(
                code, close.reply_text, close.class_id, close.method_id, False
            )
        ]
        assert pair.conn.state is ConnectionState.CLOSED
    else:
        assert events == []
        assert pair.conn.state is ConnectionState.CLOSING


@scripted
def test_events_before_a_fault_are_kept(pair: Pair) -> None:
    pair.handshake()
    with pytest.raises(RemoteProtocolError) as info:
        pair.recv(
            pair.broker.method(0, K.Blocked("a")),
            pair.broker.method(0, K.Unblocked()),
            pair.broker.method(0, K.Tune()),
        )
    assert info.value.events == [ConnectionBlocked("a"), ConnectionUnblocked()]


def test_illegal_commands_change_nothing() -> None:
    pair = Pair()
    with pytest.raises(LocalProtocolError):
        pair.conn.close()
    with pytest.raises(LocalProtocolError):
        pair.conn.update_secret(b"", "")
    pair.conn.initiate()
    with pytest.raises(LocalProtocolError):
        pair.conn.initiate()
    assert pair.conn.state is ConnectionState.START_WAIT
    with pytest.raises(ValueError):
        Pair().conn.close(200, "x" * 300)


# -- heartbeats --------------------------------------------------------------


def heartbeat_pair(beat: int = 10) -> Pair:
    pair = Pair()
    pair.conn.initiate()
    pair.recv(pair.broker.method(0, K.Start()), now=0.0)
    pair.recv(pair.broker.method(0, K.Tune(0, 0, beat)), now=1.0)
    pair.recv(pair.broker.method(0, K.OpenOk()), now=1.5)
    pair.sent()
    return pair


def test_heartbeat_deadlines_follow_now() -> None:
    pair = heartbeat_pair(10)
    # TuneOk/Open went out at 1.0, last bytes in at 1.5
    assert pair.conn.next_deadline() == 6.0  # send: 1.0 + 10 / 2
    assert pair.conn.handle_timer(6.0) == []
    assert pair.sent() == [Heartbeat()]
    assert pair.conn.next_deadline() == 11.0
    # inbound traffic pushes the "peer dead" deadline
    pair.recv(pair.broker.heartbeat(), now=9.0)
    assert pair.conn.next_deadline() == 11.0
    assert pair.conn.handle_timer(11.0) == []
    assert pair.sent() == [Heartbeat()]
    assert pair.conn.next_deadline() == 16.0


def test_outbound_traffic_postpones_the_heartbeat() -> None:
    pair = heartbeat_pair(10)
    pair.conn.open_channel()
    assert pair.conn.handle_timer(6.0) == []  # the command's bytes count as sent
    assert [type(x) for x in pair.sent()] == [tuple]
    assert pair.conn.next_deadline() == 11.0


def test_mark_sent_dates_the_bytes_written() -> None:
    pair = heartbeat_pair(10)
    pair.conn.open_channel()
    pair.sent()
    pair.conn.mark_sent(4.0)
    assert pair.conn.next_deadline() == 9.0  # 4.0 + 10 / 2
    # nothing new was queued: a later mark moves nothing
    pair.conn.mark_sent(5.0)
    assert pair.conn.next_deadline() == 9.0
    assert pair.conn.handle_timer(9.0) == []
    assert pair.sent() == [Heartbeat()]


def test_silent_peer_times_out() -> None:
    pair = heartbeat_pair(10)
    for now in (6.0, 11.0, 16.0):
        assert pair.conn.handle_timer(now) == []
    assert pair.conn.next_deadline() == 21.0  # 1.5 + 2 * 10 = 21.5, send at 21
    pair.conn.handle_timer(21.0)
    assert pair.conn.next_deadline() == 21.5
    assert pair.conn.handle_timer(21.5) == [HeartbeatTimedOut(1.5)]
    assert pair.conn.state is ConnectionState.CLOSED
    assert pair.conn.next_deadline() is None


def test_heartbeat_zero_disables_the_timer() -> None:
    pair = heartbeat_pair(0)
    assert pair.conn.next_deadline() is None
    assert pair.conn.handle_timer(1e9) == []
    assert pair.sent() == []


def test_no_timer_before_tune() -> None:
    pair = Pair()
    pair.conn.initiate()
    assert pair.conn.next_deadline() is None
    assert pair.conn.handle_timer(100.0) == []


@scripted
def test_heartbeats_from_the_broker_produce_no_events(pair: Pair) -> None:
    pair.handshake()
    assert pair.recv(pair.broker.heartbeat(), pair.broker.heartbeat()) == []
