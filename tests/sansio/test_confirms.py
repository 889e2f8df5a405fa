"""Publisher confirms: delivery tags, multiple and out-of-order acks, returns."""

from __future__ import annotations

import pytest

from amqpio import spec
from amqpio.sansio import (
    ChannelClosed,
    MessageReturned,
    PublishAcked,
    PublishNacked,
    RemoteProtocolError,
)
from helpers.broker import Pair, scripted

B = spec.Basic


def confirming(pair: Pair, publishes: int) -> list[int | None]:
    pair.handshake()
    pair.open_channel()
    assert pair.conn.send_method(1, spec.Confirm.Select()) is not None
    pair.recv(pair.broker.method(1, spec.Confirm.SelectOk()))
    tags = [pair.conn.publish(1, "", "q", b"%d" % i) for i in range(publishes)]
    pair.sent()
    return tags


@scripted
def test_tags_count_from_one_in_confirm_mode(pair: Pair) -> None:
    pair.handshake()
    pair.open_channel()
    assert pair.conn.publish(1, "", "q", b"before") is None
    pair.conn.send_method(1, spec.Confirm.Select())
    # publishes made after the select are counted even before SelectOk
    assert pair.conn.publish(1, "", "q", b"a") == 1
    pair.recv(pair.broker.method(1, spec.Confirm.SelectOk()))
    assert pair.conn.publish(1, "", "q", b"b") == 2


@scripted
def test_multiple_ack_expands_to_each_tag(pair: Pair) -> None:
    assert confirming(pair, 5) == [1, 2, 3, 4, 5]
    assert pair.recv(pair.broker.method(1, B.Ack(3, multiple=True))) == [
        PublishAcked(1, 1),
        PublishAcked(1, 2),
        PublishAcked(1, 3),
    ]
    assert pair.recv(pair.broker.method(1, B.Nack(5, multiple=True))) == [
        PublishNacked(1, 4),
        PublishNacked(1, 5),
    ]


@scripted
def test_out_of_order_acks(pair: Pair) -> None:
    confirming(pair, 6)
    events = pair.recv(
        pair.broker.method(1, B.Ack(4)),
        pair.broker.method(1, B.Nack(2)),
        pair.broker.method(1, B.Ack(5, multiple=True)),
        pair.broker.method(1, B.Ack(6)),
    )
    assert events == [
        PublishAcked(1, 4),
        PublishNacked(1, 2),
        PublishAcked(1, 1),
        PublishAcked(1, 3),
        PublishAcked(1, 5),
        PublishAcked(1, 6),
    ]
    # everything is settled: a later multiple covering old tags adds nothing
    assert pair.recv(pair.broker.method(1, B.Ack(6, multiple=True))) == []


@scripted
def test_multiple_with_tag_zero_covers_all(pair: Pair) -> None:
    confirming(pair, 3)
    assert pair.recv(pair.broker.method(1, B.Ack(0, multiple=True))) == [
        PublishAcked(1, 1),
        PublishAcked(1, 2),
        PublishAcked(1, 3),
    ]


@scripted
def test_returned_mandatory_message_then_its_ack(pair: Pair) -> None:
    confirming(pair, 1)
    ret = B.Return(312, "NO_ROUTE", "", "q")
    events = pair.recv(
        pair.broker.content(1, ret, b"0"), pair.broker.method(1, B.Ack(1))
    )
    assert events == [
        MessageReturned(1, ret, spec.BasicProperties(), b"0"),
        PublishAcked(1, 1),
    ]


@pytest.mark.parametrize(
    "method",
    [B.Ack(9), B.Ack(9, multiple=True), B.Nack(0)],
)
def test_confirm_of_unpublished_tag_is_a_remote_error(method: spec.Method) -> None:
    pair = Pair()
    confirming(pair, 2)
    with pytest.raises(RemoteProtocolError) as info:
        pair.recv(pair.broker.method(1, method))
    assert info.value.reply_code == 503


def test_duplicate_single_ack_is_a_remote_error() -> None:
    pair = Pair()
    confirming(pair, 2)
    pair.recv(pair.broker.method(1, B.Ack(2)))
    with pytest.raises(RemoteProtocolError):
        pair.recv(pair.broker.method(1, B.Ack(2)))


@scripted
def test_ack_without_confirm_mode_is_a_remote_error(pair: Pair) -> None:
    pair.handshake()
    pair.open_channel()
    with pytest.raises(RemoteProtocolError) as info:
        pair.recv(pair.broker.method(1, B.Ack(1)))
    assert (info.value.reply_code, info.value.class_id, info.value.method_id) == (
        503,
        60,
        80,
    )


@scripted
def test_channel_close_reports_unconfirmed_tags(pair: Pair) -> None:
    confirming(pair, 4)
    pair.recv(pair.broker.method(1, B.Ack(1)), pair.broker.method(1, B.Ack(3)))
    events = pair.recv(pair.broker.method(1, spec.Channel.Close(406, "x", 60, 40)))
    assert events == [ChannelClosed(1, 406, "x", 60, 40, True, (), (2, 4))]
