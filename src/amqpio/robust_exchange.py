"""RobustExchange: an exchange whose bindings are restored after a reconnect."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .abc import (
    AbstractRobustExchange,
    Arguments,
    ExchangeParamType,
    ExchangeType,
    TimeoutType,
)
from .exchange import Exchange, get_exchange_name

if TYPE_CHECKING:
    from .channel import Channel
    from .robust_channel import RobustChannel

__all__ = ("RobustExchange",)


class RobustExchange(Exchange, AbstractRobustExchange):
    """An exchange on a robust channel.

    The channel records the exchange when it is declared with ``robust=True``
    (the default); :meth:`bind` records exchange-to-exchange bindings the same
    way, and both are declared again after a reconnect.
    """

    channel: RobustChannel

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
        super().__init__(
            channel=channel,
            name=name,
            type=type,
            auto_delete=auto_delete,
            durable=durable,
            internal=internal,
            passive=passive,
            arguments=arguments,
        )

    async def restore(self, channel: Any = None) -> None:
        """Declare the exchange and its recorded bindings again."""
        if self.name == "":
            return
        await self.declare()
        topology = self.channel._topology
        for binding in topology.exchange_bindings_of(self.name):
            await Exchange.bind(
                self,
                binding.source,
                binding.routing_key,
                arguments=dict(binding.arguments),
            )

    async def bind(
        self,
        exchange: ExchangeParamType,
        routing_key: str = "",
        *,
        arguments: Arguments = None,
        timeout: TimeoutType = None,
        robust: bool = True,
    ) -> Any:
        """Route messages from ``exchange`` here; ``robust``: rebind after reconnect."""
        result = await super().bind(
            exchange, routing_key, arguments=arguments, timeout=timeout
        )
        if robust:
            self.channel._topology.record_exchange_binding(
                self.name, get_exchange_name(exchange), routing_key, arguments
            )
        return result

    async def unbind(
        self,
        exchange: ExchangeParamType,
        routing_key: str = "",
        arguments: Arguments = None,
        timeout: TimeoutType = None,
    ) -> Any:
        """Remove a binding (and stop restoring it)."""
        result = await super().unbind(exchange, routing_key, arguments, timeout)
        self.channel._topology.forget_exchange_binding(
            self.name, get_exchange_name(exchange), routing_key, arguments
        )
        return result

    async def delete(self, if_unused: bool = False, timeout: TimeoutType = None) -> Any:
        """Delete the exchange (and stop restoring it on every channel)."""
        result = await super().delete(if_unused=if_unused, timeout=timeout)
        self.channel._forget_exchange_everywhere(self.name)
        return result
