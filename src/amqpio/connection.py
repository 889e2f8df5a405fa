"""Connection and ``connect()``, as aio-pika's."""

from __future__ import annotations

import asyncio
import dataclasses
import ssl as ssl_module
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Literal

from . import exceptions as exc
from ._url import ConnectParams, parse_url
from ._url_object import URL, to_url
from ._version import __version__
from .abc import AbstractConnection, SSLOptions, TimeoutType
from .channel import Channel
from .codec.table import FieldValue
from .log import logger
from .spec import Connection as ConnectionMethods
from .tools import CallbackCollection
from .transport.connect import create_ssl_context, open_connection
from .transport.protocol import AMQPProtocol

__all__ = ("Connection", "connect", "make_url")

log = logger.getChild("connection")


def make_url(
    url: Any = None,
    *,
    host: str = "localhost",
    port: int = 5672,
    login: str = "guest",
    password: str = "guest",
    virtualhost: str = "/",
    ssl: bool = False,
    ssl_options: SSLOptions | None = None,
    client_properties: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> Any:
    """The broker URL ``connect()`` uses, built as aio-pika's ``make_url`` does.

    With ``url`` (a ``str`` or URL object), its query is updated with
    ``kwargs``, ``ssl_options`` and ``client_properties``; without it the
    keywords describe the broker (``amqps`` when ``ssl``). Booleans become
    ``0``/``1`` and ``None`` values are dropped. Returns a ``yarl.URL`` when
    yarl is installed, else amqpio's object with the same reading and
    building API.
    """
    query = dict(kwargs)
    query.update(ssl_options or {})
    query.update(client_properties or {})
    query = {
        key: int(value) if isinstance(value, bool) else value
        for key, value in query.items()
        if value is not None
    }
    if url is not None:
        return to_url(url).update_query(query)
    return URL.build(
        scheme="amqps" if ssl else "amqp",
        host=host,
        port=port,
        user=login,
        password=password,
        path="/" + virtualhost,
        query=query,
    )


def url_of(params: ConnectParams, query: Mapping[str, str] | None = None) -> Any:
    """The URL object of one broker address, password included."""
    return URL.build(
        scheme=params.scheme,
        host=params.host,
        port=params.port,
        user=params.config.username,
        password=params.config.password,
        path="/" + params.config.virtualhost,
        query=dict(query or {}),
    )


class Connection(AbstractConnection):
    """One AMQP connection to the broker.

    ``url`` and the keywords are :func:`connect`'s (parsed by
    :mod:`amqpio._url`), e.g. ``heartbeat``, ``frame_max`` or
    ``handshake_timeout``.
    """

    CHANNEL_CLASS: type[Channel] = Channel

    def __init__(
        self,
        url: Any = None,
        loop: asyncio.AbstractEventLoop | None = None,
        ssl_context: ssl_module.SSLContext | None = None,
        client_properties: Mapping[str, FieldValue] | None = None,
        **kwargs: Any,
    ) -> None:
        self.loop = loop or asyncio.get_event_loop()
        params = parse_url(url, client_properties=client_properties, **kwargs)
        properties = params.config.client_properties
        if "version" not in properties:
            config = dataclasses.replace(
                params.config,
                client_properties={"version": __version__, **properties},
            )
            params = dataclasses.replace(params, config=config)
        self._params: ConnectParams = params
        #: The broker URL (``yarl.URL`` when yarl is installed, else an object
        #: with its API: see :mod:`amqpio._url_object`), password included.
        self.url: Any = url_of(params) if url is None else to_url(url)
        self._ssl_context = ssl_context
        self.transport: AMQPProtocol | None = None
        self._closed: asyncio.Future[Literal[True]] = self.loop.create_future()
        self._close_called = False
        #: What close_callbacks get when close() ends the connection.
        self._close_reason: BaseException | None = None
        self.close_callbacks = CallbackCollection(self)
        #: Called with ``(connection, reason)`` on Connection.Blocked.
        self.blocked_callbacks: CallbackCollection[Connection, [str]] = (
            CallbackCollection(self)
        )
        #: Called with ``(connection,)`` on Connection.Unblocked.
        self.unblocked_callbacks: CallbackCollection[Connection, []] = (
            CallbackCollection(self)
        )
        self.connected: asyncio.Event = asyncio.Event()
        self._blocked = False

    def __str__(self) -> str:
        return self._params.safe_url

    def __repr__(self) -> str:
        return f'<{type(self).__name__}: "{self}">'

    # -- state -----------------------------------------------------------------

    @property
    def is_closed(self) -> bool:
        return self._closed.done()

    @property
    def close_called(self) -> bool:
        return self._close_called

    @property
    def is_blocked(self) -> bool:
        """True while the broker has blocked this connection (resource alarm)."""
        return self._blocked

    @property
    def server_properties(self) -> Mapping[str, FieldValue]:
        """The broker's Connection.Start properties."""
        protocol = self._get_protocol()
        return protocol.core.server_properties

    def closed(self) -> asyncio.Future[Literal[True]]:
        """Awaitable that completes when the connection is closed."""
        return asyncio.shield(self._closed)

    def _get_protocol(self) -> AMQPProtocol:
        if self.transport is None:
            raise RuntimeError("Connection was not opened")
        self.transport.check_open()
        return self.transport

    # -- transport listener ----------------------------------------------------

    def on_blocked(self, reason: str) -> None:
        self._blocked = True
        log.warning("Connection %s blocked by the broker: %s", self, reason)
        self.blocked_callbacks(reason)

    def on_unblocked(self) -> None:
        self._blocked = False
        log.info("Connection %s unblocked", self)
        self.unblocked_callbacks()

    def on_closed(self, error: BaseException) -> None:
        self.connected.clear()
        if not self._closed.done():
            self._closed.set_result(True)
        # closed by close(): the callbacks get close()'s reason, as in aio-pika
        # (None by default), not the Connection.Close handshake's
        self.close_callbacks(self._close_reason if self._close_called else error)

    # -- lifecycle -------------------------------------------------------------

    async def connect(self, timeout: TimeoutType = None) -> None:
        """Open the connection (called by :func:`connect`)."""
        params = self._params
        # as aio-pika: TLS for amqps:// (or ssl=True) only; an ssl_context
        # given with an amqp:// URL is ignored
        context = None
        if params.ssl:
            context = self._ssl_context or create_ssl_context(params.ssl_options)
        self.transport = await open_connection(
            params.host,
            params.port,
            params.config,
            ssl_context=context,
            timeout=timeout if timeout is not None else params.timeout,
            handshake_timeout=params.handshake_timeout,
            listener=self,
        )
        if self._closed.done():
            self._closed = self.loop.create_future()
        self.connected.set()

    def add_close_callback(self, callback: Any, weak: bool = False) -> None:
        """aio-pika 6 API: ``close_callbacks.add(callback, weak=weak)``.

        The callback gets ``(connection, exception or None)``.
        """
        self.close_callbacks.add(callback, weak=weak)

    def remove_close_callback(self, callback: Any) -> None:
        """aio-pika 6 API: ``close_callbacks.discard(callback)``."""
        self.close_callbacks.discard(callback)

    async def ready(self) -> None:
        """Wait until the connection is open."""
        await self.connected.wait()

    def channel(
        self,
        channel_number: int | None = None,
        publisher_confirms: bool = True,
        on_return_raises: bool = False,
    ) -> Channel:
        """A new channel: ``await`` it, or use it with ``async with``."""
        if self.transport is None:
            raise RuntimeError("Connection was not opened")
        return self.CHANNEL_CLASS(
            connection=self,
            channel_number=channel_number,
            publisher_confirms=publisher_confirms,
            on_return_raises=on_return_raises,
        )

    def _begin_close(self, exc: BaseException | type[BaseException] | None) -> None:
        self._close_reason = exc() if isinstance(exc, type) else exc
        self._close_called = True

    async def close(
        self, exc: BaseException | type[BaseException] | None = None
    ) -> None:
        """Close the connection (Connection.Close handshake, then the socket).

        ``close_callbacks`` get ``exc`` (an exception class is instantiated).
        """
        self._begin_close(exc)
        protocol = self.transport
        if protocol is not None and protocol.is_open:
            waiter = protocol.close()
            try:
                await asyncio.wait_for(asyncio.shield(waiter), 10)
            except asyncio.TimeoutError:
                protocol.abort()
        if protocol is not None:
            # return once the socket is closed (TLS needs a round trip more),
            # so that closing the event loop next leaves no transport open
            await protocol.wait_closed(5)
        if not self._closed.done():
            self._closed.set_result(True)
            self.connected.clear()
            self.close_callbacks(self._close_reason)

    async def update_secret(
        self, new_secret: str, *, reason: str = "", timeout: TimeoutType = None
    ) -> ConnectionMethods.UpdateSecretOk:
        """Connection.UpdateSecret: renew the credential (e.g. an OAuth2 token)."""
        future = self._get_protocol().update_secret(new_secret.encode(), reason)
        if timeout is None:
            await future
        else:
            await asyncio.wait_for(future, timeout)
        self.url = self.url.with_password(new_secret)
        return ConnectionMethods.UpdateSecretOk()

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __del__(self) -> None:
        protocol = getattr(self, "transport", None)
        if protocol is not None and protocol.is_open and not self.loop.is_closed():
            protocol.abort()


async def connect(
    url: Any = None,
    *,
    host: str = "localhost",
    port: int = 5672,
    login: str = "guest",
    password: str = "guest",
    virtualhost: str = "/",
    ssl: bool = False,
    loop: asyncio.AbstractEventLoop | None = None,
    ssl_options: SSLOptions | None = None,
    ssl_context: ssl_module.SSLContext | None = None,
    timeout: TimeoutType = None,
    client_properties: Mapping[str, FieldValue] | None = None,
    connection_class: type[Connection] = Connection,
    **kwargs: Any,
) -> Connection:
    """Connect to the broker.

    ``url`` is a ``str`` or any URL object (e.g. ``yarl.URL``), such as
    ``"amqp://guest:guest@localhost/"``; without it the keyword arguments
    describe the broker. As in aio-pika, ``connection_class`` is called with
    the URL from :func:`make_url` (the keywords and ``ssl_options`` in its
    query), ``loop``, ``ssl_context``, ``client_properties`` (when given) and
    ``kwargs``. Raises ``AMQPConnectionError`` (or a subclass such as
    ``ProbableAuthenticationError``) when the connection cannot be made and
    ``asyncio.TimeoutError`` when ``timeout`` runs out.

    Beyond aio-pika, ``handshake_timeout`` (keyword or URL parameter, seconds,
    default 10; ``None`` or 0 disables it) is a deadline on TCP connect, TLS
    and the AMQP handshake together, however slowly the server answers: when
    it passes, :class:`~amqpio.exceptions.HandshakeTimeoutError` (an
    ``AMQPConnectionError`` and an ``asyncio.TimeoutError``) is raised and
    the socket closed. With ``timeout`` as well, the smaller bound applies.
    """
    if not isinstance(url, (list, tuple)):  # a list: connect_robust's failover
        url = make_url(
            url,
            host=host,
            port=port,
            login=login,
            password=password,
            virtualhost=virtualhost,
            ssl=ssl,
            ssl_options=ssl_options,
            **kwargs,
        )
    if client_properties is not None:
        kwargs["client_properties"] = client_properties
    connection = connection_class(url, loop=loop, ssl_context=ssl_context, **kwargs)
    await connection.connect(timeout=timeout)
    return connection


# keep exceptions importable from here, as aio-pika code sometimes does
AMQPConnectionError = exc.AMQPConnectionError
