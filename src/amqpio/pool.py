"""A pool of reusable objects (connections, channels), as aio-pika's ``pool``.

Theory of operation. Items are made lazily by ``constructor(*args)``, at most
``max_size`` of them (no limit when ``max_size`` is falsy), one at a time
(construction holds the pool's lock). ``acquire()`` prefers a released item
(FIFO) over making a new one; once ``max_size`` items exist it waits for a
release. Nothing checks an item's health: a released item is handed out again
as it is (robust connections and channels heal themselves).

``close()`` (or leaving ``async with pool``) marks the pool closed, wakes
every waiting ``acquire()`` with :class:`PoolInvalidStateError`, and closes
every item ever made, concurrently, ignoring their errors. Afterwards
``acquire()`` raises :class:`PoolInvalidStateError`, and so does releasing an
item still held when the pool closed (the exit of its ``async with``).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, Generic, TypeVar

from .abc import PoolInstance
from .log import get_logger

__all__ = (
    "ConstructorType",
    "Pool",
    "PoolInstance",
    "PoolInvalidStateError",
    "PoolItemContextManager",
)

log = get_logger(__name__)

T = TypeVar("T")
#: What a pool is made with: a coroutine function returning a closable item.
ConstructorType = Callable[..., Awaitable[PoolInstance]]


class PoolInvalidStateError(RuntimeError):
    """The pool is closed."""


class Pool(Generic[T]):
    """Hands out up to ``max_size`` items made by ``constructor(*args)``.

    ::

        pool = Pool(get_connection, max_size=2)
        async with pool, pool.acquire() as connection:
            ...

    :param constructor: coroutine function making one item (anything with a
        ``close()``, sync or async, for :meth:`close`).
    :param args: positional arguments of ``constructor``.
    :param max_size: most items alive at once (``None``: unlimited).
    :param loop: kept as ``pool.loop`` for aio-pika compatibility.
    """

    __slots__ = (
        "__closed",
        "__constructor",
        "__constructor_args",
        "__created",
        "__item_set",
        "__items",
        "__lock",
        "__max_size",
        "loop",
    )

    def __init__(
        self,
        constructor: Callable[..., Awaitable[T]],
        *args: Any,
        max_size: int | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.loop = loop or _get_loop()
        self.__closed = False
        self.__constructor = constructor
        self.__constructor_args = args
        self.__created = 0
        self.__item_set: set[Any] = set()
        # None in the queue is the closing wake-up, passed from waiter to waiter
        self.__items: asyncio.Queue[T | None] = asyncio.Queue()
        self.__lock = asyncio.Lock()
        self.__max_size = max_size

    def __repr__(self) -> str:
        state = "closed" if self.__closed else "open"
        return (
            f"<{type(self).__name__} {state} created={self.__created} "
            f"idle={self.__items.qsize()} max_size={self.__max_size}>"
        )

    @property
    def is_closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self.__closed

    def acquire(self) -> PoolItemContextManager[T]:
        """``async with pool.acquire() as item``: an item, released at exit.

        :raises PoolInvalidStateError: the pool is closed (now or while waiting).
        """
        if self.__closed:
            raise PoolInvalidStateError("acquire operation on closed pool")
        return PoolItemContextManager(self)

    @property
    def _has_released(self) -> bool:
        return self.__items.qsize() > 0

    @property
    def _is_overflow(self) -> bool:
        # reuse a released item first; make one only below max_size
        if self.__max_size:
            return self.__created >= self.__max_size or self._has_released
        return self._has_released

    async def _create_item(self) -> T:
        async with self.__lock:
            if self.__closed:
                raise PoolInvalidStateError("create item operation on closed pool")
            if not self._is_overflow:
                log.debug("Creating a new instance of %r", self.__constructor)
                item = await self.__constructor(*self.__constructor_args)
                self.__created += 1
                self.__item_set.add(item)
                return item
        return await self._get_released()

    async def _get_released(self) -> T:
        item = await self.__items.get()
        if self.__closed or item is None:
            self.__items.put_nowait(None)  # wake the next waiter
            raise PoolInvalidStateError("get operation on closed pool")
        return item

    async def _get(self) -> T:
        if self.__closed:
            raise PoolInvalidStateError("get operation on closed pool")
        if self._is_overflow:
            return await self._get_released()
        return await self._create_item()

    def put(self, item: T) -> None:
        """Release ``item`` for reuse.

        :raises PoolInvalidStateError: the pool is closed.
        """
        if self.__closed:
            raise PoolInvalidStateError("put operation on closed pool")
        self.__items.put_nowait(item)

    async def close(self) -> None:
        """Close the pool and every item it made (errors of items are ignored)."""
        async with self.__lock:
            self.__closed = True
            self.__items.put_nowait(None)
            closing = [_close_item(item) for item in self.__item_set]
            if closing:
                await asyncio.gather(*closing, return_exceptions=True)

    async def __aenter__(self) -> Pool[T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        if self.__closed:
            return
        # shielded from the caller's cancellation, as aio-pika's ensure_future
        await asyncio.shield(self.close())


class PoolItemContextManager(Generic[T], AbstractAsyncContextManager[T]):
    """What :meth:`Pool.acquire` returns."""

    __slots__ = ("item", "pool")

    def __init__(self, pool: Pool[T]) -> None:
        self.pool = pool
        self.item: T | None = None

    async def __aenter__(self) -> T:
        self.item = await self.pool._get()
        return self.item

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        if self.item is not None:
            self.pool.put(self.item)


async def _close_item(item: Any) -> None:
    result = item.close()
    if inspect.isawaitable(result):
        await result


def _get_loop() -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.get_event_loop_policy().get_event_loop()
