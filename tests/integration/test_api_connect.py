"""connect(), TLS, authentication, connection errors and connection-level events.

Against the session broker (``rabbitmq`` fixture). The broker's view of a
connection comes from the management API, matched by the client's local port.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yarl

import amqpio
from amqpio import exceptions as exc
from amqpio.testing.rabbitmq import EXTERNAL_USER, Broker

from .api_support import (
    WAIT,
    Relay,
    broker_views,
    host_port,
    management,
    message_count,
    need_management,
    quote,
    unique,
    within,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def tls_host_port(rabbitmq_tls: Broker) -> tuple[str, int]:
    return host_port(rabbitmq_tls.tls_url)


async def round_trip(connection: amqpio.Connection) -> None:
    """Prove the connection works: a queue declared, a message through it."""
    async with connection.channel() as channel:
        queue = await channel.declare_queue(exclusive=True)
        await channel.default_exchange.publish(amqpio.Message(b"ping"), queue.name)
        message = await queue.get(no_ack=True)
        assert message.body == b"ping"


# -- the forms of connect(), as the broker sees them ---------------------------


async def test_connect_with_a_str_url(rabbitmq: Broker) -> None:
    connection = await amqpio.connect(rabbitmq.url)
    assert not connection.is_closed
    assert "guest:******@" in str(connection)  # the password never shows
    assert "guest:guest@" not in repr(connection)
    assert connection.server_properties["product"] in (b"RabbitMQ", "RabbitMQ")
    await round_trip(connection)
    closed = connection.closed()
    await connection.close()
    assert connection.is_closed
    assert await within(closed) is True


@contextlib.asynccontextmanager
async def scratch_vhost(
    rabbitmq: Broker, user: str | None = None, password: str = ""
) -> AsyncIterator[str]:
    """A new vhost (and user, if named) with full permissions, deleted at exit."""
    vhost = unique("vhost/x")
    await asyncio.to_thread(management, rabbitmq, "PUT", f"vhosts/{quote(vhost)}")
    try:
        if user is not None:
            await asyncio.to_thread(
                management,
                rabbitmq,
                "PUT",
                f"users/{user}",
                {"password": password, "tags": ""},
            )
        for who in ("guest", user) if user else ("guest",):
            await asyncio.to_thread(
                management,
                rabbitmq,
                "PUT",
                f"permissions/{quote(vhost)}/{who}",
                {"configure": ".*", "write": ".*", "read": ".*"},
            )
        yield vhost
    finally:
        if user is not None:
            await asyncio.to_thread(
                management, rabbitmq, "DELETE", f"users/{user}", ok_404=True
            )
        await asyncio.to_thread(
            management, rabbitmq, "DELETE", f"vhosts/{quote(vhost)}", ok_404=True
        )


async def test_the_broker_sees_what_connect_asked_for(rabbitmq: Broker) -> None:
    """Every way of connecting, checked in the management API's connection list.

    (One test: the management API lists a new connection only after seconds.)
    """
    need_management(rabbitmq)
    host, port = host_port(rabbitmq.url)
    user, password = unique("user"), "p@ss:w/rd"
    async with scratch_vhost(rabbitmq, user, password) as vhost:
        cases: dict[
            str, tuple[Callable[[], Awaitable[amqpio.Connection]], dict[str, Any]]
        ] = {
            "str URL": (
                lambda: amqpio.connect(rabbitmq.url + "?name=by-str"),
                {"user": "guest", "vhost": "/", "user_provided_name": "by-str"},
            ),
            "yarl.URL": (
                lambda: amqpio.connect(
                    yarl.URL(rabbitmq.url).with_query(name="by-yarl")
                ),
                {"user": "guest", "vhost": "/", "user_provided_name": "by-yarl"},
            ),
            "keywords": (
                lambda: amqpio.connect(
                    host=host,
                    port=port,
                    login="guest",
                    password="guest",
                    virtualhost="/",
                ),
                {"user": "guest", "vhost": "/", "auth_mechanism": "PLAIN"},
            ),
            "keywords, other user and vhost": (
                lambda: amqpio.connect(
                    host=host,
                    port=port,
                    login=user,
                    password=password,
                    virtualhost=vhost,
                ),
                {"user": user, "vhost": vhost},
            ),
            "URL, other user and vhost (quoted)": (
                lambda: amqpio.connect(
                    f"amqp://{user}:{quote(password)}@{host}:{port}/{quote(vhost)}"
                ),
                {"user": user, "vhost": vhost},
            ),
            "query parameters": (
                lambda: amqpio.connect(
                    yarl.URL(rabbitmq.url).with_query(
                        name="by-query",
                        heartbeat="7",
                        frame_max="16384",
                        channel_max="64",
                    ),
                    client_properties={"app": "amqpio-tests", "n": 1},
                ),
                {
                    "user_provided_name": "by-query",
                    "timeout": 7,
                    "frame_max": 16384,
                    "channel_max": 64,
                },
            ),
            "auth=amqplain": (
                lambda: amqpio.connect(rabbitmq.url + "?auth=amqplain"),
                {"user": "guest", "auth_mechanism": "AMQPLAIN"},
            ),
            "heartbeat=0": (
                lambda: amqpio.connect(rabbitmq.url + "?heartbeat=0"),
                {"timeout": 0},
            ),
        }
        if rabbitmq.has_tls:
            tls_host, tls_port = host_port(rabbitmq.tls_url)
            tls = yarl.URL(rabbitmq.tls_url)
            cert = {
                "certfile": str(rabbitmq.client_cert),
                "keyfile": str(rabbitmq.client_key),
            }
            cases |= {
                "amqps, cafile": (
                    lambda: amqpio.connect(
                        tls.with_query(cafile=str(rabbitmq.ca_file))
                    ),
                    {"ssl": True, "user": "guest", "auth_mechanism": "PLAIN"},
                ),
                "amqps, client certificate, PLAIN": (
                    lambda: amqpio.connect(
                        tls.with_query(cafile=str(rabbitmq.ca_file), **cert)
                    ),
                    {"ssl": True, "user": "guest", "auth_mechanism": "PLAIN"},
                ),
                "auth=external in the URL": (
                    lambda: amqpio.connect(rabbitmq.external_url),
                    {"ssl": True, "user": EXTERNAL_USER, "auth_mechanism": "EXTERNAL"},
                ),
                "auth=external, ssl_context": (
                    lambda: amqpio.connect(
                        f"amqps://{tls_host}:{tls_port}/?auth=external",
                        ssl_context=rabbitmq.ssl_context(client_cert=True),
                    ),
                    {"ssl": True, "user": EXTERNAL_USER, "auth_mechanism": "EXTERNAL"},
                ),
            }
        names = list(cases)
        results = await within(
            asyncio.gather(
                *(cases[name][0]() for name in names), return_exceptions=True
            )
        )
        connections = [c for c in results if isinstance(c, amqpio.Connection)]
        try:
            for name, result in zip(names, results, strict=True):
                assert isinstance(result, amqpio.Connection), (name, result)
            await asyncio.gather(*(round_trip(c) for c in connections))
            views = await broker_views(rabbitmq, connections)
            for name, view in zip(names, views, strict=True):
                expected = cases[name][1]
                assert {k: view[k] for k in expected} == expected, name
            query = connections[names.index("query parameters")]
            view = views[names.index("query parameters")]
            assert view["client_properties"]["connection_name"] == "by-query"
            assert view["client_properties"]["app"] == "amqpio-tests"
            assert view["client_properties"]["product"] == "amqpio"
            tuning = query.transport.tuning  # type: ignore[union-attr]
            assert (tuning.heartbeat, tuning.frame_max, tuning.channel_max) == (
                7,
                16384,
                64,
            )
            if rabbitmq.has_tls:
                assert not views[names.index("amqps, cafile")]["peer_cert_subject"]
                client = views[names.index("amqps, client certificate, PLAIN")]
                assert f"CN={EXTERNAL_USER}" in client["peer_cert_subject"]
        finally:
            await asyncio.gather(*(c.close() for c in connections))


async def test_channel_max_and_frame_max_are_enforced(rabbitmq: Broker) -> None:
    url = rabbitmq.url + "?channel_max=64&frame_max=4096"
    async with await amqpio.connect(url) as connection:
        last = await connection.channel(channel_number=64)
        assert last.number == 64
        with pytest.raises(ValueError):
            await connection.channel(channel_number=65)
        # a body much larger than a frame arrives whole (256 body frames)
        body = bytes(range(256)) * 4096
        async with connection.channel() as channel:
            queue = await channel.declare_queue(exclusive=True)
            await channel.default_exchange.publish(amqpio.Message(body), queue.name)
            assert (await queue.get(no_ack=True)).body == body


async def test_default_heartbeat_is_60_like_aiormq(rabbitmq: Broker) -> None:
    async with await amqpio.connect(rabbitmq.url) as connection:
        assert connection.transport.tuning.heartbeat == 60  # type: ignore[union-attr]
    async with await amqpio.connect(rabbitmq.url + "?heartbeat=0") as connection:
        assert connection.transport.tuning.heartbeat == 0  # type: ignore[union-attr]


# -- TLS ---------------------------------------------------------------------


async def test_amqps_verifies_the_server_by_default(rabbitmq_tls: Broker) -> None:
    """Without the test CA the broker's certificate is refused, clearly."""
    with pytest.raises(exc.AMQPConnectionError) as info:
        await within(amqpio.connect(rabbitmq_tls.tls_url))
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)
    assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)


async def test_ssl_context_without_the_ca_fails(rabbitmq_tls: Broker) -> None:
    context = ssl.create_default_context()  # system CAs only
    with pytest.raises(exc.AMQPConnectionError) as info:
        await within(amqpio.connect(rabbitmq_tls.tls_url, ssl_context=context))
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)
    assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)


async def test_amqps_with_cadata_and_capath(
    rabbitmq_tls: Broker, tmp_path: Path
) -> None:
    pem = rabbitmq_tls.ca_file.read_text()
    cadata = base64.b64encode(ssl.PEM_cert_to_DER_cert(pem)).decode()
    by_cadata = yarl.URL(rabbitmq_tls.tls_url).with_query(cadata=cadata)
    # capath: a directory of CA certificates named by subject hash
    subject_hash = subprocess.run(
        ["openssl", "x509", "-hash", "-noout", "-in", str(rabbitmq_tls.ca_file)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (tmp_path / f"{subject_hash}.0").write_text(pem)
    by_capath = yarl.URL(rabbitmq_tls.tls_url).with_query(capath=str(tmp_path))
    for url in (by_cadata, by_capath):
        async with await amqpio.connect(url) as connection:
            await round_trip(connection)


async def test_no_verify_ssl_skips_verification(rabbitmq_tls: Broker) -> None:
    url = rabbitmq_tls.tls_url + "?no_verify_ssl=1"
    async with await amqpio.connect(url) as connection:
        await round_trip(connection)


async def test_ssl_keyword_with_ssl_options(
    rabbitmq_tls: Broker, tls_host_port: tuple[str, int]
) -> None:
    host, port = tls_host_port
    connection = await amqpio.connect(
        host=host,
        port=port,
        ssl=True,
        ssl_options={"cafile": str(rabbitmq_tls.ca_file)},
    )
    async with connection:
        await round_trip(connection)
        assert str(connection).startswith("amqps://")


async def test_auth_external_without_a_certificate_is_refused(
    rabbitmq_tls: Broker,
) -> None:
    url = yarl.URL(rabbitmq_tls.tls_url).with_query(
        cafile=str(rabbitmq_tls.ca_file), auth="external"
    )
    with pytest.raises(exc.ProbableAuthenticationError, match="EXTERNAL"):
        await within(amqpio.connect(url))
    # the plain listener does not even offer EXTERNAL
    with pytest.raises(exc.AuthenticationError, match="EXTERNAL"):
        await within(amqpio.connect(rabbitmq_tls.url + "?auth=external"))


async def test_ssl_context_is_ignored_for_amqp_urls(rabbitmq: Broker) -> None:
    """As in aio-pika: only ``amqps://`` (or ``ssl=True``) uses TLS."""
    context = ssl.create_default_context()
    async with await amqpio.connect(rabbitmq.url, ssl_context=context) as connection:
        await round_trip(connection)


# -- connection failures -----------------------------------------------------


async def test_bad_credentials(rabbitmq: Broker) -> None:
    host, port = host_port(rabbitmq.url)
    url = f"amqp://guest:wrong@{host}:{port}/"
    with pytest.raises(exc.ProbableAuthenticationError) as info:
        await within(amqpio.connect(url))
    assert "ACCESS_REFUSED" in str(info.value)
    assert isinstance(info.value, exc.AMQPConnectionError)

    aio_pika = pytest.importorskip("aio_pika")
    with pytest.raises(aio_pika.exceptions.ProbableAuthenticationError):
        await within(aio_pika.connect(url))


async def test_unknown_vhost_is_530_not_allowed(rabbitmq: Broker) -> None:
    host, port = host_port(rabbitmq.url)
    vhost = unique("missing")
    with pytest.raises(exc.ConnectionNotAllowed) as info:
        await within(amqpio.connect(f"amqp://guest:guest@{host}:{port}/{vhost}"))
    error = info.value
    assert isinstance(error, exc.AMQPConnectionError)
    assert error.reply_code == 530
    assert "NOT_ALLOWED" in error.reply_text
    assert vhost in error.reply_text
    assert vhost in str(error)


async def test_connection_refused_fails_fast(spare_ports: tuple[int, ...]) -> None:
    port = spare_ports[0]
    with pytest.raises(exc.AMQPConnectionError) as info:
        await within(amqpio.connect(f"amqp://guest:guest@127.0.0.1:{port}/"), 5)
    assert isinstance(info.value.__cause__, ConnectionRefusedError)
    assert str(port) in str(info.value)


@pytest.mark.parametrize("how", ["argument", "url"])
async def test_connect_timeout(spare_ports: tuple[int, ...], how: str) -> None:
    """A peer that accepts TCP but never speaks AMQP: the timeout fires."""
    port = spare_ports[1]
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen()
        url = f"amqp://guest:guest@127.0.0.1:{port}/"
        kwargs: dict[str, Any] = {}
        if how == "argument":
            kwargs["timeout"] = 0.3
        else:
            url += "?connection_timeout=0.3"
        with pytest.raises(asyncio.TimeoutError):
            await within(amqpio.connect(url, **kwargs), 5)
        accepted, _ = listener.accept()  # the client did connect ...
        with accepted:
            accepted.settimeout(WAIT)
            # read in a thread: the client closes its socket in a loop callback
            header = await asyncio.to_thread(accepted.recv, 8)
            assert header == b"AMQP\x00\x00\x09\x01"
            # ... and hung up at the timeout
            assert await asyncio.to_thread(accepted.recv, 1) == b""


async def test_connect_with_an_explicit_loop(rabbitmq: Broker) -> None:
    loop = asyncio.get_running_loop()
    async with await amqpio.connect(rabbitmq.url, loop=loop) as connection:
        assert connection.loop is loop
        await round_trip(connection)


async def test_channel_before_connect_raises() -> None:
    connection = amqpio.Connection("amqp://guest:guest@127.0.0.1:1/")
    with pytest.raises(RuntimeError):
        connection.channel()


# -- channels ------------------------------------------------------------------


async def test_channel_arguments_and_async_with(connection: amqpio.Connection) -> None:
    channel = connection.channel(7, publisher_confirms=True, on_return_raises=False)
    assert not channel.is_initialized and channel.is_closed
    async with channel as opened:
        assert opened is channel
        assert channel.number == 7 and channel.is_initialized
        assert not channel.is_closed
        assert channel.publisher_confirms and not channel.on_return_raises
    assert channel.is_closed
    with pytest.raises(exc.ChannelInvalidStateError):
        await channel.declare_queue(exclusive=True)

    plain = await connection.channel(publisher_confirms=False)
    assert plain.number == 1 and not plain.publisher_confirms
    with pytest.raises(RuntimeError):
        connection.channel(publisher_confirms=False, on_return_raises=True)
    with pytest.raises(ValueError):
        await connection.channel(channel_number=plain.number)  # in use, as aio-pika
    await plain.close()


async def test_two_hundred_channels_and_number_reuse(
    connection: amqpio.Connection,
) -> None:
    channels = await asyncio.gather(*(connection.channel() for _ in range(200)))
    assert sorted(c.number for c in channels) == list(range(1, 201))
    queue = await channels[-1].declare_queue(exclusive=True)
    # every channel really works
    await asyncio.gather(
        *(
            c.default_exchange.publish(amqpio.Message(b"x"), queue.name)
            for c in channels
        )
    )
    assert await message_count(channels[0], queue.name) == 200

    await asyncio.gather(*(c.close() for c in channels[9:19]))
    assert all(c.is_closed for c in channels[9:19])
    reopened = await connection.channel()
    assert reopened.number == 10  # the lowest free number
    explicit = await connection.channel(channel_number=15)
    assert explicit.number == 15
    await explicit.declare_queue(queue.name, passive=True)

    await asyncio.gather(*(c.close() for c in channels if not c.is_closed))
    again = await asyncio.gather(*(connection.channel() for _ in range(5)))
    assert sorted(c.number for c in again) == [1, 2, 3, 4, 5]


async def test_heartbeats_keep_an_idle_connection_open(rabbitmq: Broker) -> None:
    """heartbeat=1: the broker drops a silent peer after about 2 s."""
    async with await amqpio.connect(rabbitmq.url + "?heartbeat=1") as connection:
        await asyncio.sleep(3)
        assert not connection.is_closed
        await round_trip(connection)


async def test_channel_close_resolves_pending_requests(
    connection: amqpio.Connection,
) -> None:
    channel = await connection.channel()
    queue = await channel.declare_queue(exclusive=True)
    pending = [
        asyncio.ensure_future(channel.declare_queue(exclusive=True)) for _ in range(5)
    ] + [
        asyncio.ensure_future(
            channel.default_exchange.publish(amqpio.Message(b"x"), queue.name)
        )
        for _ in range(5)
    ]
    await asyncio.sleep(0)
    await within(channel.close())
    for result in await within(asyncio.gather(*pending, return_exceptions=True)):
        assert not isinstance(result, BaseException) or isinstance(
            result, exc.ChannelClosed
        ), repr(result)
    assert channel.is_closed and not connection.is_closed


async def test_reopen_a_channel_closed_by_the_broker(
    connection: amqpio.Connection,
) -> None:
    channel = await connection.channel()
    with pytest.raises(exc.ChannelNotFoundEntity):
        await channel.get_queue(unique("missing"))
    assert channel.is_closed
    await channel.reopen()
    assert not channel.is_closed
    queue = await channel.declare_queue(exclusive=True)
    ack = await channel.default_exchange.publish(amqpio.Message(b"x"), queue.name)
    assert type(ack).__name__ == "Ack"  # confirms are on again
    assert (await queue.get(no_ack=True)).body == b"x"


async def test_close_fails_pending_operations(rabbitmq: Broker) -> None:
    """Closing the connection resolves everything in flight, with typed errors."""
    connection = await amqpio.connect(rabbitmq.url)
    channel = await connection.channel()
    queue = await channel.declare_queue(exclusive=True)
    iterator = queue.iterator()
    await iterator.consume()
    reader = asyncio.ensure_future(anext(iterator, None))
    declares = [
        asyncio.ensure_future(channel.declare_queue(exclusive=True)) for _ in range(20)
    ]
    publishes = [
        asyncio.ensure_future(
            channel.default_exchange.publish(amqpio.Message(b"x"), queue.name)
        )
        for _ in range(200)
    ]
    await asyncio.sleep(0)  # let them send their requests
    await within(connection.close())
    results = await within(
        asyncio.gather(*declares, *publishes, return_exceptions=True)
    )
    for result in results:
        assert not isinstance(result, BaseException) or isinstance(
            result, (exc.AMQPError, exc.ChannelInvalidStateError)
        ), repr(result)
    assert await within(reader) is None  # the iterator ended
    assert channel.is_closed and connection.is_closed
    with pytest.raises(exc.ChannelInvalidStateError):
        await channel.declare_queue(exclusive=True)
    with pytest.raises(exc.AMQPConnectionError):
        await connection.channel()


async def test_broker_closing_the_connection(rabbitmq: Broker) -> None:
    """A broker-side close (its vhost deleted) fails waiters, runs callbacks."""
    need_management(rabbitmq)
    async with scratch_vhost(rabbitmq) as vhost:
        host, port = host_port(rabbitmq.url)
        connection = await amqpio.connect(
            host=host, port=port, virtualhost=vhost, login="guest", password="guest"
        )
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True)
        reasons: list[BaseException | None] = []
        connection.close_callbacks.add(lambda _conn, reason: reasons.append(reason))
        channel_reasons: list[BaseException | None] = []
        channel.close_callbacks.add(lambda _ch, why: channel_reasons.append(why))
        iterator = queue.iterator()
        await iterator.consume()
        reader = asyncio.ensure_future(anext(iterator, None))
        await asyncio.to_thread(
            management, rabbitmq, "DELETE", f"vhosts/{quote(vhost)}"
        )
        await within(connection.closed())
    assert connection.is_closed
    assert await within(reader) is None  # the iterator ended
    assert len(reasons) == 1
    error = reasons[0]
    assert isinstance(error, exc.ConnectionClosed)
    assert error.reply_code == 320  # CONNECTION_FORCED
    assert "CONNECTION_FORCED" in error.reply_text
    assert channel.is_closed and channel_reasons == [error]
    with pytest.raises(exc.ChannelInvalidStateError):
        await channel.default_exchange.publish(amqpio.Message(b"x"), queue.name)
    with pytest.raises(exc.ConnectionClosed):
        await connection.channel()
    await connection.close()  # a no-op, no error


@pytest.fixture
async def relay(
    rabbitmq: Broker, spare_ports: tuple[int, ...]
) -> AsyncIterator[tuple[Relay, str]]:
    relay = Relay(host_port(rabbitmq.url))
    url = await relay.start(spare_ports[2])
    yield relay, url
    await relay.close()


async def test_a_silent_broker_is_detected_by_heartbeats(
    relay: tuple[Relay, str],
) -> None:
    proxy, url = relay
    connection = await amqpio.connect(url + "?heartbeat=1")
    channel = await connection.channel()
    await channel.declare_queue(exclusive=True)
    reasons: list[BaseException | None] = []
    connection.close_callbacks.add(lambda _conn, reason: reasons.append(reason))
    proxy.freeze()
    pending = asyncio.ensure_future(channel.declare_queue(exclusive=True))
    await within(connection.closed())  # about two heartbeat intervals
    with pytest.raises(exc.AMQPConnectionError, match="heartbeat"):
        await within(pending)
    assert channel.is_closed
    assert len(reasons) == 1 and "heartbeat" in str(reasons[0])
    await connection.close()


async def test_connection_lost_mid_request(relay: tuple[Relay, str]) -> None:
    proxy, url = relay
    connection = await amqpio.connect(url)
    channel = await connection.channel()
    queue = await channel.declare_queue(exclusive=True)
    proxy.freeze()  # the requests below get no answer ...
    pending = [
        asyncio.ensure_future(channel.declare_queue(exclusive=True)),
        asyncio.ensure_future(
            channel.default_exchange.publish(amqpio.Message(b"x"), queue.name)
        ),
        asyncio.ensure_future(connection.channel()),
    ]
    await asyncio.sleep(0.05)
    proxy.cut()  # ... before the connection drops
    for result in await within(asyncio.gather(*pending, return_exceptions=True)):
        assert isinstance(result, exc.AMQPConnectionError), repr(result)
    assert connection.is_closed and channel.is_closed
    with pytest.raises(exc.AMQPConnectionError):
        await connection.channel()
    await connection.close()


@pytest.mark.parametrize("request_", ["prefetch_size", "immediate"])
async def test_a_connection_error_from_the_broker_is_raised_and_closes(
    connection: amqpio.Connection, request_: str
) -> None:
    """RabbitMQ implements neither: it closes the connection with 540."""
    channel = await connection.channel()
    reasons: list[BaseException | None] = []
    connection.close_callbacks.add(lambda _conn, reason: reasons.append(reason))
    with pytest.raises(exc.ConnectionNotImplemented) as info:
        if request_ == "prefetch_size":
            await channel.set_qos(prefetch_count=1, prefetch_size=1)
        else:
            await channel.default_exchange.publish(
                amqpio.Message(b"x"), "rk", immediate=True
            )
    assert info.value.reply_code == 540
    assert request_ in info.value.reply_text
    await within(connection.closed())
    assert connection.is_closed and channel.is_closed
    assert reasons == [info.value]


# -- connection.blocked ----------------------------------------------------------


async def test_connection_blocked_by_a_memory_alarm(rabbitmq_ctl: Broker) -> None:
    """A memory alarm blocks publishers: Connection.Blocked, then Unblocked."""
    connection = await amqpio.connect(rabbitmq_ctl.url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True)
        loop = asyncio.get_running_loop()
        blocked: asyncio.Future[tuple[Any, str]] = loop.create_future()
        unblocked: asyncio.Future[Any] = loop.create_future()
        connection.blocked_callbacks.add(
            lambda conn, reason: blocked.done() or blocked.set_result((conn, reason))
        )
        connection.unblocked_callbacks.add(
            lambda conn: unblocked.done() or unblocked.set_result(conn)
        )
        assert not connection.is_blocked
        publishes: list[asyncio.Future[Any]] = []
        try:
            await asyncio.to_thread(rabbitmq_ctl.set_memory_watermark, 0)
            # RabbitMQ blocks a connection when it publishes during the alarm
            publishes.append(
                asyncio.ensure_future(
                    channel.default_exchange.publish(amqpio.Message(b"1"), queue.name)
                )
            )
            conn, reason = await within(blocked, 30)
            assert conn is connection
            assert connection.is_blocked
            assert "memory" in reason
            # confirmed publishes wait while the broker blocks the connection
            publishes.append(
                asyncio.ensure_future(
                    channel.default_exchange.publish(amqpio.Message(b"2"), queue.name)
                )
            )
            done, _ = await asyncio.wait(publishes, timeout=0.5)
            assert publishes[1] not in done
        finally:
            await asyncio.to_thread(rabbitmq_ctl.set_memory_watermark, 0.4)
        assert await within(unblocked, 30) is connection
        assert not connection.is_blocked
        for ack in await within(asyncio.gather(*publishes)):
            assert type(ack).__name__ == "Ack"
        assert await message_count(channel, queue.name) == 2
    finally:
        await connection.close()


async def test_close_while_blocked_fails_pending_publishes(
    rabbitmq_ctl: Broker,
) -> None:
    """The broker reads nothing while it blocks us: close() gives up after 10 s."""
    connection = await amqpio.connect(rabbitmq_ctl.url)
    channel = await connection.channel()
    queue = await channel.declare_queue(exclusive=True)
    blocked = asyncio.Event()
    connection.blocked_callbacks.add(lambda _conn, _reason: blocked.set())
    try:
        await asyncio.to_thread(rabbitmq_ctl.set_memory_watermark, 0)
        publishes = [
            asyncio.ensure_future(
                channel.default_exchange.publish(amqpio.Message(b"x"), queue.name)
            )
            for _ in range(3)
        ]
        await within(blocked.wait(), 30)
        await within(connection.close(), 15)
        for result in await within(asyncio.gather(*publishes, return_exceptions=True)):
            assert isinstance(result, exc.AMQPConnectionError), repr(result)
            assert "Connection.Close" in str(result)
        assert connection.is_closed and channel.is_closed
    finally:
        await asyncio.to_thread(rabbitmq_ctl.set_memory_watermark, 0.4)


async def test_update_secret(connection: amqpio.Connection) -> None:
    ok = await connection.update_secret("guest", reason="rotated", timeout=WAIT)
    assert type(ok).__name__ == "UpdateSecretOk"
    await round_trip(connection)


async def test_a_certificate_for_another_host_is_refused(rabbitmq_tls: Broker) -> None:
    """Hostname verification: the CA is trusted but the certificate names
    localhost/127.0.0.1, not the host asked for ("127.1" reaches the same
    listener through the resolver and is not in the certificate)."""
    url = (
        yarl.URL(rabbitmq_tls.tls_url)
        .with_host("127.1")
        .with_query(cafile=str(rabbitmq_tls.ca_file))
    )
    with pytest.raises(exc.AMQPConnectionError) as info:
        await within(amqpio.connect(url))
    assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)
    assert "127.1" in str(info.value) or "hostname" in str(info.value).lower()
    # the same CA and listener with a name the certificate holds: accepted
    good = yarl.URL(rabbitmq_tls.tls_url).with_query(cafile=str(rabbitmq_tls.ca_file))
    async with await amqpio.connect(good) as connection:
        await round_trip(connection)
