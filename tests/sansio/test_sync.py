"""Synchronous requests: one outstanding per channel, FIFO, no_wait, replies."""

from __future__ import annotations

import pytest

from amqpio import spec
from amqpio.sansio import (
    ConsumerCancelled,
    DeliveryReceived,
    LocalProtocolError,
    RemoteProtocolError,
    ReplyReceived,
)
from helpers.broker import Pair, Published, scripted

B = spec.Basic
Q = spec.Queue
E = spec.Exchange


@scripted
def test_requests_wait_their_turn_in_fifo_order(pair: Pair) -> None:
    pair.handshake()
    pair.open_channel()
    declare = Q.Declare("a")
    bind = Q.Bind("a", "ex", "rk")
    delete = E.Delete("old")
    r1 = pair.conn.send_method(1, declare)
    r2 = pair.conn.send_method(1, bind)
    r3 = pair.conn.send_method(1, delete)
    assert (r1, r2, r3) == (1, 2, 3)
    # only the first is on the wire
    assert pair.methods() == [(1, declare)]
    ok1 = Q.DeclareOk("a", 0, 0)
    assert pair.recv(pair.broker.method(1, ok1)) == [ReplyReceived(1, 1, declare, ok1)]
    assert pair.methods() == [(1, bind)]
    assert pair.recv(pair.broker.method(1, Q.BindOk())) == [
        ReplyReceived(1, 2, bind, Q.BindOk())
    ]
    assert pair.methods() == [(1, delete)]
    assert pair.recv(pair.broker.method(1, E.DeleteOk())) == [
        ReplyReceived(1, 3, delete, E.DeleteOk())
    ]
    assert pair.sent() == []


@scripted
def test_later_commands_are_held_behind_a_waiting_request(pair: Pair) -> None:
    pair.handshake()
    pair.open_channel()
    pair.conn.send_method(1, Q.Declare("a"))
    pair.conn.send_method(1, Q.Bind("a", "ex", "rk"))
    pair.conn.publish(1, "ex", "rk", b"after-bind")
    pair.conn.ack(1, 9)
    pair.sent()
    pair.recv(pair.broker.method(1, Q.DeclareOk("a")))
    assert pair.methods() == [(1, Q.Bind("a", "ex", "rk"))]
    pair.recv(pair.broker.method(1, Q.BindOk()))
    out = pair.sent()
    assert [type(x) for x in out] == [Published, tuple]
    assert out[1] == (1, B.Ack(9))


@scripted
def test_requests_on_different_channels_are_independent(pair: Pair) -> None:
    pair.handshake()
    pair.open_channel()
    pair.open_channel()
    r1 = pair.conn.send_method(1, B.Qos(prefetch_count=1))
    r2 = pair.conn.send_method(2, B.Qos(prefetch_count=2))
    assert len(pair.methods()) == 2
    events = pair.recv(
        pair.broker.method(2, B.QosOk()), pair.broker.method(1, B.QosOk())
    )
    assert [(e.channel_id, e.request_id) for e in events] == [(2, r2), (1, r1)]  # type: ignore[attr-defined]


@scripted
def test_no_wait_requests_complete_locally(pair: Pair) -> None:
    pair.handshake()
    pair.open_channel()
    assert pair.conn.send_method(1, Q.Declare("q", no_wait=True)) is None
    assert pair.conn.send_method(1, B.Consume("q", "tag", no_wait=True)) is None
    assert pair.conn.channel(1).consumers == {"tag"}  # type: ignore[union-attr]
    assert pair.conn.send_method(1, B.Cancel("tag", no_wait=True)) is None
    assert pair.conn.channel(1).consumers == set()  # type: ignore[union-attr]
    assert [m for _, m in pair.methods()] == [
        Q.Declare("q", no_wait=True),
        B.Consume("q", "tag", no_wait=True),
        B.Cancel("tag", no_wait=True),
    ]
    with pytest.raises(ValueError):
        pair.conn.send_method(1, B.Consume("q", "", no_wait=True))


@scripted
def test_reply_without_request_is_a_remote_error(pair: Pair) -> None:
    pair.handshake()
    pair.open_channel()
    with pytest.raises(RemoteProtocolError) as info:
        pair.recv(pair.broker.method(1, Q.DeclareOk("q")))
    assert (info.value.reply_code, info.value.class_id, info.value.method_id) == (
        503,
        50,
        11,
    )
    assert pair.methods() == [(0, spec.Connection.Close(503, info.value.text, 50, 11))]


@scripted
def test_wrong_reply_is_a_remote_error(pair: Pair) -> None:
    pair.handshake()
    pair.open_channel()
    pair.conn.send_method(1, Q.Declare("q"))
    pair.sent()
    with pytest.raises(RemoteProtocolError) as info:
        pair.recv(pair.broker.method(1, Q.BindOk()))
    assert info.value.reply_code == 503
    assert "awaiting Queue.DeclareOk" in info.value.text


@scripted
def test_consumer_registry_and_server_cancel(pair: Pair) -> None:
    pair.handshake()
    pair.open_channel()
    consume = B.Consume("q")
    rid = pair.conn.send_method(1, consume)
    pair.sent()
    assert pair.recv(pair.broker.method(1, B.ConsumeOk("amq.ctag-1"))) == [
        ReplyReceived(1, rid, consume, B.ConsumeOk("amq.ctag-1"))  # type: ignore[arg-type]
    ]
    assert pair.conn.channel(1).consumers == {"amq.ctag-1"}  # type: ignore[union-attr]
    events = pair.recv(pair.broker.method(1, B.Cancel("amq.ctag-1")))
    assert events == [ConsumerCancelled(1, "amq.ctag-1")]
    assert pair.methods() == [(1, B.CancelOk("amq.ctag-1"))]
    assert pair.conn.channel(1).consumers == set()  # type: ignore[union-attr]
    # with no_wait the broker expects no answer
    assert pair.recv(pair.broker.method(1, B.Cancel("other", no_wait=True))) == [
        ConsumerCancelled(1, "other")
    ]
    assert pair.sent() == []


@scripted
def test_client_cancel(pair: Pair) -> None:
    pair.handshake()
    pair.open_channel()
    pair.conn.send_method(1, B.Consume("q", "t"))
    pair.recv(pair.broker.method(1, B.ConsumeOk("t")))
    rid = pair.conn.send_method(1, B.Cancel("t"))
    pair.sent()
    events = pair.recv(pair.broker.method(1, B.CancelOk("t")))
    assert events == [ReplyReceived(1, rid, B.Cancel("t"), B.CancelOk("t"))]  # type: ignore[arg-type]
    assert pair.conn.channel(1).consumers == set()  # type: ignore[union-attr]


@scripted
def test_basic_get(pair: Pair) -> None:
    pair.handshake()
    pair.open_channel()
    get = B.Get("q")
    r1 = pair.conn.send_method(1, get)
    r2 = pair.conn.send_method(1, get)
    assert pair.methods() == [(1, get)]
    ok = B.GetOk(5, False, "", "q", 3)
    props = spec.BasicProperties(content_type="text/plain")
    events = pair.recv(pair.broker.content(1, ok, b"hello", props))
    assert events == [DeliveryReceived(1, ok, props, b"hello", r1)]
    assert pair.methods() == [(1, get)]
    assert pair.recv(pair.broker.method(1, B.GetEmpty())) == [
        ReplyReceived(1, r2, get, B.GetEmpty())  # type: ignore[arg-type]
    ]


@scripted
def test_recover_is_answered_by_recover_ok(pair: Pair) -> None:
    # The XML omits recover-ok from Basic.Recover's responses; RabbitMQ sends it.
    pair.handshake()
    pair.open_channel()
    rid = pair.conn.send_method(1, B.Recover(requeue=True))
    assert rid is not None
    pair.sent()
    assert pair.recv(pair.broker.method(1, B.RecoverOk())) == [
        ReplyReceived(1, rid, B.Recover(True), B.RecoverOk())
    ]
    assert pair.conn.send_method(1, B.RecoverAsync(True)) is None


@scripted
def test_transactions(pair: Pair) -> None:
    pair.handshake()
    pair.open_channel()
    ids = [
        pair.conn.send_method(1, m)
        for m in (spec.Tx.Select(), spec.Tx.Commit(), spec.Tx.Rollback())
    ]
    pair.sent()
    events = pair.recv(
        pair.broker.method(1, spec.Tx.SelectOk()),
        pair.broker.method(1, spec.Tx.CommitOk()),
        pair.broker.method(1, spec.Tx.RollbackOk()),
    )
    assert [e.request_id for e in events] == ids  # type: ignore[attr-defined]
    with pytest.raises(LocalProtocolError):
        pair.conn.send_method(1, spec.Confirm.Select())


def test_tx_select_refused_in_confirm_mode() -> None:
    pair = Pair()
    pair.handshake()
    pair.open_channel()
    pair.conn.send_method(1, spec.Confirm.Select(no_wait=True))
    with pytest.raises(LocalProtocolError):
        pair.conn.send_method(1, spec.Tx.Select())


@pytest.mark.parametrize(
    "method",
    [
        spec.Channel.Open(),
        spec.Channel.Close(),
        spec.Channel.FlowOk(),
        B.Publish(),
        spec.Connection.UpdateSecret(),
        spec.Connection.Close(),
        B.Deliver(),
        Q.DeclareOk(),
    ],
)
def test_send_method_refuses_methods_with_own_commands(method: spec.Method) -> None:
    pair = Pair()
    pair.handshake()
    pair.open_channel()
    with pytest.raises(ValueError):
        pair.conn.send_method(1, method)
    assert pair.sent() == []


@scripted
def test_client_flow_request(pair: Pair) -> None:
    pair.handshake()
    pair.open_channel()
    rid = pair.conn.send_method(1, spec.Channel.Flow(False))
    pair.sent()
    assert pair.recv(pair.broker.method(1, spec.Channel.FlowOk(False))) == [
        ReplyReceived(1, rid, spec.Channel.Flow(False), spec.Channel.FlowOk(False))  # type: ignore[arg-type]
    ]


@scripted
def test_client_acks(pair: Pair) -> None:
    pair.handshake()
    pair.open_channel()
    pair.conn.ack(1, 3)
    pair.conn.ack(1, 5, multiple=True)
    pair.conn.nack(1, 6, requeue=False)
    pair.conn.nack(1, 8, multiple=True)
    pair.conn.reject(1, 9)
    assert [m for _, m in pair.methods()] == [
        B.Ack(3),
        B.Ack(5, True),
        B.Nack(6, False, False),
        B.Nack(8, True, True),
        B.Reject(9, True),
    ]
