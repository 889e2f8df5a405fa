"""The protocol on any loop's transport: the interface only, failures typed at once.

uvloop's transports are not ``asyncio.Transport`` subclasses; amqpio used to
assert they were, the assertion failed inside the loop's callback and
``connect()`` waited for ever. Nothing checks the transport's class now, and
an exception raised in a protocol callback ends the connection with a typed
error right away.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from amqpio import exceptions as exc
from amqpio import spec
from amqpio.sansio import ConnectionOpened

from .fakes import DuckTransport, FakeSocket, connect


async def test_handshake_on_a_transport_that_is_no_asyncio_transport() -> None:
    sock = FakeSocket(socket.AF_INET)
    h = connect(transport_class=DuckTransport, extra={"socket": sock})
    assert not isinstance(h.transport, asyncio.Transport)
    opened = await asyncio.wait_for(h.protocol.opened, 5)
    assert isinstance(opened, ConnectionOpened)
    assert sock.options == [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    h.transport.lose()


class RefusingSocket(FakeSocket):
    """A socket object whose options cannot be set (uvloop's pseudo-socket
    refuses some calls)."""

    def setsockopt(self, level: int, option: int, value: int) -> None:
        raise OSError(95, "Operation not supported")


async def test_a_socket_that_refuses_tcp_nodelay_still_connects() -> None:
    h = connect(extra={"socket": RefusingSocket()})
    opened = await asyncio.wait_for(h.protocol.opened, 5)
    assert isinstance(opened, ConnectionOpened)
    h.transport.lose()


class BrokenTransport(DuckTransport):
    def get_extra_info(self, name: str, default: object = None) -> object:
        raise RuntimeError("this transport cannot say")


async def test_an_error_in_connection_made_fails_the_connection_at_once() -> None:
    h = connect(transport_class=BrokenTransport)
    with pytest.raises(exc.AMQPConnectionError) as info:
        await asyncio.wait_for(h.protocol.opened, 1)
    assert "connection_made" in str(info.value)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert h.transport.aborted
    assert h.transport.writes == []  # nothing was sent on a broken start


async def test_an_error_in_data_received_fails_the_connection_at_once() -> None:
    """A listener that raises (a bug) ends the connection with a typed error."""
    h = connect()
    await asyncio.wait_for(h.protocol.opened, 5)

    def broken(reason: str) -> None:
        raise RuntimeError("listener bug")

    h.listener.on_blocked = broken  # type: ignore[method-assign]
    h.broker.send(h.broker.method(0, spec.Connection.Blocked("low on memory")))
    error = await asyncio.wait_for(h.protocol.closed, 1)
    assert isinstance(error, exc.AMQPConnectionError)
    assert "data_received" in str(error)
    assert isinstance(error.__cause__, RuntimeError)
    assert h.transport.aborted
