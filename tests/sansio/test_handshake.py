"""Handshake: SASL mechanisms, tuning, client properties and failures."""

from __future__ import annotations

import pytest

from amqpio import spec
from amqpio.codec.table import decode_table
from amqpio.sansio import (
    ConnectionClosed,
    ConnectionConfig,
    ConnectionLost,
    ConnectionOpened,
    ConnectionState,
    HandshakeFailed,
    Tuning,
)
from amqpio.sansio.config import CAPABILITIES, negotiate_tuning
from helpers.broker import SERVER_PROPERTIES, Pair, scripted

S = spec.Connection


def start(pair: Pair, mechanisms: bytes = b"PLAIN AMQPLAIN", **kw: int) -> None:
    pair.conn.initiate()
    assert pair.broker.decode(pair.conn.data_to_send()) == []
    assert pair.broker.header == b"AMQP\x00\x00\x09\x01"
    pair.recv(
        pair.broker.method(
            0, S.Start(server_properties=SERVER_PROPERTIES, mechanisms=mechanisms, **kw)
        )
    )


@scripted
def test_plain_handshake(pair: Pair) -> None:
    start(pair)
    [(ch, start_ok)] = pair.methods()
    assert ch == 0 and isinstance(start_ok, S.StartOk)
    assert start_ok.mechanism == "PLAIN"
    assert start_ok.response == b"\x00guest\x00guest"
    assert start_ok.locale == "en_US"
    assert pair.conn.state is ConnectionState.TUNE_WAIT
    assert pair.recv(pair.broker.method(0, S.Tune(2047, 131072, 60))) == []
    assert pair.methods() == [(0, S.TuneOk(2047, 131072, 60)), (0, S.Open("/"))]
    assert pair.conn.state is ConnectionState.OPEN_WAIT
    events = pair.recv(pair.broker.method(0, S.OpenOk()))
    assert events == [
        ConnectionOpened(Tuning(2047, 131072, 60), SERVER_PROPERTIES, "PLAIN")
    ]
    assert pair.conn.state is ConnectionState.OPEN
    assert pair.conn.tuning == Tuning(2047, 131072, 60)
    assert pair.conn.server_properties == SERVER_PROPERTIES


def test_client_properties_announce_capabilities() -> None:
    pair = Pair(
        ConnectionConfig(
            connection_name="orders",
            client_properties={"version": "1.2", "capabilities": {"x": True}},
        )
    )
    start(pair)
    [(_, start_ok)] = pair.methods()
    assert isinstance(start_ok, S.StartOk)
    props = start_ok.client_properties
    assert props["product"] == "amqpio"
    assert props["version"] == "1.2"
    assert props["connection_name"] == "orders"
    assert props["capabilities"] == {**CAPABILITIES, "x": True}
    for name in (
        "publisher_confirms",
        "exchange_exchange_bindings",
        "basic.nack",
        "consumer_cancel_notify",
        "connection.blocked",
        "authentication_failure_close",
        "per_consumer_qos",
        "direct_reply_to",
    ):
        assert CAPABILITIES[name] is True


def test_amqplain_handshake() -> None:
    pair = Pair(ConnectionConfig("bob", "sécret", auth_mechanism="AMQPLAIN"))
    start(pair)
    [(_, start_ok)] = pair.methods()
    assert isinstance(start_ok, S.StartOk)
    assert start_ok.mechanism == "AMQPLAIN"
    length = len(start_ok.response).to_bytes(4, "big")
    table, _ = decode_table(length + start_ok.response, 0)
    assert table == {"LOGIN": "bob", "PASSWORD": "sécret"}


def test_external_handshake() -> None:
    pair = Pair(ConnectionConfig(auth_mechanism="EXTERNAL"))
    start(pair, mechanisms=b"EXTERNAL PLAIN")
    [(_, start_ok)] = pair.methods()
    assert isinstance(start_ok, S.StartOk)
    assert (start_ok.mechanism, start_ok.response) == ("EXTERNAL", b"")


def test_auto_mechanism_falls_back_to_amqplain() -> None:
    pair = Pair()
    start(pair, mechanisms=b"EXTERNAL AMQPLAIN")
    [(_, start_ok)] = pair.methods()
    assert isinstance(start_ok, S.StartOk)
    assert start_ok.mechanism == "AMQPLAIN"


@scripted
def test_secure_is_answered_with_the_response(pair: Pair) -> None:
    start(pair)
    pair.sent()
    assert pair.recv(pair.broker.method(0, S.Secure(b"?"))) == []
    assert pair.methods() == [(0, S.SecureOk(b"\x00guest\x00guest"))]
    assert pair.conn.state is ConnectionState.TUNE_WAIT


@pytest.mark.parametrize(
    ("config", "offered"),
    [
        (ConnectionConfig(), b"EXTERNAL"),
        (ConnectionConfig(auth_mechanism="EXTERNAL"), b"PLAIN AMQPLAIN"),
    ],
)
def test_no_usable_mechanism_fails_the_handshake(
    config: ConnectionConfig, offered: bytes
) -> None:
    pair = Pair(config)
    pair.conn.initiate()
    pair.sent()
    events = pair.recv(pair.broker.method(0, S.Start(mechanisms=offered)))
    assert [type(e) for e in events] == [HandshakeFailed]
    assert isinstance(events[0], HandshakeFailed)
    assert events[0].reason == "no-mechanism"
    assert pair.conn.state is ConnectionState.CLOSED
    assert pair.sent() == []  # spec: close the socket, send nothing more


@scripted
def test_server_protocol_header_is_incompatible(pair: Pair) -> None:
    pair.conn.initiate()
    pair.sent()
    events = pair.recv(b"AMQP\x00\x00\x08\x00")
    assert events == [
        HandshakeFailed(
            "protocol-version",
            "the broker answered with protocol header b'AMQP\\x00\\x00\\x08\\x00'",
            b"AMQP\x00\x00\x08\x00",
        )
    ]
    assert pair.conn.state is ConnectionState.CLOSED
    assert pair.recv(b"garbage") == []
    assert pair.conn.receive_eof() == []


def test_start_with_other_version_is_incompatible() -> None:
    pair = Pair()
    pair.conn.initiate()
    events = pair.recv(pair.broker.method(0, S.Start(version_major=1, version_minor=0)))
    assert isinstance(events[0], HandshakeFailed)
    assert events[0].reason == "protocol-version"


@scripted
def test_bad_credentials_close_with_access_refused(pair: Pair) -> None:
    start(pair)
    pair.sent()
    events = pair.recv(
        pair.broker.method(0, S.Close(403, "ACCESS_REFUSED - Login was refused", 0, 0))
    )
    assert events == [
        ConnectionClosed(403, "ACCESS_REFUSED - Login was refused", 0, 0, True)
    ]
    assert pair.methods() == [(0, S.CloseOk())]
    assert pair.conn.state is ConnectionState.CLOSED


@scripted
def test_socket_closed_after_start_ok_is_probable_auth_failure(pair: Pair) -> None:
    start(pair)
    assert pair.conn.receive_eof() == [ConnectionLost(True, True, False)]
    assert pair.conn.state is ConnectionState.CLOSED


@scripted
def test_unknown_vhost_closes_with_not_allowed(pair: Pair) -> None:
    start(pair)
    pair.recv(pair.broker.method(0, S.Tune(0, 0, 0)))
    pair.sent()
    text = "NOT_ALLOWED - vhost nope not found"
    events = pair.recv(pair.broker.method(0, S.Close(530, text, 10, 40)))
    assert events == [ConnectionClosed(530, text, 10, 40, True)]
    assert pair.methods() == [(0, S.CloseOk())]


def test_socket_closed_after_open_is_probable_access_refusal() -> None:
    pair = Pair()
    start(pair)
    pair.recv(pair.broker.method(0, S.Tune(0, 0, 0)))
    assert pair.conn.receive_eof() == [ConnectionLost(True, False, True)]


def test_socket_closed_before_start() -> None:
    pair = Pair()
    pair.conn.initiate()
    assert pair.conn.receive_eof() == [ConnectionLost(True, False, False)]


@pytest.mark.parametrize(
    ("client", "server", "tuning", "wire"),
    [
        # (channel_max, frame_max, heartbeat) requested -> proposed; the
        # client's frame_max is a ceiling (default 131072, 0 = the default)
        (
            (None, 131072, None),
            (2047, 131072, 60),
            (2047, 131072, 60),
            (2047, 131072, 60),
        ),
        # the broker's "no limit" frame_max is clamped to the ceiling
        ((None, 131072, None), (0, 0, 0), (65535, 131072, 0), (0, 131072, 0)),
        ((100, 8192, 10), (2047, 131072, 60), (100, 8192, 10), (100, 8192, 10)),
        ((0, 0, 0), (2047, 131072, 60), (2047, 131072, 0), (2047, 131072, 0)),
        ((10, 4096, 30), (0, 0, 0), (10, 4096, 30), (10, 4096, 30)),
        (
            (4000, 1 << 20, None),
            (2047, 131072, 5),
            (2047, 131072, 5),
            (2047, 131072, 5),
        ),
        # a server proposal below frame-min-size is raised to 4096
        ((None, 131072, None), (1, 512, 0), (1, 4096, 0), (1, 4096, 0)),
    ],
)
def test_tune_negotiation(
    client: tuple[int | None, int, int | None],
    server: tuple[int, int, int],
    tuning: tuple[int, int, int],
    wire: tuple[int, int, int],
) -> None:
    config = ConnectionConfig(
        channel_max=client[0], frame_max=client[1], heartbeat=client[2]
    )
    assert negotiate_tuning(config, *server) == (Tuning(*tuning), wire)
    pair = Pair(config)
    events = pair.handshake(tune=S.Tune(*server))
    assert events == [ConnectionOpened(Tuning(*tuning), SERVER_PROPERTIES, "PLAIN")]


def test_negotiated_frame_max_bounds_inbound_frames() -> None:
    pair = Pair(ConnectionConfig(frame_max=4096))
    pair.handshake()
    assert pair.conn.tuning is not None and pair.conn.tuning.frame_max == 4096


@pytest.mark.parametrize(
    "kwargs",
    [
        {"auth_mechanism": "CRAM-MD5"},
        {"channel_max": 70000},
        {"frame_max": 100},
        {"heartbeat": -1},
        {"max_body_size": -1},
    ],
)
def test_config_rejects_bad_values(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ConnectionConfig(**kwargs)  # type: ignore[arg-type]


def test_config_hides_the_password() -> None:
    assert "guest" not in repr(ConnectionConfig(username="u", password="guest"))
