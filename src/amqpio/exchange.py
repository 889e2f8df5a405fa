"""Exchange: declare, bind, publish and delete, as aio-pika's Exchange."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .abc import (
    AbstractExchange,
    AbstractMessage,
    Arguments,
    ExchangeParamType,
    ExchangeType,
    TimeoutType,
)
from .spec import Exchange as ExchangeMethods

if TYPE_CHECKING:
    from .channel import Channel

__all__ = ("Exchange", "ExchangeType", "get_exchange_name")


def get_exchange_name(value: ExchangeParamType) -> str:
    """The name of an exchange given as an object or a string."""
    if isinstance(value, str):
        return value
    name = getattr(value, "name", None)
    if isinstance(name, str):
        return name
    raise ValueError(f"exchange must be an Exchange or a str, not {value!r}")


class Exchange(AbstractExchange):
    """An AMQP exchange bound to a channel."""

    def __init__(
        self,
        channel: Channel,
        name: str,
        type: ExchangeType | str = ExchangeType.DIRECT,
        *,
        auto_delete: bool = False,
        durable: bool = False,
        internal: bool = False,
        passive: bool = False,
        arguments: Arguments = None,
    ) -> None:
        self.channel = channel
        self.name = name
        self._type = type.value if isinstance(type, ExchangeType) else type
        self.auto_delete = auto_delete
        self.durable = durable
        self.internal = internal
        self.passive = passive
        self.arguments = arguments or {}

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return (
            f"<Exchange({self}): auto_delete={self.auto_delete}, "
            f"durable={self.durable}, arguments={self.arguments!r})>"
        )

    async def declare(self, timeout: TimeoutType = None) -> ExchangeMethods.DeclareOk:
        """Exchange.Declare with this object's parameters."""
        result: ExchangeMethods.DeclareOk = await self.channel._request(
            ExchangeMethods.Declare(
                exchange=self.name,
                exchange_type=self._type,
                passive=self.passive,
                durable=self.durable,
                auto_delete=self.auto_delete,
                internal=self.internal,
                no_wait=False,
                arguments=self.arguments,
            ),
            timeout,
        )
        return result

    async def bind(
        self,
        exchange: ExchangeParamType,
        routing_key: str = "",
        *,
        arguments: Arguments = None,
        timeout: TimeoutType = None,
    ) -> ExchangeMethods.BindOk:
        """Route messages from ``exchange`` to this exchange."""
        result: ExchangeMethods.BindOk = await self.channel._request(
            ExchangeMethods.Bind(
                destination=self.name,
                source=get_exchange_name(exchange),
                routing_key=routing_key,
                no_wait=False,
                arguments=arguments or {},
            ),
            timeout,
        )
        return result

    async def unbind(
        self,
        exchange: ExchangeParamType,
        routing_key: str = "",
        arguments: Arguments = None,
        timeout: TimeoutType = None,
    ) -> ExchangeMethods.UnbindOk:
        """Remove a binding made with :meth:`bind`."""
        result: ExchangeMethods.UnbindOk = await self.channel._request(
            ExchangeMethods.Unbind(
                destination=self.name,
                source=get_exchange_name(exchange),
                routing_key=routing_key,
                no_wait=False,
                arguments=arguments or {},
            ),
            timeout,
        )
        return result

    async def publish(
        self,
        message: AbstractMessage,
        routing_key: str,
        *,
        mandatory: bool = True,
        immediate: bool = False,
        timeout: TimeoutType = None,
    ) -> Any:
        """Publish a message.

        Returns the broker's Basic.Ack in confirm mode (``None`` otherwise), the
        returned message when a mandatory message was unroutable, and raises
        ``DeliveryError`` when the broker nacks it.
        """
        if self.internal:
            # RabbitMQ would close the channel with 403
            raise ValueError(f"Can not publish to internal exchange: {self.name!r}!")
        return await self.channel._publish(
            self.name, routing_key, message, mandatory, immediate, timeout
        )

    async def delete(
        self, if_unused: bool = False, timeout: TimeoutType = None
    ) -> ExchangeMethods.DeleteOk:
        """Delete the exchange."""
        result: ExchangeMethods.DeleteOk = await self.channel._request(
            ExchangeMethods.Delete(self.name, if_unused, False), timeout
        )
        return result
