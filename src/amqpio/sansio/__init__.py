"""The sans-IO AMQP 0-9-1 client core: bytes and commands in, events and bytes out.

Imports only ``amqpio.spec`` and ``amqpio.codec``; no I/O, clock or logging.
"""

from .config import ConnectionConfig, Tuning
from .connection import Connection
from .errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from .events import (
    ChannelClosed,
    ChannelFlowChanged,
    ChannelOpened,
    ConnectionBlocked,
    ConnectionClosed,
    ConnectionLost,
    ConnectionOpened,
    ConnectionUnblocked,
    ConsumerCancelled,
    DeliveryReceived,
    Event,
    HandshakeFailed,
    HeartbeatTimedOut,
    MessageReturned,
    PublishAcked,
    PublishNacked,
    ReplyReceived,
    SecretUpdated,
)
from .states import ChannelState, ConnectionState, ContentState

__all__ = [
    "ChannelClosed",
    "ChannelFlowChanged",
    "ChannelOpened",
    "ChannelState",
    "Connection",
    "ConnectionBlocked",
    "ConnectionClosed",
    "ConnectionConfig",
    "ConnectionLost",
    "ConnectionOpened",
    "ConnectionState",
    "ConnectionUnblocked",
    "ConsumerCancelled",
    "ContentState",
    "DeliveryReceived",
    "Event",
    "HandshakeFailed",
    "HeartbeatTimedOut",
    "LocalProtocolError",
    "MessageReturned",
    "ProtocolError",
    "PublishAcked",
    "PublishNacked",
    "RemoteProtocolError",
    "ReplyReceived",
    "SecretUpdated",
    "Tuning",
]
