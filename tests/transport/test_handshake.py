"""The handshake through the transport: ``opened``, TCP_NODELAY, refusals."""

from __future__ import annotations

import socket

import pytest

from amqpio import exceptions as exc
from amqpio import spec
from amqpio.codec.frames import PROTOCOL_HEADER
from amqpio.sansio import ConnectionConfig, ConnectionOpened, Tuning
from amqpio.transport.protocol import AMQPProtocol
from helpers.broker import FakeBroker, Splitter

from .fakes import (
    SERVER_PROPERTIES_TABLE,
    FakeSocket,
    Harness,
    assert_nothing_pending,
    connect,
    settle,
)

C = spec.Connection


async def test_handshake_resolves_opened(splitter: Splitter) -> None:
    h = connect(splitter=splitter)
    opened = await h.protocol.opened
    assert opened == ConnectionOpened(
        Tuning(2047, 131072, 60), SERVER_PROPERTIES_TABLE, "PLAIN"
    )
    assert h.protocol.is_open
    assert h.protocol.tuning == Tuning(2047, 131072, 60)
    assert h.broker.codec.header == PROTOCOL_HEADER
    [start_ok, tune_ok, open_] = h.broker.methods()
    assert isinstance(start_ok[1], C.StartOk)
    assert start_ok[1].response == b"\x00guest\x00guest"
    assert tune_ok == (0, C.TuneOk(2047, 131072, 60))
    assert open_ == (0, C.Open("/"))
    # header, StartOk, then TuneOk and Open together
    assert len(h.transport.writes) == 3
    assert h.transport.writes[0] == PROTOCOL_HEADER
    h.transport.lose()


async def test_handshake_uses_the_configured_virtual_host() -> None:
    h = connect(ConnectionConfig(virtualhost="orders", heartbeat=0))
    opened = await h.protocol.opened
    assert opened.tuning.heartbeat == 0
    assert h.broker.methods()[-1] == (0, C.Open("orders"))
    h.transport.lose()


async def test_tcp_nodelay_is_set_on_a_tcp_socket() -> None:
    sock = FakeSocket(socket.AF_INET6)
    h = connect(extra={"socket": sock})
    assert sock.options == [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    await h.protocol.opened
    h.transport.lose()


async def test_tcp_nodelay_is_not_set_on_other_sockets() -> None:
    sock = FakeSocket(socket.AF_UNIX)
    h = connect(extra={"socket": sock})
    assert sock.options == []
    await h.protocol.opened
    h.transport.lose()


async def test_no_socket_is_fine() -> None:
    h = connect()
    assert h.transport.get_extra_info("socket") is None
    await h.protocol.opened
    h.transport.lose()


async def refused(h: Harness) -> BaseException:
    """Await the failed handshake; check that nothing is left behind."""
    with pytest.raises(exc.AMQPConnectionError) as info:
        await h.protocol.opened
    await settle()
    assert h.transport.lost, "the protocol must close the socket"
    assert not h.protocol.is_open
    assert h.protocol.closed.result() is info.value
    assert h.listener.calls == [("closed", info.value)]
    assert_nothing_pending(h.protocol)
    with pytest.raises(type(info.value)):
        h.protocol.check_open()
    return info.value


async def test_bad_credentials_are_a_probable_authentication_error(
    splitter: Splitter,
) -> None:
    h = connect(splitter=splitter)
    text = "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN"
    h.broker.handlers[C.StartOk] = lambda ch, m: [
        h.broker.method(0, C.Close(403, text, 0, 0))
    ]
    error = await refused(h)
    assert type(error) is exc.ProbableAuthenticationError
    assert text in str(error)
    assert h.broker.methods()[-1] == (0, C.CloseOk())


async def test_unknown_vhost_is_connection_not_allowed(splitter: Splitter) -> None:
    h = connect(ConnectionConfig(virtualhost="nope"), splitter=splitter)
    text = "NOT_ALLOWED - vhost nope not found"
    h.broker.handlers[C.Open] = lambda ch, m: [
        h.broker.method(0, C.Close(530, text, 10, 40))
    ]
    error = await refused(h)
    assert type(error) is exc.ConnectionNotAllowed
    assert isinstance(error, exc.ConnectionNotAllowed)
    assert error.reply_code == 530
    assert error.reply_text == text
    assert (error.class_id, error.method_id) == (10, 40)
    assert text in str(error)
    assert h.broker.methods()[-1] == (0, C.CloseOk())


async def test_eof_after_start_ok_is_a_probable_authentication_error() -> None:
    h = connect()

    def hang_up(channel: int, method: spec.Method) -> list[bytes]:
        h.broker.drop_soon()
        return []

    h.broker.handlers[C.StartOk] = hang_up
    error = await refused(h)
    assert type(error) is exc.ProbableAuthenticationError


async def test_eof_after_open_is_connection_not_allowed() -> None:
    h = connect(ConnectionConfig(virtualhost="nope"))

    def hang_up(channel: int, method: spec.Method) -> list[bytes]:
        h.broker.drop_soon()
        return []

    h.broker.handlers[C.Open] = hang_up
    error = await refused(h)
    assert type(error) is exc.ConnectionNotAllowed


async def test_eof_before_start_is_a_connection_error() -> None:
    h = connect(on_header=list)
    reset = ConnectionResetError("reset by peer")
    h.broker.drop_soon(reset)
    error = await refused(h)
    assert type(error) is exc.AMQPConnectionError
    assert error.__cause__ is reset


async def test_protocol_violation_during_the_handshake(splitter: Splitter) -> None:
    h = connect(splitter=splitter)
    # a Basic method on channel 0 instead of Connection.Tune
    h.broker.handlers[C.StartOk] = lambda ch, m: [
        h.broker.method(0, spec.Basic.QosOk())
    ]
    error = await refused(h)
    assert type(error) is exc.ConnectionCommandInvalid
    assert isinstance(error, exc.ConnectionClosed)
    assert error.reply_code == 503
    close = h.broker.methods()[-1][1]
    assert isinstance(close, C.Close)
    assert (close.reply_code, close.class_id, close.method_id) == (503, 60, 11)


async def test_another_protocol_header_is_incompatible_protocol(
    splitter: Splitter,
) -> None:
    h = connect(splitter=splitter, on_header=lambda: [b"AMQP\x01\x01\x08\x00"])
    # the broker would close the socket too; the client must not wait for it
    error = await refused(h)
    assert type(error) is exc.IncompatibleProtocolError
    assert "AMQP\\x01\\x01\\x08\\x00" in str(error)
    assert h.broker.methods() == []


async def test_wrong_version_in_start_is_incompatible_protocol() -> None:
    start = C.Start(version_major=0, version_minor=8)
    h = connect(on_header=lambda: [FakeBroker.method(0, start)])
    error = await refused(h)
    assert type(error) is exc.IncompatibleProtocolError


async def test_no_common_mechanism_is_an_authentication_error() -> None:
    start = C.Start(mechanisms=b"EXTERNAL")
    h = connect(on_header=lambda: [FakeBroker.method(0, start)])
    error = await refused(h)
    assert type(error) is exc.AuthenticationError
    assert "EXTERNAL" in str(error)


async def test_opened_is_created_on_the_protocol_loop() -> None:
    h = connect()
    assert isinstance(h.protocol, AMQPProtocol)
    assert not h.protocol.opened.done()
    await h.protocol.opened
    h.transport.lose()
    await settle()
    assert h.protocol.closed.done()
