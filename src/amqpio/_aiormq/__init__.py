"""What ``import aiormq`` gives after :func:`amqpio.install_as_aio_pika` when the
real aiormq is not installed: the names aio-pika users import from aiormq.

That is the exception classes (amqpio's own: ``except
aiormq.exceptions.ChannelClosed`` catches what amqpio raises), ``aiormq.abc``
(``DeliveredMessage`` and the type aliases used in annotations) and
``aiormq.spec`` (amqpio's generated spec: ``isinstance(confirmation,
aiormq.spec.Basic.Ack)``). aiormq's own ``Connection`` and ``Channel`` are not
provided: code that drives aiormq directly needs the real aiormq.
"""

from __future__ import annotations

from .. import exceptions, spec
from ..exceptions import (
    AMQPChannelError,
    AMQPConnectionError,
    AMQPError,
    AMQPException,
    AuthenticationError,
    ChannelAccessRefused,
    ChannelClosed,
    ChannelInvalidStateError,
    ChannelLockedResource,
    ChannelNotFoundEntity,
    ChannelPreconditionFailed,
    ConnectionChannelError,
    ConnectionClosed,
    ConnectionCommandInvalid,
    ConnectionFrameError,
    ConnectionInternalError,
    ConnectionNotAllowed,
    ConnectionNotImplemented,
    ConnectionResourceError,
    ConnectionSyntaxError,
    ConnectionUnexpectedFrame,
    DeliveryError,
    DuplicateConsumerTag,
    IncompatibleProtocolError,
    InvalidFrameError,
    MethodNotImplemented,
    ProbableAuthenticationError,
    ProtocolSyntaxError,
    PublishError,
)
from . import abc

__all__ = (
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
    "IncompatibleProtocolError",
    "InvalidFrameError",
    "MethodNotImplemented",
    "ProbableAuthenticationError",
    "ProtocolSyntaxError",
    "PublishError",
    "abc",
    "exceptions",
    "spec",
)
