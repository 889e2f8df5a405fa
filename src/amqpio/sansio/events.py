"""Events: what happened, as frozen past-tense facts, complete when emitted.

The driver resolves its futures from events alone: channel-level events carry
``channel_id``; replies carry the ``request_id`` that the command returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..codec.table import FieldTable
from ..spec.methods import Basic, Method
from ..spec.properties import BasicProperties
from .config import Tuning

__all__ = [
    "ChannelClosed",
    "ChannelFlowChanged",
    "ChannelOpened",
    "ConnectionBlocked",
    "ConnectionClosed",
    "ConnectionLost",
    "ConnectionOpened",
    "ConnectionUnblocked",
    "ConsumerCancelled",
    "DeliveryReceived",
    "Event",
    "HandshakeFailed",
    "HeartbeatTimedOut",
    "MessageReturned",
    "PublishAcked",
    "PublishNacked",
    "ReplyReceived",
    "SecretUpdated",
]


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every event."""


# -- connection --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConnectionOpened(Event):
    """The handshake completed (Connection.OpenOk received)."""

    tuning: Tuning
    server_properties: FieldTable
    mechanism: str


@dataclass(frozen=True, slots=True)
class ConnectionClosed(Event):
    """The close handshake completed; nothing more is sent or read.

    ``by_broker`` is True when the broker sent Connection.Close (the core has
    queued the CloseOk), False when the client's close was answered. During
    the handshake this is how 403 ACCESS_REFUSED (bad credentials) and 530
    NOT_ALLOWED (unknown or forbidden vhost) arrive.
    """

    reply_code: int
    reply_text: str
    class_id: int
    method_id: int
    by_broker: bool


@dataclass(frozen=True, slots=True)
class ConnectionLost(Event):
    """The peer closed the socket without the close handshake.

    ``probable_authentication_failure``: the socket closed after StartOk and
    before Tune, which is how brokers without the
    ``authentication_failure_close`` capability reject credentials.
    ``probable_access_refused``: it closed after Connection.Open was sent.
    """

    during_handshake: bool
    probable_authentication_failure: bool
    probable_access_refused: bool


@dataclass(frozen=True, slots=True)
class HandshakeFailed(Event):
    """The handshake cannot go on; close the socket, nothing more is sent.

    ``protocol-version``: the broker answered with its own protocol header
    (``server_header``) or an unsupported version in Connection.Start.
    ``no-mechanism``: the broker offers no SASL mechanism the config allows.
    """

    reason: Literal["protocol-version", "no-mechanism"]
    detail: str
    server_header: bytes = b""


@dataclass(frozen=True, slots=True)
class ConnectionBlocked(Event):
    """Connection.Blocked: the broker stopped reading from this connection."""

    reason: str


@dataclass(frozen=True, slots=True)
class ConnectionUnblocked(Event):
    """Connection.Unblocked: the broker reads again."""


@dataclass(frozen=True, slots=True)
class SecretUpdated(Event):
    """Connection.UpdateSecretOk answered ``Connection.update_secret``."""


@dataclass(frozen=True, slots=True)
class HeartbeatTimedOut(Event):
    """No bytes arrived for two heartbeat timeouts; the peer is presumed dead.

    The core is CLOSED: the driver aborts the transport.
    """

    last_received_at: float


# -- channels ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChannelOpened(Event):
    """Channel.OpenOk arrived."""

    channel_id: int


@dataclass(frozen=True, slots=True)
class ChannelClosed(Event):
    """The channel is closed and its number free again.

    ``by_broker``: the broker sent Channel.Close (answered by the core) with
    the reply fields; otherwise the client's close completed.
    ``pending_requests`` lists the request ids that will never be answered and
    ``unconfirmed`` the delivery tags that will never be acked or nacked.
    """

    channel_id: int
    reply_code: int
    reply_text: str
    class_id: int
    method_id: int
    by_broker: bool
    pending_requests: tuple[int, ...] = ()
    unconfirmed: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class ChannelFlowChanged(Event):
    """Channel.Flow from the broker (answered with FlowOk by the core)."""

    channel_id: int
    active: bool


@dataclass(frozen=True, slots=True)
class ReplyReceived(Event):
    """The reply to the synchronous request ``request_id`` arrived."""

    channel_id: int
    request_id: int
    request: Method
    reply: Method


@dataclass(frozen=True, slots=True)
class DeliveryReceived(Event):
    """A complete message: Basic.Deliver, or Basic.GetOk answering a Get.

    ``request_id`` is the Basic.Get's request id for GetOk, else ``None``.
    """

    channel_id: int
    method: Basic.Deliver | Basic.GetOk
    properties: BasicProperties
    body: bytes
    request_id: int | None = None


@dataclass(frozen=True, slots=True)
class MessageReturned(Event):
    """A complete Basic.Return (unroutable mandatory message)."""

    channel_id: int
    method: Basic.Return
    properties: BasicProperties
    body: bytes


@dataclass(frozen=True, slots=True)
class PublishAcked(Event):
    """The broker confirmed the publish with this delivery tag."""

    channel_id: int
    delivery_tag: int


@dataclass(frozen=True, slots=True)
class PublishNacked(Event):
    """The broker refused the publish with this delivery tag."""

    channel_id: int
    delivery_tag: int


@dataclass(frozen=True, slots=True)
class ConsumerCancelled(Event):
    """The broker cancelled a consumer (Basic.Cancel, consumer_cancel_notify)."""

    channel_id: int
    consumer_tag: str
