"""Exceptions with aio-pika's names and hierarchy, and the reply-code registry.

Broker closes map to classes by reply code (``channel_exception`` and
``connection_exception``); every such exception also carries the code, text
and failing method as attributes, which aio-pika's do not.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from .spec import ReplyCode

__all__ = (
    "CONNECTION_EXCEPTIONS",
    "AMQPChannelError",
    "AMQPConnectionError",
    "AMQPError",
    "AMQPException",
    "AuthenticationError",
    "ChannelAccessRefused",
    "ChannelClosed",
    "ChannelInvalidStateError",
    "ChannelLockedResource",
    "ChannelNotFoundEntity",
    "ChannelPreconditionFailed",
    "ConnectionChannelError",
    "ConnectionClosed",
    "ConnectionCommandInvalid",
    "ConnectionFrameError",
    "ConnectionInternalError",
    "ConnectionNotAllowed",
    "ConnectionNotImplemented",
    "ConnectionResourceError",
    "ConnectionSyntaxError",
    "ConnectionUnexpectedFrame",
    "DeliveryError",
    "DuplicateConsumerTag",
    "HandshakeTimeoutError",
    "IncompatibleProtocolError",
    "InvalidFrameError",
    "MessageProcessError",
    "MethodNotImplemented",
    "ProbableAuthenticationError",
    "ProtocolSyntaxError",
    "PublishConfirmTimeoutError",
    "PublishError",
    "PublishOutcomeUnknown",
    "PublishOutcomeUnknownError",
    "QueueEmpty",
    "RecoveryTimeoutError",
    "channel_exception",
    "connection_exception",
)


class AMQPError(Exception):
    """Base of every amqpio error."""

    reason: ClassVar[str] = "An unspecified AMQP error has occurred: %s"

    def __repr__(self) -> str:
        try:
            return f"<{type(self).__name__}: {self.reason % self.args}>"
        except TypeError:
            return f"<{type(self).__name__}: {self.args!r}>"


#: aio-pika's older name for :class:`AMQPError`.
AMQPException = AMQPError


class AMQPConnectionError(AMQPError, ConnectionError):
    """The connection failed or was lost."""

    reason: ClassVar[str] = "Unexpected connection problem"

    def __repr__(self) -> str:
        if self.args:
            return f"<{type(self).__name__}: {self.args!r}>"
        return AMQPError.__repr__(self)


class IncompatibleProtocolError(AMQPConnectionError):
    """The server does not speak AMQP 0-9-1."""

    reason: ClassVar[str] = "The protocol returned by the server is not supported"


class AuthenticationError(AMQPConnectionError):
    """No SASL mechanism acceptable to both sides."""

    reason: ClassVar[str] = (
        "Server and client could not negotiate use of the authentication "
        "mechanisms. Server supports only %r, but client supports only %r."
    )


class ProbableAuthenticationError(AMQPConnectionError):
    """The broker refused the credentials (or dropped the socket during login)."""

    reason: ClassVar[str] = (
        "Client was disconnected at a connection stage indicating a "
        "probable authentication error: %s"
    )


class HandshakeTimeoutError(AMQPConnectionError, asyncio.TimeoutError):
    """The connection was not open within ``handshake_timeout``.

    The deadline covers TCP connect, TLS and the AMQP handshake up to
    Connection.OpenOk, however slowly the server sends; the socket is closed.
    Both an :class:`AMQPConnectionError` and an ``asyncio.TimeoutError``
    (the builtin ``TimeoutError`` from Python 3.11), so handlers written for
    aio-pika's connect errors or timeouts catch it.
    """

    reason: ClassVar[str] = "Handshake not completed in time: %s"


class _BrokerClose:
    """Reply details of a broker-initiated close, shared by both families."""

    reply_code: int | None
    reply_text: str
    class_id: int
    method_id: int

    def __init__(self, *args: Any) -> None:
        # aio-pika's positional form: (reply_code, reply_text); subclasses made
        # by the registry get (reply_text,) and _set_reply afterwards
        super().__init__(*args)
        code = args[0] if args and isinstance(args[0], int) else None
        text = args[1] if len(args) > 1 and isinstance(args[1], str) else ""
        self._set_reply(code, text, 0, 0)

    def _set_reply(
        self, reply_code: int | None, reply_text: str, class_id: int, method_id: int
    ) -> None:
        self.reply_code = reply_code
        self.reply_text = reply_text
        self.class_id = class_id
        self.method_id = method_id


class ConnectionClosed(_BrokerClose, AMQPConnectionError):
    """The connection was closed; by the broker when ``reply_code`` is set."""

    reason: ClassVar[str] = "The AMQP connection was closed (%s) %s"


class ConnectionSyntaxError(ConnectionClosed):
    """502 SYNTAX_ERROR."""

    reason: ClassVar[str] = "The sender sent a frame with illegal values: %r"


class ConnectionFrameError(ConnectionClosed):
    """501 FRAME_ERROR."""

    reason: ClassVar[str] = "The sender sent a malformed frame: %r"


class ConnectionCommandInvalid(ConnectionClosed):
    """503 COMMAND_INVALID."""

    reason: ClassVar[str] = "The client sent an invalid sequence of frames: %r"


class ConnectionChannelError(ConnectionClosed):
    """504 CHANNEL_ERROR."""

    reason: ClassVar[str] = "The client attempted to work with a closed channel: %r"


class ConnectionUnexpectedFrame(ConnectionClosed):
    """505 UNEXPECTED_FRAME."""

    reason: ClassVar[str] = "The peer sent a frame that was not expected: %r"


class ConnectionResourceError(ConnectionClosed):
    """506 RESOURCE_ERROR."""

    reason: ClassVar[str] = "The server ran out of a resource: %r"


class ConnectionNotAllowed(ConnectionClosed):
    """530 NOT_ALLOWED, e.g. an unknown or forbidden virtual host."""

    reason: ClassVar[str] = "The operation is not allowed: %r"


class ConnectionNotImplemented(ConnectionClosed):
    """540 NOT_IMPLEMENTED."""

    reason: ClassVar[str] = "The functionality is not implemented by the server: %r"


class ConnectionInternalError(ConnectionClosed):
    """541 INTERNAL_ERROR."""

    reason: ClassVar[str] = "The server hit an internal error: %r"


class AMQPChannelError(AMQPError):
    """Base of channel-level errors."""

    reason: ClassVar[str] = "An unspecified AMQP channel error has occurred"


class ChannelClosed(_BrokerClose, AMQPChannelError):
    """The channel was closed; by the broker when ``reply_code`` is set."""

    reason: ClassVar[str] = "The channel was closed (%s) %s"


class ChannelAccessRefused(ChannelClosed):
    """403 ACCESS_REFUSED."""

    reason: ClassVar[str] = (
        "The client attempted to work with a server entity to which it has no "
        "access due to security settings: %r"
    )


class ChannelNotFoundEntity(ChannelClosed):
    """404 NOT_FOUND, e.g. a passive declare of a missing queue."""

    reason: ClassVar[str] = (
        "The client attempted to work with a server entity that does not exist: %r"
    )


class ChannelLockedResource(ChannelClosed):
    """405 RESOURCE_LOCKED, e.g. another connection's exclusive queue."""

    reason: ClassVar[str] = (
        "The client attempted to work with a server entity to which it has no "
        "access because another client is working with it: %r"
    )


class ChannelPreconditionFailed(ChannelClosed):
    """406 PRECONDITION_FAILED, e.g. a redeclare with other arguments."""

    reason: ClassVar[str] = (
        "The client requested a method that was not allowed because some "
        "precondition failed: %r"
    )


class DuplicateConsumerTag(ChannelClosed):
    """530 NOT_ALLOWED on Basic.Consume with a tag already in use."""

    reason: ClassVar[str] = (
        "The consumer tag specified already exists for this channel: %s"
    )


class ProtocolSyntaxError(AMQPError):
    """Peer bytes that violate the protocol."""

    reason: ClassVar[str] = "An unspecified protocol syntax error occurred"


class InvalidFrameError(ProtocolSyntaxError):
    """A frame that could not be decoded."""

    reason: ClassVar[str] = "Invalid frame received: %r"


class MethodNotImplemented(AMQPError):
    """A method the client does not implement."""


class DeliveryError(AMQPError):
    """A publish was nacked or returned by the broker.

    ``message`` is the returned message (``None`` for a nack) and ``frame`` the
    broker's method (``Basic.Nack`` or ``Basic.Return``).
    """

    reason: ClassVar[str] = "Error when delivery message %r, frame %r"

    def __init__(self, message: Any, frame: Any, *args: Any) -> None:
        self.message = message
        self.frame = frame
        super().__init__(message, frame, *args)

    def __str__(self) -> str:
        frame = self.frame
        name = getattr(frame, "NAME", type(frame).__name__)
        fields = getattr(frame, "FIELDS", ())
        details = ", ".join(f"{n}={getattr(frame, n)!r}" for n, _ in fields)
        return f"Message delivery failed: {name}({details})"

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self}>"


class PublishError(DeliveryError):
    """A mandatory publish came back unroutable (Basic.Return)."""

    reason: ClassVar[str] = "%r for routing key %r"


class ChannelInvalidStateError(RuntimeError):
    """The channel is closed (or closing) and cannot be used."""


class MessageProcessError(AMQPError):
    """A message was already acked, nacked or rejected."""

    reason: ClassVar[str] = "%s: %r"


class QueueEmpty(AMQPError, asyncio.QueueEmpty):
    """``Queue.get(fail=True)`` found no message."""


class PublishOutcomeUnknownError(AMQPConnectionError, ChannelInvalidStateError):
    """The connection dropped while the broker's confirm of a publish was pending.

    The message was written to the socket, so the broker may or may not have
    routed it: this is neither a confirm nor a nack. Publish it again if
    duplicates are acceptable. Raised by robust channels. aio-pika fails such
    publishes with ``AMQPConnectionError`` or ``ChannelInvalidStateError``
    (checked against aio-pika 10 with a cut connection): this is a subclass of
    both, so existing handlers still catch it. ``message``, ``exchange`` and
    ``routing_key`` say what was published.
    """

    reason: ClassVar[str] = "Outcome of the publish is unknown: %s"

    def __init__(
        self,
        text: str,
        message: Any = None,
        exchange: str = "",
        routing_key: str = "",
        delivery_tag: int | None = None,
    ) -> None:
        super().__init__(text)
        self.message = message
        self.exchange = exchange
        self.routing_key = routing_key
        #: The publish's delivery tag on its channel, when it was assigned.
        self.delivery_tag = delivery_tag


#: Short name of :class:`PublishOutcomeUnknownError`.
PublishOutcomeUnknown = PublishOutcomeUnknownError


class PublishConfirmTimeoutError(PublishOutcomeUnknownError, asyncio.TimeoutError):
    """A published message was written but its confirm did not come in time.

    Raised by ``publish(..., timeout=...)`` in confirm mode instead of a bare
    ``asyncio.TimeoutError`` (it is one, so aio-pika code still catches it):
    the broker may still route the message (for example once it stops
    blocking the connection), so publishing it again may duplicate it. A
    confirm that arrives later is passed to the channel's
    ``late_confirm_callbacks`` with this exception. ``delivery_tag`` is set.
    """

    reason: ClassVar[str] = "No confirm in time: %s"


class RecoveryTimeoutError(AMQPConnectionError, asyncio.TimeoutError):
    """A call on a robust connection waited for recovery longer than its timeout.

    Raised instead of waiting for ever while the connection (or the channel)
    is being re-established. Both an :class:`AMQPConnectionError` and an
    ``asyncio.TimeoutError``.
    """

    reason: ClassVar[str] = "Not recovered in time: %s"


#: What a robust connection treats as "connection lost, reconnect".
CONNECTION_EXCEPTIONS: tuple[type[BaseException], ...] = (
    AMQPError,
    ConnectionError,
    OSError,
    RuntimeError,
    StopAsyncIteration,
)

_CHANNEL_EXCEPTIONS: dict[int, type[ChannelClosed]] = {
    ReplyCode.ACCESS_REFUSED: ChannelAccessRefused,
    ReplyCode.NOT_FOUND: ChannelNotFoundEntity,
    ReplyCode.RESOURCE_LOCKED: ChannelLockedResource,
    ReplyCode.PRECONDITION_FAILED: ChannelPreconditionFailed,
}

_CONNECTION_EXCEPTIONS: dict[int, type[ConnectionClosed]] = {
    ReplyCode.FRAME_ERROR: ConnectionFrameError,
    ReplyCode.SYNTAX_ERROR: ConnectionSyntaxError,
    ReplyCode.COMMAND_INVALID: ConnectionCommandInvalid,
    ReplyCode.CHANNEL_ERROR: ConnectionChannelError,
    ReplyCode.UNEXPECTED_FRAME: ConnectionUnexpectedFrame,
    ReplyCode.RESOURCE_ERROR: ConnectionResourceError,
    ReplyCode.NOT_ALLOWED: ConnectionNotAllowed,
    ReplyCode.NOT_IMPLEMENTED: ConnectionNotImplemented,
    ReplyCode.INTERNAL_ERROR: ConnectionInternalError,
}


def channel_exception(
    reply_code: int, reply_text: str, class_id: int = 0, method_id: int = 0
) -> ChannelClosed:
    """The exception for a broker Channel.Close (aio-pika's mapping by code)."""
    cls = _CHANNEL_EXCEPTIONS.get(reply_code)
    exc = cls(reply_text) if cls is not None else ChannelClosed(reply_code, reply_text)
    exc._set_reply(reply_code, reply_text, class_id, method_id)
    return exc


def connection_exception(
    reply_code: int, reply_text: str, class_id: int = 0, method_id: int = 0
) -> ConnectionClosed:
    """The exception for a broker Connection.Close, mapped by reply code."""
    cls = _CONNECTION_EXCEPTIONS.get(reply_code)
    exc = (
        cls(reply_text) if cls is not None else ConnectionClosed(reply_code, reply_text)
    )
    exc._set_reply(reply_code, reply_text, class_id, method_id)
    return exc
