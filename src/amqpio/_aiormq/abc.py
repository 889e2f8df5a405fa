"""``aiormq.abc`` after :func:`amqpio.install_as_aio_pika` (no real aiormq)."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..abc import AbstractChannel, AbstractConnection
from ..codec.table import FieldTable
from ..spec import Basic

__all__ = (
    "AbstractChannel",
    "AbstractConnection",
    "ArgumentsType",
    "ConfirmationFrameType",
    "DeliveredMessage",
    "ExceptionType",
    "TimeoutType",
)

ExceptionType = BaseException | type[BaseException]
TimeoutType = float | int | None
ArgumentsType = FieldTable
ConfirmationFrameType = Basic.Ack | Basic.Nack | Basic.Reject


@dataclasses.dataclass(frozen=True)
class DeliveredMessage:
    """A delivery as aiormq hands it over: what ``IncomingMessage(message)`` reads.

    ``header`` is any object with a ``properties`` attribute (amqpio's
    ``spec.BasicProperties`` or pamqp's ``Basic.Properties``).
    """

    delivery: Any
    header: Any
    body: bytes
    channel: Any

    @property
    def routing_key(self) -> str | None:
        return getattr(self.delivery, "routing_key", None)

    @property
    def exchange(self) -> str | None:
        return getattr(self.delivery, "exchange", None)

    @property
    def delivery_tag(self) -> int | None:
        return getattr(self.delivery, "delivery_tag", None)

    @property
    def redelivered(self) -> bool | None:
        return getattr(self.delivery, "redelivered", None)

    @property
    def consumer_tag(self) -> str | None:
        return getattr(self.delivery, "consumer_tag", None)

    @property
    def message_count(self) -> int | None:
        return getattr(self.delivery, "message_count", None)
