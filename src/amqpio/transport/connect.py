"""Open a TCP or TLS connection and run the AMQP handshake, with deadlines.

Two bounds can apply to the whole sequence (TCP connect, TLS handshake, AMQP
handshake up to Connection.OpenOk): aio-pika's ``timeout``, which raises a
plain ``asyncio.TimeoutError``, and ``handshake_timeout``, which raises
``HandshakeTimeoutError``. Both are absolute deadlines from the call, not idle
timers, so a server that accepts the connection and then says nothing, or
trickles a byte at a time, cannot hold ``connect()`` for longer. The smaller
one applies; on a tie, ``timeout``'s error (aio-pika's behaviour).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from typing import Any

from .. import exceptions as exc
from ..sansio.config import ConnectionConfig
from .protocol import AMQPProtocol, ConnectionListener

__all__ = ["create_ssl_context", "open_connection"]


def create_ssl_context(options: Mapping[str, Any] | None = None) -> ssl.SSLContext:
    """A client context that verifies the server, from aio-pika's ``ssl_options``.

    Keys: ``cafile``, ``capath``, ``cadata``, ``certfile``, ``keyfile``,
    ``no_verify_ssl`` (and aio-pika's old ``cert_reqs``).
    """
    options = options or {}
    context = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH,
        cafile=options.get("cafile"),
        capath=options.get("capath"),
        cadata=options.get("cadata"),
    )
    certfile = options.get("certfile")
    if certfile:
        context.load_cert_chain(certfile, options.get("keyfile"))
    no_verify = options.get("no_verify_ssl")
    if isinstance(no_verify, str):
        no_verify = no_verify.lower() in ("1", "true", "yes", "on")
    if no_verify or options.get("cert_reqs") == ssl.CERT_NONE:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


async def open_connection(
    host: str,
    port: int,
    config: ConnectionConfig,
    *,
    ssl_context: ssl.SSLContext | None = None,
    timeout: float | None = None,
    handshake_timeout: float | None = None,
    listener: ConnectionListener | None = None,
) -> AMQPProtocol:
    """Connect and complete the handshake; return the running protocol.

    Socket and TLS errors become ``AMQPConnectionError`` (the original chained);
    the broker's refusals keep their own types (``ProbableAuthenticationError``,
    ``ConnectionNotAllowed`` ...). ``timeout`` bounds the whole sequence and
    raises ``asyncio.TimeoutError``; ``handshake_timeout`` bounds it too and
    raises ``HandshakeTimeoutError`` (see the module docstring). On any
    failure the socket is closed.
    """
    loop = asyncio.get_running_loop()
    protocol = AMQPProtocol(config, loop, listener)

    async def establish() -> AMQPProtocol:
        try:
            await loop.create_connection(
                lambda: protocol,
                host,
                port,
                ssl=ssl_context,
                server_hostname=host if ssl_context is not None else None,
            )
        except OSError as error:
            raise exc.AMQPConnectionError(
                f"cannot connect to {host}:{port}: {error}"
            ) from error
        await protocol.opened
        return protocol

    handshake_bound = handshake_timeout is not None and (
        timeout is None or handshake_timeout < timeout
    )
    try:
        if handshake_bound:
            assert handshake_timeout is not None
            try:
                return await asyncio.wait_for(establish(), handshake_timeout)
            except asyncio.TimeoutError as error:
                # establish() raises no TimeoutError of its own (OSErrors,
                # TimeoutError included on 3.11+, become AMQPConnectionError):
                # this is wait_for's
                raise exc.HandshakeTimeoutError(
                    f"no connection to {host}:{port} within the handshake "
                    f"timeout of {handshake_timeout:g} s (TCP, TLS and AMQP "
                    "handshake up to Connection.OpenOk)"
                ) from error
        if timeout is None:
            return await establish()
        return await asyncio.wait_for(establish(), timeout)
    except asyncio.TimeoutError as error:
        # either bound (HandshakeTimeoutError is one): the client gave up, the
        # broker closed nothing; the listener learns that reason
        protocol.abort(error)
        raise
    except BaseException:
        protocol.abort()
        raise
