"""Hard limits against a broken or hostile broker: frame_max and max_body_size.

The client's ``frame_max`` is a ceiling that holds whatever Connection.Tune
proposes (0, "no limit", included): TuneOk answers the clamped value and both
the frame reader and the publish encoder use it. Content headers announcing a
body above ``max_body_size`` are refused on the header, before any body byte.
"""

from __future__ import annotations

import struct

import pytest

from amqpio import spec
from amqpio.sansio import (
    ConnectionConfig,
    ConnectionOpened,
    DeliveryReceived,
    RemoteProtocolError,
    Tuning,
)
from amqpio.sansio.config import DEFAULT_FRAME_MAX, negotiate_tuning
from helpers.broker import (
    FRAME_BODY,
    FRAME_HEADER,
    FRAME_METHOD,
    FRAME_OVERHEAD,
    SERVER_PROPERTIES,
    FakeBroker,
    Pair,
    Published,
    scripted,
)

C = spec.Connection
B = spec.Basic


def test_default_frame_max_ceiling_is_rabbitmqs_default() -> None:
    assert DEFAULT_FRAME_MAX == 131072
    assert ConnectionConfig().frame_max == DEFAULT_FRAME_MAX


def test_explicit_client_zero_means_the_default_ceiling_not_no_limit() -> None:
    assert ConnectionConfig(frame_max=0).frame_max == DEFAULT_FRAME_MAX
    tuning, wire = negotiate_tuning(ConnectionConfig(frame_max=0), 0, 0, 0)
    assert tuning.frame_max == wire[1] == DEFAULT_FRAME_MAX


@pytest.mark.parametrize("frame_max", [1, 4095, 1 << 32, -1])
def test_client_frame_max_out_of_range_is_rejected(frame_max: int) -> None:
    with pytest.raises(ValueError, match="frame_max"):
        ConnectionConfig(frame_max=frame_max)


@pytest.mark.parametrize(
    ("client", "server", "negotiated"),
    [
        # the broker's 0 ("no limit") is clamped to the client's ceiling
        (DEFAULT_FRAME_MAX, 0, DEFAULT_FRAME_MAX),
        (0, 0, DEFAULT_FRAME_MAX),
        (4096, 0, 4096),
        (1 << 20, 0, 1 << 20),
        # so is a proposal above the ceiling
        (DEFAULT_FRAME_MAX, 1 << 20, DEFAULT_FRAME_MAX),
        (DEFAULT_FRAME_MAX, 0xFFFFFFFF, DEFAULT_FRAME_MAX),
        (8192, 131072, 8192),
        (1 << 20, 1 << 22, 1 << 20),
        # a proposal below the ceiling is accepted
        (DEFAULT_FRAME_MAX, 8192, 8192),
        (DEFAULT_FRAME_MAX, DEFAULT_FRAME_MAX, DEFAULT_FRAME_MAX),
        (1 << 20, 131072, 131072),
        # a larger ceiling is the application's explicit choice
        (0xFFFFFFFF, 0, 0xFFFFFFFF),
        # never below the spec's frame-min-size
        (DEFAULT_FRAME_MAX, 512, 4096),
        (4096, 1, 4096),
    ],
)
def test_frame_max_is_clamped_to_the_client_ceiling(
    client: int, server: int, negotiated: int
) -> None:
    config = ConnectionConfig(frame_max=client, heartbeat=0)
    tuning, wire = negotiate_tuning(config, 2047, server, 0)
    assert tuning == Tuning(2047, negotiated, 0)
    assert wire == (2047, negotiated, 0)
    # the same through the core: TuneOk answers the clamped value
    pair = Pair(config)
    pair.conn.initiate()
    pair.sent()
    pair.recv(pair.broker.method(0, C.Start(server_properties=SERVER_PROPERTIES)))
    pair.sent()
    pair.recv(pair.broker.method(0, C.Tune(2047, server, 0)))
    assert pair.methods() == [(0, C.TuneOk(2047, negotiated, 0)), (0, C.Open("/"))]
    events = pair.recv(pair.broker.method(0, C.OpenOk()))
    assert events == [
        ConnectionOpened(Tuning(2047, negotiated, 0), SERVER_PROPERTIES, "PLAIN")
    ]


def no_limit_pair(config: ConnectionConfig | None = None) -> Pair:
    """Opened after a Tune proposing frame_max 0, with channel 1 open."""
    pair = Pair(config)
    pair.handshake(tune=C.Tune(2047, 0, 0))
    pair.open_channel()
    return pair


@scripted
def test_frame_above_the_clamped_limit_is_refused_on_its_header(pair: Pair) -> None:
    pair.handshake(tune=C.Tune(2047, 0, 0))
    assert pair.conn.tuning is not None
    assert pair.conn.tuning.frame_max == DEFAULT_FRAME_MAX
    too_big = DEFAULT_FRAME_MAX - FRAME_OVERHEAD + 1
    with pytest.raises(RemoteProtocolError) as info:
        # only the 7-byte header: nothing waits for (or buffers) the payload
        pair.recv(struct.pack(">BHI", FRAME_METHOD, 0, too_big))
    assert info.value.reply_code == 501
    assert "frame_max" in info.value.text
    # the core queued Connection.Close(501)
    [(channel, close)] = pair.methods()
    assert channel == 0 and isinstance(close, C.Close)
    assert close.reply_code == 501


def test_a_2_gib_frame_header_fails_at_once_and_buffers_nothing() -> None:
    pair = Pair()
    pair.conn.initiate()
    pair.sent()
    pair.recv(pair.broker.method(0, C.Start(server_properties=SERVER_PROPERTIES)))
    pair.sent()
    pair.recv(pair.broker.method(0, C.Tune(0, 0, 0)))
    assert pair.methods()[0] == (0, C.TuneOk(0, DEFAULT_FRAME_MAX, 0))
    with pytest.raises(RemoteProtocolError) as info:
        pair.recv(struct.pack(">BHI", FRAME_METHOD, 0, 1 << 31))
    assert info.value.reply_code == 501
    # what the hostile peer sends next is dropped, not buffered
    for _ in range(16):
        pair.conn.receive_data(b"\x00" * 65536, 0.0)
    assert pair.conn._reader.buffered <= 7


def test_frame_of_exactly_the_clamped_limit_is_accepted() -> None:
    pair = no_limit_pair()
    body = b"b" * (DEFAULT_FRAME_MAX - FRAME_OVERHEAD)
    content = pair.broker.content(
        1, B.Deliver("c", 1), body, frame_max=DEFAULT_FRAME_MAX
    )
    [event] = pair.recv(content)
    assert isinstance(event, DeliveryReceived)
    assert event.body == body


def test_publish_splits_at_the_clamped_limit() -> None:
    pair = no_limit_pair()
    size = 3 * DEFAULT_FRAME_MAX
    pair.conn.publish(1, "ex", "rk", b"p" * size)
    parts = pair.conn.data_to_send()
    [published] = pair.broker.decode(parts)
    assert isinstance(published, Published)
    assert published.body == b"p" * size
    chunk = DEFAULT_FRAME_MAX - FRAME_OVERHEAD
    assert published.body_frames == -(-size // chunk)  # 4 frames, none larger


# -- max_body_size -------------------------------------------------------------


def header_frame(channel: int, body_size: int) -> bytes:
    # by hand (spec 4.2.6.1): pamqp's longlong is signed; no property flags
    payload = struct.pack(">HHQH", 60, 0, body_size, 0)
    return FakeBroker.frame(FRAME_HEADER, channel, payload)


def deliver_frame(channel: int) -> bytes:
    return FakeBroker.method(channel, B.Deliver("c", 1))


@pytest.mark.parametrize("body_size", [(512 << 20) + 1, 1 << 40, (1 << 64) - 1])
def test_default_max_body_size_refuses_a_huge_body_on_its_header(
    body_size: int,
) -> None:
    pair = no_limit_pair()
    with pytest.raises(RemoteProtocolError) as info:
        # method + header frames only: not one body byte is sent or awaited
        pair.recv(deliver_frame(1), header_frame(1, body_size))
    assert info.value.reply_code == 506  # RESOURCE_ERROR
    assert "max_body_size" in info.value.text


def test_max_body_size_is_inclusive() -> None:
    pair = no_limit_pair(ConnectionConfig(max_body_size=1000))
    assert pair.recv(deliver_frame(1), header_frame(1, 1000)) == []
    [event] = pair.recv(FakeBroker.frame(FRAME_BODY, 1, b"x" * 1000))
    assert isinstance(event, DeliveryReceived) and len(event.body) == 1000
    with pytest.raises(RemoteProtocolError) as info:
        pair.recv(deliver_frame(1), header_frame(1, 1001))
    assert info.value.reply_code == 506


def test_body_frames_beyond_the_announced_size_are_refused() -> None:
    pair = no_limit_pair()
    pair.recv(deliver_frame(1), header_frame(1, 10))
    with pytest.raises(RemoteProtocolError) as info:
        pair.recv(FakeBroker.frame(FRAME_BODY, 1, b"x" * 11))
    assert info.value.reply_code == 501
