"""A handshake that runs out of ``handshake_timeout`` is a failed attempt.

Against the scripted server on a loopback socket: its ``silent`` connections
are accepted and never answered, as a stuck broker or a black-holing proxy.
"""

from __future__ import annotations

import asyncio

import pytest

import amqpio
from amqpio import exceptions as exc

from .fake_server import FakeServer
from .support import FAST


async def test_fail_fast_raises_the_handshake_timeout(server: FakeServer) -> None:
    server.silent = 1
    with pytest.raises(exc.HandshakeTimeoutError):
        await asyncio.wait_for(
            amqpio.connect_robust(server.url, handshake_timeout=0.2), 10
        )
    [silent] = server.connections
    await asyncio.sleep(0.05)
    assert silent.transport is None  # the client closed the socket


async def test_timed_out_handshakes_are_retried_until_one_completes(
    server: FakeServer,
) -> None:
    server.silent = 2
    connection = await asyncio.wait_for(
        amqpio.connect_robust(
            server.url + "?handshake_timeout=0.2", fail_fast=False, **FAST
        ),
        10,
    )
    try:
        assert isinstance(connection.last_error, exc.HandshakeTimeoutError)
        assert len(server.connections) == 3
        first, second, answered = server.connections
        assert first.silent and second.silent and not answered.silent
        assert first.transport is None and second.transport is None
        channel = await connection.channel()
        await channel.declare_queue("q")
    finally:
        await connection.close()


async def test_a_reconnect_whose_handshake_times_out_tries_again(
    server: FakeServer,
) -> None:
    connection = await asyncio.wait_for(
        amqpio.connect_robust(server.url, handshake_timeout=0.2, **FAST), 10
    )
    try:
        reconnected: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def done(*_: object) -> None:
            if not reconnected.done():
                reconnected.set_result(None)

        connection.reconnect_callbacks.add(done)
        server.silent = 1
        server.drop()
        await asyncio.wait_for(reconnected, 10)
        assert [c.silent for c in server.connections] == [False, True, False]
        assert isinstance(connection.last_error, exc.HandshakeTimeoutError)
    finally:
        await connection.close()
