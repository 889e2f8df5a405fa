"""Edges of the core that a first mutation-testing pass found unchecked: the
exact errors of stray content and bad confirms, the ids a close carries, the
truncation of a close text, heartbeat timing and accounting, the settled-tag
bookkeeping of confirms, bytes held by a channel. Frames are built by hand
from the spec's layout (type, channel, size, payload, 0xCE)."""

from __future__ import annotations

import struct
import uuid

import pytest

from amqpio import spec
from amqpio.sansio import (
    ChannelClosed,
    LocalProtocolError,
    PublishAcked,
    RemoteProtocolError,
)
from amqpio.sansio.channel import _PUBLISH_CACHE, _PUBLISH_CACHE_SIZE
from amqpio.sansio.content import ContentAssembler
from amqpio.sansio.states import ChannelInput, ChannelState, InvalidTransition
from helpers.broker import Pair, Published

B = spec.Basic
C = spec.Connection
HEARTBEAT = b"\x08\x00\x00\x00\x00\x00\x00\xce"


def frame(kind: int, channel: int, payload: bytes) -> bytes:
    return struct.pack(">BHI", kind, channel, len(payload)) + payload + b"\xce"


def header(channel: int, body_size: int) -> bytes:
    return frame(2, channel, struct.pack(">HHQH", 60, 0, body_size, 0))


def opened(heartbeat: int = 60) -> Pair:
    pair = Pair()
    pair.handshake(C.Tune(2047, 131072, heartbeat))
    pair.sent()
    pair.open_channel()
    return pair


def confirming(publishes: int) -> Pair:
    pair = opened()
    pair.conn.send_method(1, spec.Confirm.Select())
    pair.recv(pair.broker.method(1, spec.Confirm.SelectOk()))
    for i in range(publishes):
        pair.conn.publish(1, "", "q", b"%d" % i)
    pair.sent()
    return pair


# -- stray content -------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "what"),
    [(header(1, 3), "content header"), (frame(3, 1, b"abc"), "content body")],
)
def test_content_on_a_channel_not_open_yet_is_a_channel_error(
    data: bytes, what: str
) -> None:
    pair = Pair()
    pair.handshake()
    pair.sent()
    pair.conn.open_channel(1)  # no Channel.OpenOk yet
    with pytest.raises(RemoteProtocolError) as info:
        pair.recv(data)
    error = info.value
    assert (error.class_id, error.method_id) == (0, 0)
    assert error.text == f"channel 1: {what} while opening"


@pytest.mark.parametrize(
    ("data", "what"),
    [(header(1, 3), "header"), (frame(3, 1, b"abc"), "body")],
)
def test_content_without_its_method_is_an_unexpected_frame(
    data: bytes, what: str
) -> None:
    pair = opened()
    with pytest.raises(RemoteProtocolError) as info:
        pair.recv(data)
    error = info.value
    assert (error.reply_code, error.class_id, error.method_id) == (505, 0, 0)
    assert error.text == f"{what} on channel 1 while content state is idle"


def test_a_second_deliver_before_the_header_names_the_method() -> None:
    pair = opened()
    deliver = B.Deliver("ctag", 1, False, "", "q")
    with pytest.raises(RemoteProtocolError) as info:
        pair.recv(pair.broker.method(1, deliver), pair.broker.method(1, deliver))
    error = info.value
    assert (error.reply_code, error.class_id, error.method_id) == (505, 60, 60)
    assert error.text.startswith("Basic.Deliver on channel 1 while content state")


def test_a_short_content_header_is_a_frame_error() -> None:
    pair = opened()
    deliver = B.Deliver("ctag", 1, False, "", "q")
    with pytest.raises(RemoteProtocolError) as info:
        pair.recv(pair.broker.method(1, deliver), frame(2, 1, b"\x00\x3c" + b"\0" * 11))
    assert (info.value.reply_code, info.value.text) == (
        501,
        "content header shorter than 14 bytes",
    )


def test_a_single_frame_body_is_delivered_as_bytes_without_a_copy() -> None:
    assembler = ContentAssembler(1, 0)
    assembler.begin(B.Deliver("ctag", 1, False, "", "q"), None)
    assert assembler.header(struct.pack(">HHQH", 60, 0, 5, 0)) is None
    payload = b"hello"
    event = assembler.body(payload)
    assert event is not None and event.body is payload
    assembler.begin(B.Deliver("ctag", 2, False, "", "q"), None)
    assembler.header(struct.pack(">HHQH", 60, 0, 5, 0))
    view_event = assembler.body(memoryview(b"world"))  # type: ignore[arg-type]
    assert view_event is not None and type(view_event.body) is bytes
    assert view_event.body == b"world"


# -- errors carry their parts ------------------------------------------------


def test_protocol_errors_format_their_code_and_text() -> None:
    error = RemoteProtocolError(505, "bad frame", 60, 40)
    assert str(error) == "505 bad frame"
    assert error.events == []
    transition = InvalidTransition(ChannelState.OPEN, ChannelInput.OPEN)
    assert transition.input is ChannelInput.OPEN
    assert str(transition) == "'open' is not allowed in state 'open'"


# -- confirms ----------------------------------------------------------------


def test_confirm_errors_say_what_was_wrong() -> None:
    pair = opened()
    with pytest.raises(RemoteProtocolError) as info:
        pair.recv(pair.broker.method(1, B.Nack(1)))
    assert info.value.text == (
        "channel 1: Basic.Nack from the broker on a channel not in confirm mode"
    )
    pair = confirming(2)
    with pytest.raises(RemoteProtocolError) as info:
        pair.recv(pair.broker.method(1, B.Ack(5, multiple=True)))
    assert (info.value.reply_code, info.value.class_id, info.value.method_id) == (
        503,
        60,
        80,
    )
    assert info.value.text == "channel 1: Basic.Ack of unpublished delivery tag 5"
    pair = confirming(2)
    pair.recv(pair.broker.method(1, B.Ack(2)))
    with pytest.raises(RemoteProtocolError) as info:
        pair.recv(pair.broker.method(1, B.Nack(2)))
    assert (info.value.reply_code, info.value.class_id, info.value.method_id) == (
        503,
        60,
        120,
    )
    assert info.value.text == (
        "channel 1: Basic.Nack of delivery tag 2, which is not outstanding"
    )


def test_out_of_order_acks_move_the_low_mark_past_settled_tags() -> None:
    pair = confirming(5)
    events = pair.recv(
        pair.broker.method(1, B.Ack(2)),
        pair.broker.method(1, B.Ack(3)),
        pair.broker.method(1, B.Ack(1)),
    )
    assert events == [PublishAcked(1, 2), PublishAcked(1, 3), PublishAcked(1, 1)]
    closed = pair.recv(pair.broker.method(1, spec.Channel.Close(406, "x", 0, 0)))
    assert closed == [ChannelClosed(1, 406, "x", 0, 0, True, (), (4, 5))]


def test_a_multiple_ack_forgets_the_tags_it_covers() -> None:
    pair = confirming(6)
    pair.recv(pair.broker.method(1, B.Ack(3)), pair.broker.method(1, B.Ack(5)))
    events = pair.recv(pair.broker.method(1, B.Ack(4, multiple=True)))
    assert events == [PublishAcked(1, t) for t in (1, 2, 4)]
    # memory stays bounded: nothing below the low mark is remembered
    channel = pair.conn._channels[1]
    assert channel._settled == {5}
    assert pair.recv(pair.broker.method(1, B.Ack(6, multiple=True))) == [
        PublishAcked(1, 6)
    ]
    assert channel._settled == set()


def test_settling_on_a_closing_channel_is_refused() -> None:
    pair = opened()
    pair.conn.close_channel(1)
    with pytest.raises(LocalProtocolError):
        pair.conn.ack(1, 1)


# -- closes ------------------------------------------------------------------


def test_closes_carry_the_class_and_method_ids_given() -> None:
    pair = opened()
    pair.conn.close_channel(1, 406, "bad", 50, 10)
    assert pair.methods() == [(1, spec.Channel.Close(406, "bad", 50, 10))]
    pair.conn.close(320, "bye", 10, 50)
    assert pair.methods() == [(0, C.Close(320, "bye", 10, 50))]
    pair = opened()
    pair.conn.close()
    assert pair.methods() == [(0, C.Close(200, "", 0, 0))]


def test_a_protocol_error_closes_the_connection_with_its_text() -> None:
    pair = opened()
    deliver = B.Deliver("ctag", 1, False, "", "q")
    with pytest.raises(RemoteProtocolError):
        pair.recv(
            pair.broker.method(1, deliver),
            frame(2, 1, struct.pack(">HHQH", 61, 0, 1, 0)),  # class 61: not Basic
        )
    [(channel, close)] = pair.methods()
    assert channel == 0 and isinstance(close, C.Close)
    assert close.reply_text == "content header of class 61 for a Basic method"


# -- heartbeats ----------------------------------------------------------------


def test_a_heartbeat_goes_out_after_half_an_interval_of_silence() -> None:
    pair = opened(heartbeat=60)
    conn = pair.conn
    pair.recv(HEARTBEAT, now=100.0)  # the broker is alive
    conn.handle_timer(100.0)  # silent since 0: a heartbeat, sent at 100
    assert conn.data_to_send() == [HEARTBEAT]
    conn.mark_sent(100.0)  # as the driver does once it wrote them
    conn.handle_timer(125.0)
    assert conn.data_to_send() == []  # before half the interval: nothing
    conn.handle_timer(130.0)
    assert conn.bytes_to_send == len(HEARTBEAT)
    assert conn.data_to_send() == [HEARTBEAT]


# -- held bytes --------------------------------------------------------------


def test_bytes_held_by_a_channel_are_all_released_when_it_closes() -> None:
    pair = opened()
    conn = pair.conn
    conn.send_method(1, B.Qos(0, 1, False))
    conn.send_method(1, B.Qos(0, 2, False))
    conn.publish(1, "ex", "rk", b"h" * 1000)
    conn.publish(1, "ex", "rk", b"h" * 3000)
    assert conn.bytes_held > 4000
    pair.recv(pair.broker.method(1, spec.Channel.Close(406, "gone", 60, 10)))
    assert conn.bytes_held == 0


# -- publishing ----------------------------------------------------------------


@pytest.mark.parametrize("mandatory", [False, True])
@pytest.mark.parametrize("immediate", [False, True])
def test_a_publish_to_a_new_destination_carries_every_field(
    mandatory: bool, immediate: bool
) -> None:
    # fresh names: the encoded method is cached per destination, and this is
    # the path that fills the cache
    exchange, routing_key = f"ex-{uuid.uuid4().hex}", f"rk-{uuid.uuid4().hex}"
    pair = opened()
    for _ in range(2):  # encoded, then from the cache
        pair.conn.publish(1, exchange, routing_key, b"body", None, mandatory, immediate)
        [published] = [item for item in pair.sent() if isinstance(item, Published)]
        assert published.method == B.Publish(
            exchange=exchange,
            routing_key=routing_key,
            mandatory=mandatory,
            immediate=immediate,
        )
        assert published.body == b"body"


def test_the_cache_of_encoded_publishes_is_bounded() -> None:
    pair = opened()
    largest = 0
    for index in range(_PUBLISH_CACHE_SIZE + 10):
        pair.conn.publish(1, "", f"bounded-{uuid.uuid4().hex}-{index}", b"")
        pair.conn.data_to_send()
        largest = max(largest, len(_PUBLISH_CACHE))
    assert largest == _PUBLISH_CACHE_SIZE


def test_held_bytes_move_to_the_send_count_when_released() -> None:
    pair = opened()
    conn = pair.conn
    conn.send_method(1, B.Qos(0, 1, False))
    conn.send_method(1, B.Qos(0, 2, False))  # held behind the first
    conn.data_to_send()
    conn.publish(1, "ex", "rk", b"h" * 1000)
    conn.publish(1, "ex", "rk", b"h" * 2000)
    held = conn.bytes_held
    assert conn.bytes_to_send == 0 and held > 3000
    pair.recv(pair.broker.method(1, B.QosOk()))
    qos = len(pair.broker.method(1, B.Qos(0, 2, False)))
    assert conn.bytes_to_send == qos  # the second Qos goes, the rest waits
    conn.data_to_send()
    pair.recv(pair.broker.method(1, B.QosOk()))
    assert (conn.bytes_held, conn.bytes_to_send) == (0, held)
    assert sum(len(part) for part in conn.data_to_send()) == held


# -- refusals say why ----------------------------------------------------------


def test_local_refusals_say_why() -> None:
    pair = opened()
    conn = pair.conn
    with pytest.raises(ValueError, match=r"^Basic\.Publish cannot be sent with"):
        conn.send_method(1, B.Publish(0, "", "q"))
    with pytest.raises(ValueError) as value_error:
        conn.send_method(1, B.Consume(queue="q", no_wait=True))
    assert str(value_error.value) == "Basic.Consume with no_wait needs a consumer_tag"
    with pytest.raises(LocalProtocolError) as info:
        conn.ack(5, 1)
    assert str(info.value) == "channel 5 is not open"
    conn.send_method(1, spec.Tx.Select())
    pair.recv(pair.broker.method(1, spec.Tx.SelectOk()))
    with pytest.raises(LocalProtocolError) as info:
        conn.send_method(1, spec.Confirm.Select())
    assert str(info.value) == "channel 1 is transactional"
    pair.sent()
    pair.open_channel(2)
    conn.send_method(2, spec.Confirm.Select())
    pair.recv(pair.broker.method(2, spec.Confirm.SelectOk()))
    with pytest.raises(LocalProtocolError) as info:
        conn.send_method(2, spec.Tx.Select())
    assert str(info.value) == "channel 2 is in confirm mode"
    pair.recv(pair.broker.method(1, spec.Channel.Flow(False)))
    pair.sent()
    with pytest.raises(LocalProtocolError) as info:
        conn.publish(1, "", "q", b"")
    assert str(info.value) == "channel 1: flow is paused"


def test_channel_numbers_up_to_channel_max() -> None:
    pair = Pair()
    pair.handshake(C.Tune(3, 131072, 0))
    pair.sent()
    conn = pair.conn
    assert conn.open_channel(3) == 3
    with pytest.raises(ValueError) as value_error:
        conn.open_channel(4)
    assert str(value_error.value) == "channel number must be between 1 and 3"
    assert conn.open_channel() == 1
    assert conn.open_channel() == 2
    with pytest.raises(LocalProtocolError) as info:
        conn.open_channel()
    assert str(info.value) == "all 3 channels are in use"


def test_channel_commands_after_the_connection_closed_are_refused() -> None:
    pair = opened()
    pair.conn.close()
    pair.recv(pair.broker.method(0, C.CloseOk()))
    with pytest.raises(LocalProtocolError, match="not allowed in state"):
        pair.conn.ack(1, 1)


@pytest.mark.parametrize(
    ("request_", "expected"),
    [(None, "nothing"), (B.Get("q"), "Basic.GetOk or Basic.GetEmpty")],
)
def test_an_unexpected_reply_names_what_was_awaited(
    request_: spec.Method | None, expected: str
) -> None:
    pair = opened()
    if request_ is not None:
        pair.conn.send_method(1, request_)
    with pytest.raises(RemoteProtocolError) as info:
        pair.recv(pair.broker.method(1, spec.Queue.DeclareOk("q", 0, 0)))
    assert info.value.reply_code == 503
    assert info.value.text == (
        f"channel 1: unexpected Queue.DeclareOk, awaiting {expected}"
    )
