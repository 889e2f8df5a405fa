"""Transactions (Tx class) on a channel without publisher confirms."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from .abc import AbstractTransaction, TimeoutType, TransactionState
from .spec import Tx

if TYPE_CHECKING:
    from .channel import Channel

__all__ = ("Transaction",)


class Transaction(AbstractTransaction):
    """``async with channel.transaction():`` commits on success, rolls back on error."""

    def __init__(self, channel: Channel) -> None:
        self.__channel = channel
        self.state: TransactionState = TransactionState.CREATED

    @property
    def channel(self) -> Channel:
        return self.__channel

    def __str__(self) -> str:
        return self.state.value

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.state.value}>"

    async def select(self, timeout: TimeoutType = None) -> Tx.SelectOk:
        """Tx.Select: start transactional mode."""
        result: Tx.SelectOk = await self.channel._request(Tx.Select(), timeout)
        self.state = TransactionState.STARTED
        return result

    async def rollback(self, timeout: TimeoutType = None) -> Tx.RollbackOk:
        """Tx.Rollback: discard publishes and acks since the last commit."""
        result: Tx.RollbackOk = await self.channel._request(Tx.Rollback(), timeout)
        self.state = TransactionState.ROLLED_BACK
        return result

    async def commit(self, timeout: TimeoutType = None) -> Tx.CommitOk:
        """Tx.Commit: apply publishes and acks since the last commit."""
        result: Tx.CommitOk = await self.channel._request(Tx.Commit(), timeout)
        self.state = TransactionState.COMMITED
        return result

    def close(self) -> None:
        """aio-pika 6 API (the seed's transactions example calls it): a no-op.

        A transaction holds nothing to release; the channel stays usable.
        """

    async def __aenter__(self) -> Transaction:
        await self.select()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        if exc_type:
            await self.rollback()
        else:
            await self.commit()
