"""What an application asks of a robust connection, checked against a real broker.

A rotated secret is used by the reconnects that follow; ``close()`` during a
reconnect ends it at once and for good. (``reconnect()`` on demand is in
``test_robust_timing.py``, ``fail_fast`` in ``test_robust_recovery.py``.)
The scripted server of ``tests/robust`` checks the same on the wire; these
tests check that RabbitMQ agrees.
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse
from typing import Any

import pytest

import amqpio
from amqpio import exceptions as exc
from amqpio.robust_connection import RobustConnection
from amqpio.testing.rabbitmq import Broker

from .fault_proxy import FaultProxy
from .robust_support import FAST, WAIT, Recoveries, eventually, unique, within

pytestmark = pytest.mark.integration


async def connect(url: str, **kwargs: Any) -> RobustConnection:
    options: dict[str, Any] = {**FAST, **kwargs}
    return await amqpio.connect_robust(url, **options)


def with_login(url: str, user: str, password: str) -> str:
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))


async def on_message(_: Any) -> None:
    pass


def connections_of(broker: Broker, user: str) -> int:
    out = broker.rabbitmqctl(
        "list_connections", "user", "--quiet", "--no-table-headers"
    )
    return sum(1 for line in out.splitlines() if line.strip() == user)


async def test_reconnects_log_in_with_the_updated_secret(
    rabbitmq_ctl: Broker, proxy: FaultProxy
) -> None:
    broker = rabbitmq_ctl
    user = unique("user")
    await asyncio.to_thread(broker.add_user, user, "secret-1")
    await asyncio.to_thread(broker.set_permissions, user)
    connection = await connect(with_login(proxy.url(broker.url), user, "secret-1"))
    recoveries = Recoveries(connection)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(auto_delete=True)

        # the password changes on the broker; the application hands the
        # connection the new one (RabbitMQ takes Connection.UpdateSecret)
        await asyncio.to_thread(broker.rabbitmqctl, "change_password", user, "secret-2")
        with pytest.raises(exc.AMQPConnectionError):
            await within(amqpio.connect(with_login(broker.url, user, "secret-1")))
        await within(connection.update_secret("secret-2", reason="rotated"))

        assert proxy.cut() == 1
        try:
            await recoveries.wait(1, timeout=15)
        except asyncio.TimeoutError:
            pytest.fail(
                f"no reconnect with the new secret; last error: "
                f"{connection.last_error!r}"
            )
        assert await asyncio.to_thread(connections_of, broker, user) == 1
        await channel.default_exchange.publish(amqpio.Message(b"s"), queue.name)
        message = await within(queue.get(no_ack=True, timeout=WAIT))
        assert message.body == b"s"
    finally:
        await connection.close()
        await asyncio.to_thread(broker.delete_user, user)


async def test_close_during_a_reconnect_wins(
    rabbitmq: Broker, proxy: FaultProxy
) -> None:
    connection = await connect(proxy.url(rabbitmq.url))
    recoveries = Recoveries(connection)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(auto_delete=True)
        await queue.consume(on_message, no_ack=True)
        proxy.refuse = True  # the broker is unreachable: the reconnects fail
        accepted = proxy.accepted
        proxy.cut()
        await recoveries.wait_lost(1)
        await eventually(lambda: proxy.accepted >= accepted + 2)
        assert connection.reconnecting
        waiting = asyncio.ensure_future(
            channel.declare_queue(auto_delete=True, timeout=WAIT)
        )
        await asyncio.sleep(0)

        await within(connection.close(), 5)
        assert connection.is_closed and channel.is_closed
        assert not connection.reconnecting
        # the call that waited for the recovery fails now, not at its timeout
        with pytest.raises(exc.ChannelInvalidStateError):
            await within(waiting, 5)
        assert recoveries.lost == 2  # the loss, then the close

        # the close wins: with the broker reachable again nothing reconnects
        # (a running reconnect loop would try within its 0.5 s backoff cap)
        proxy.refuse = False
        attempts = proxy.accepted
        await asyncio.sleep(1.5)
        assert proxy.accepted == attempts
        assert recoveries.reconnected == 0
        assert not proxy.links
    finally:
        with contextlib.suppress(Exception):
            await connection.close()


def closed_by_client(link: Any) -> bool:
    reader = link.client_reader
    return bool(reader.at_eof() or reader.exception() is not None)


async def test_close_during_a_stalled_reconnect_handshake_returns_at_once(
    rabbitmq: Broker, proxy: FaultProxy
) -> None:
    # each reconnect handshake may take 30 s; close() must not wait for it
    connection = await connect(proxy.url(rabbitmq.url), handshake_timeout=30)
    recoveries = Recoveries(connection)
    try:
        channel = await connection.channel()
        accepted = proxy.accepted
        proxy.delay = 60.0  # bytes are held a minute: handshakes stall
        proxy.cut()
        await recoveries.wait_lost(1)
        await eventually(lambda: proxy.accepted > accepted)  # an attempt is on
        assert connection.reconnecting

        await within(connection.close(), 5)
        assert connection.is_closed and channel.is_closed
        assert not connection.reconnecting
        assert recoveries.reconnected == 0
        # the client closed its socket (the stalled proxy still holds its side)
        await eventually(lambda: all(closed_by_client(link) for link in proxy.links))
    finally:
        proxy.delay = 0.0
        with contextlib.suppress(Exception):
            await connection.close()
