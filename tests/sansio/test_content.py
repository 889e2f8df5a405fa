"""Content: publish framing, delivery assembly and content-sequence faults."""

from __future__ import annotations

import datetime

import pytest

from amqpio import spec
from amqpio.sansio import (
    ConnectionConfig,
    DeliveryReceived,
    MessageReturned,
    RemoteProtocolError,
)
from helpers.broker import (
    FRAME_BODY,
    FRAME_HEADER,
    FakeBroker,
    Pair,
    Published,
    scripted,
)

B = spec.Basic
PROPS = spec.BasicProperties(
    content_type="application/json",
    headers={"x": 1, "nested": {"a": [1, "b"]}},
    delivery_mode=2,
    message_id="m-1",
    timestamp=datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone.utc),
)


def opened(config: ConnectionConfig | None = None, frame_max: int = 4096) -> Pair:
    pair = Pair(config)
    pair.handshake(tune=spec.Connection.Tune(2047, frame_max, 0))
    pair.open_channel()
    return pair


@pytest.mark.parametrize("size", [0, 1, 4088, 4089, 3 * 4088, 100_000])
def test_publish_splits_bodies_at_frame_max(size: int) -> None:
    pair = opened()
    body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    assert pair.conn.publish(1, "ex", "rk", body, PROPS, mandatory=True) is None
    [published] = pair.sent()
    assert isinstance(published, Published)
    assert published.method == B.Publish("ex", "rk", True, False)
    assert published.properties == PROPS
    assert published.body == body
    assert published.body_frames == -(-size // 4088)


def test_publish_passes_a_single_frame_body_through() -> None:
    pair = opened()
    body = bytearray(b"zero-copy")
    parts = (pair.conn.publish(1, "", "q", body), pair.conn.data_to_send())[1]
    assert any(part is body for part in parts)


@scripted
def test_delivery_across_many_body_frames(pair: Pair) -> None:
    pair.handshake(tune=spec.Connection.Tune(2047, 4096, 0))
    pair.open_channel()
    body = bytes(range(256)) * 200  # 51200 bytes -> 13 body frames
    deliver = B.Deliver("ctag", 7, True, "ex", "rk")
    events = pair.recv(pair.broker.content(1, deliver, body, PROPS))
    assert events == [DeliveryReceived(1, deliver, PROPS, body)]


@scripted
def test_delivery_with_empty_body(pair: Pair) -> None:
    pair.handshake()
    pair.open_channel()
    deliver = B.Deliver("ctag", 1)
    events = pair.recv(pair.broker.content(1, deliver, b""))
    assert events == [DeliveryReceived(1, deliver, spec.BasicProperties(), b"")]


@scripted
def test_interleaved_deliveries_on_two_channels(pair: Pair) -> None:
    pair.handshake(tune=spec.Connection.Tune(2047, 4096, 0))
    pair.open_channel()
    pair.open_channel()
    a = pair.broker.content(1, B.Deliver("a", 1), b"A" * 9000)
    b = pair.broker.content(2, B.Deliver("b", 1), b"B" * 5000)
    # method+header of a, then b whole, then a's bodies
    cut = a.index(b"\x03\x00\x01")  # first body frame of channel 1
    events = pair.recv(a[:cut], b, a[cut:])
    assert [(e.channel_id, len(e.body)) for e in events] == [(2, 5000), (1, 9000)]  # type: ignore[attr-defined]


@scripted
def test_returned_message(pair: Pair) -> None:
    pair.handshake()
    pair.open_channel()
    ret = B.Return(312, "NO_ROUTE", "ex", "nowhere")
    assert pair.recv(pair.broker.content(1, ret, b"lost", PROPS)) == [
        MessageReturned(1, ret, PROPS, b"lost")
    ]


def header_frame(channel: int, size: int, class_id: int = 60) -> bytes:
    payload = class_id.to_bytes(2, "big") + b"\x00\x00" + size.to_bytes(8, "big")
    return FakeBroker.frame(FRAME_HEADER, channel, payload + b"\x00\x00")


def body_frame(channel: int, data: bytes) -> bytes:
    return FakeBroker.frame(FRAME_BODY, channel, data)


DELIVER = FakeBroker.method(1, B.Deliver("c", 1))


@pytest.mark.parametrize(
    ("frames", "code"),
    [
        # header without a method
        ([header_frame(1, 3)], 505),
        # body without a header
        ([body_frame(1, b"abc")], 505),
        # a method between header and body
        (
            [
                DELIVER,
                header_frame(1, 3),
                FakeBroker.method(1, B.Ack(1)),
            ],
            505,
        ),
        # a second content method before the header
        ([DELIVER, DELIVER], 505),
        # body frames larger than announced
        ([DELIVER, header_frame(1, 3), body_frame(1, b"abcd")], 501),
        # header of another class
        ([DELIVER, header_frame(1, 3, class_id=50)], 501),
        # truncated header
        ([DELIVER, FakeBroker.frame(FRAME_HEADER, 1, b"\x00\x3c")], 501),
        # content on channel 0
        ([header_frame(0, 3)], 505),
    ],
)
def test_content_sequence_faults(frames: list[bytes], code: int) -> None:
    pair = opened()
    with pytest.raises(RemoteProtocolError) as info:
        pair.recv(*frames)
    assert info.value.reply_code == code
    [(channel, close)] = pair.methods()
    assert channel == 0 and isinstance(close, spec.Connection.Close)
    assert close.reply_code == code


@scripted
def test_body_larger_than_max_body_size_is_refused(pair: Pair) -> None:
    pair.conn = type(pair.conn)(ConnectionConfig(max_body_size=10))
    pair.handshake()
    pair.open_channel()
    with pytest.raises(RemoteProtocolError) as info:
        pair.recv(pair.broker.content(1, B.Deliver("c", 1), b"x" * 11))
    assert info.value.reply_code == 506


@scripted
def test_inbound_frame_above_frame_max_is_frame_error(pair: Pair) -> None:
    pair.handshake(tune=spec.Connection.Tune(2047, 4096, 0))
    pair.open_channel()
    with pytest.raises(RemoteProtocolError) as info:
        pair.recv(
            pair.broker.content(1, B.Deliver("c", 1), b"x" * 5000, frame_max=8192)
        )
    assert info.value.reply_code == 501


# -- what the core counts as queued, and large deliveries in pieces --------------


@pytest.mark.parametrize("frame_max", [4096, 131072])
@pytest.mark.parametrize("size", [0, 1, 4088, 4089, 100_000, 1 << 20])
def test_bytes_to_send_is_exactly_what_data_to_send_returns(
    frame_max: int, size: int
) -> None:
    pair = opened(frame_max=frame_max)
    pair.conn.publish(1, "ex", "rk", b"p" * size, PROPS)
    pair.conn.ack(1, 7)
    pair.conn.publish(1, "ex", "rk", b"q" * (size // 2), None)
    queued = pair.conn.bytes_to_send
    assert queued == sum(len(part) for part in pair.conn.data_to_send())
    assert pair.conn.bytes_to_send == 0


def test_bytes_held_behind_a_request_are_counted_until_released() -> None:
    pair = opened(frame_max=131072)
    conn = pair.conn
    conn.send_method(1, B.Qos(0, 1, False))
    conn.send_method(1, B.Qos(0, 2, False))  # held behind the first
    for size in (10, 50_000, 300_000):
        conn.publish(1, "ex", "rk", b"h" * size, PROPS)
    held = conn.bytes_held
    assert held > 350_000
    before = sum(len(p) for p in conn.data_to_send())
    pair.recv(pair.broker.method(1, B.QosOk()))
    assert conn.bytes_held == held  # still behind the second request
    pair.recv(pair.broker.method(1, B.QosOk()))
    assert conn.bytes_held == 0
    released = sum(len(p) for p in conn.data_to_send())
    assert released == held + len(  # the second Qos frame is not counted
        FakeBroker.method(1, B.Qos(0, 2, False))
    )
    assert before > 0


def test_bytes_held_are_dropped_with_the_channel() -> None:
    pair = opened(frame_max=131072)
    conn = pair.conn
    conn.send_method(1, B.Qos(0, 1, False))
    conn.send_method(1, B.Qos(0, 2, False))
    conn.publish(1, "ex", "rk", b"h" * 70_000, PROPS)
    assert conn.bytes_held > 70_000
    pair.recv(pair.broker.method(1, spec.Channel.Close(406, "gone", 60, 10)))
    assert conn.bytes_held == 0


@pytest.mark.parametrize("chunk", [1000, 65536, 262144, 1 << 20])
def test_a_large_delivery_arrives_whole_in_any_chunking(chunk: int) -> None:
    pair = opened(frame_max=131072)
    body = bytes(range(256)) * 4096 * 3  # 3 MiB over 25 body frames
    data = FakeBroker.content(
        1, B.Deliver("ctag", 1, False, "ex", "rk"), body, PROPS, 131072
    )
    events = []
    for start in range(0, len(data), chunk):
        events += pair.conn.receive_data(data[start : start + chunk], 0.0)
    (event,) = events
    assert isinstance(event, DeliveryReceived)
    assert type(event.body) is bytes
    assert event.body == body
    assert pair.conn._reader.buffered == 0


def test_a_16_mib_delivery_costs_one_copy_of_its_body() -> None:
    """Received in 256 KiB reads, a 16 MiB body is held once as the reads
    (pieces are views of them) and once joined: no more, at no point."""
    import tracemalloc

    pair = opened(frame_max=131072)
    body = bytes(range(256)) * (1 << 16)  # 16 MiB
    data = FakeBroker.content(
        1, B.Deliver("ctag", 1, False, "ex", "rk"), body, PROPS, 131072
    )
    chunks = [data[i : i + (256 << 10)] for i in range(0, len(data), 256 << 10)]
    del data
    events = []
    tracemalloc.start()
    try:
        for chunk in chunks:
            events += pair.conn.receive_data(chunk, 0.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    (event,) = events
    assert event.body == body
    # the reads already exist (the test made them): only the joined body and
    # the views' bookkeeping may be new
    assert peak < len(body) * 1.1, f"{peak / (1 << 20):.1f} MiB allocated at peak"
