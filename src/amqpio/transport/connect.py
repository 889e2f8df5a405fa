"""Open a TCP or TLS connection and run the AMQP handshake, with a timeout."""

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
    listener: ConnectionListener | None = None,
) -> AMQPProtocol:
    """Connect and complete the handshake; return the running protocol.

    Socket and TLS errors become ``AMQPConnectionError`` (the original chained);
    the broker's refusals keep their own types (``ProbableAuthenticationError``,
    ``ConnectionNotAllowed`` ...). ``timeout`` bounds the whole sequence and
    raises ``asyncio.TimeoutError``.
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

    try:
        if timeout is None:
            return await establish()
        return await asyncio.wait_for(establish(), timeout)
    except BaseException:
        protocol.abort()
        raise
