"""Channels: open/close in both directions, numbering, flow."""

from __future__ import annotations

import pytest

from amqpio import spec
from amqpio.sansio import (
    ChannelClosed,
    ChannelFlowChanged,
    ChannelOpened,
    ChannelState,
    ConnectionConfig,
    LocalProtocolError,
    RemoteProtocolError,
)
from helpers.broker import Pair, scripted

C = spec.Channel


@scripted
def test_open_and_client_close(pair: Pair) -> None:
    pair.handshake()
    ch = pair.conn.open_channel()
    assert ch == 1
    assert pair.methods() == [(1, C.Open())]
    assert pair.conn.channel(1) is not None
    assert pair.conn.channel(1).state is ChannelState.OPENING  # type: ignore[union-attr]
    assert pair.recv(pair.broker.method(1, C.OpenOk())) == [ChannelOpened(1)]
    pair.conn.close_channel(1)
    assert pair.methods() == [(1, C.Close(200, "", 0, 0))]
    with pytest.raises(LocalProtocolError):
        pair.conn.publish(1, "", "q", b"x")
    assert pair.recv(pair.broker.method(1, C.CloseOk())) == [
        ChannelClosed(1, 200, "", 0, 0, False)
    ]
    assert pair.conn.channel_ids == ()


@scripted
def test_broker_close_is_answered_and_reported(pair: Pair) -> None:
    pair.handshake()
    pair.open_channel()
    rid = pair.conn.send_method(1, spec.Queue.Declare("q", passive=True))
    pair.sent()
    text = "NOT_FOUND - no queue 'q' in vhost '/'"
    events = pair.recv(pair.broker.method(1, C.Close(404, text, 50, 10)))
    assert events == [ChannelClosed(1, 404, text, 50, 10, True, (rid,), ())]  # type: ignore[arg-type]
    assert pair.methods() == [(1, C.CloseOk())]
    assert pair.conn.channel_ids == ()
    # the number is free again
    assert pair.conn.open_channel() == 1


@scripted
def test_broker_close_while_opening(pair: Pair) -> None:
    pair.handshake()
    pair.conn.open_channel()
    pair.sent()
    events = pair.recv(pair.broker.method(1, C.Close(530, "no", 20, 10)))
    assert events == [ChannelClosed(1, 530, "no", 20, 10, True)]
    assert pair.methods() == [(1, C.CloseOk())]


@scripted
def test_simultaneous_close_reports_the_broker_reason(pair: Pair) -> None:
    pair.handshake()
    pair.open_channel()
    pair.conn.close_channel(1)
    pair.sent()
    assert pair.recv(pair.broker.method(1, C.Close(406, "bad", 60, 40))) == []
    assert pair.methods() == [(1, C.CloseOk())]
    assert pair.recv(pair.broker.method(1, C.CloseOk())) == [
        ChannelClosed(1, 406, "bad", 60, 40, True)
    ]


@scripted
def test_closing_channel_discards_other_frames(pair: Pair) -> None:
    pair.handshake()
    pair.open_channel()
    rid = pair.conn.send_method(1, spec.Basic.Qos(prefetch_count=5))
    pair.conn.close_channel(1)
    pair.sent()
    events = pair.recv(
        pair.broker.method(1, spec.Basic.QosOk()),
        pair.broker.content(1, spec.Basic.Deliver("c", 1), b"body"),
        pair.broker.method(1, C.Flow(False)),
        pair.broker.method(1, C.CloseOk()),
    )
    assert events == [ChannelClosed(1, 200, "", 0, 0, False, (rid,), ())]  # type: ignore[arg-type]
    assert pair.sent() == []


@scripted
def test_close_while_opening_discards_open_ok(pair: Pair) -> None:
    pair.handshake()
    pair.conn.open_channel()
    pair.conn.close_channel(1)
    pair.sent()
    events = pair.recv(
        pair.broker.method(1, C.OpenOk()), pair.broker.method(1, C.CloseOk())
    )
    assert events == [ChannelClosed(1, 200, "", 0, 0, False)]


def test_channel_numbers_are_lowest_free_and_bounded() -> None:
    pair = Pair(ConnectionConfig(channel_max=3))
    pair.handshake()
    assert [pair.conn.open_channel() for _ in range(3)] == [1, 2, 3]
    with pytest.raises(LocalProtocolError):
        pair.conn.open_channel()
    pair.sent()
    pair.conn.close_channel(2)
    # still allocated until CloseOk
    with pytest.raises(LocalProtocolError):
        pair.conn.open_channel(2)
    pair.recv(pair.broker.method(2, C.CloseOk()))
    assert pair.conn.open_channel() == 2


def test_explicit_channel_numbers() -> None:
    pair = Pair(ConnectionConfig(channel_max=10))
    pair.handshake()
    assert pair.conn.open_channel(7) == 7
    with pytest.raises(LocalProtocolError):
        pair.conn.open_channel(7)
    for bad in (0, 11):
        with pytest.raises(ValueError):
            pair.conn.open_channel(bad)


@scripted
def test_flow_from_broker_is_answered(pair: Pair) -> None:
    pair.handshake()
    pair.open_channel()
    assert pair.recv(pair.broker.method(1, C.Flow(False))) == [
        ChannelFlowChanged(1, False)
    ]
    assert pair.methods() == [(1, C.FlowOk(False))]
    with pytest.raises(LocalProtocolError):
        pair.conn.publish(1, "", "q", b"x")
    assert pair.recv(pair.broker.method(1, C.Flow(True))) == [
        ChannelFlowChanged(1, True)
    ]
    assert pair.methods() == [(1, C.FlowOk(True))]
    assert pair.conn.publish(1, "", "q", b"x") is None


@scripted
def test_frame_on_unopened_channel_is_channel_error(pair: Pair) -> None:
    pair.handshake()
    with pytest.raises(RemoteProtocolError) as info:
        pair.recv(pair.broker.method(5, spec.Basic.Ack(1)))
    assert info.value.reply_code == 504
    assert pair.methods()[0][1].reply_code == 504  # type: ignore[attr-defined]


@scripted
def test_content_on_opening_channel_is_channel_error(pair: Pair) -> None:
    pair.handshake()
    pair.conn.open_channel()
    with pytest.raises(RemoteProtocolError) as info:
        pair.recv(pair.broker.content(1, spec.Basic.Deliver("c", 1), b"x"))
    assert info.value.reply_code == 504


@scripted
def test_unexpected_channel_method_is_command_invalid(pair: Pair) -> None:
    pair.handshake()
    pair.open_channel()
    with pytest.raises(RemoteProtocolError) as info:
        pair.recv(pair.broker.method(1, C.OpenOk()))
    assert (info.value.reply_code, info.value.class_id, info.value.method_id) == (
        503,
        20,
        11,
    )


def test_channel_commands_need_an_open_connection() -> None:
    pair = Pair()
    pair.conn.initiate()
    with pytest.raises(LocalProtocolError):
        pair.conn.open_channel()
    with pytest.raises(LocalProtocolError):
        pair.conn.publish(1, "", "", b"")
    pair2 = Pair()
    pair2.handshake()
    for command in (
        lambda: pair2.conn.close_channel(1),
        lambda: pair2.conn.send_method(1, spec.Basic.Qos()),
        lambda: pair2.conn.publish(1, "", "", b""),
        lambda: pair2.conn.ack(1, 1),
    ):
        with pytest.raises(LocalProtocolError):
            command()


def test_commands_on_an_opening_channel_are_refused() -> None:
    pair = Pair()
    pair.handshake()
    pair.conn.open_channel()
    pair.sent()
    with pytest.raises(LocalProtocolError):
        pair.conn.send_method(1, spec.Basic.Qos())
    with pytest.raises(LocalProtocolError):
        pair.conn.publish(1, "", "", b"")
    assert pair.sent() == []
