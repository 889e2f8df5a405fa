"""amqpio.pool without a broker, checked side by side with aio-pika's pool."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import aio_pika.pool
import pytest

import amqpio
from amqpio import pool as amqpio_pool
from amqpio.abc import PoolInstance
from helpers.reference import AIO_PIKA_10

IMPLEMENTATIONS = [amqpio_pool, aio_pika.pool]
IDS = ["amqpio", "aio_pika"]


class Item:
    """A pooled object that records whether it was closed."""

    def __init__(self, number: int, fail_close: bool = False) -> None:
        self.number = number
        self.closed = False
        self.fail_close = fail_close

    async def close(self) -> None:
        self.closed = True
        if self.fail_close:
            raise RuntimeError("close failed")


class Factory:
    """A constructor that counts what it made (optionally slowly)."""

    def __init__(self, delay: float = 0.0, fail_close: bool = False) -> None:
        self.made: list[Item] = []
        self.args: list[tuple[Any, ...]] = []
        self.delay = delay
        self.fail_close = fail_close

    async def __call__(self, *args: Any) -> Item:
        self.args.append(args)
        if self.delay:
            await asyncio.sleep(self.delay)
        item = Item(len(self.made), self.fail_close)
        self.made.append(item)
        return item


@pytest.fixture(params=IMPLEMENTATIONS, ids=IDS)
def lib(request: pytest.FixtureRequest) -> Any:
    return request.param


def test_public_names() -> None:
    assert amqpio.pool is amqpio_pool
    assert "pool" in amqpio.__all__
    for name in ("Pool", "PoolInstance", "PoolInvalidStateError", "ConstructorType"):
        assert hasattr(amqpio_pool, name), name
    assert amqpio_pool.PoolInstance is PoolInstance
    assert issubclass(amqpio_pool.PoolInvalidStateError, RuntimeError)
    ours = inspect.signature(amqpio_pool.Pool.__init__)
    theirs = inspect.signature(aio_pika.pool.Pool.__init__)
    assert list(ours.parameters) == list(theirs.parameters)
    for name in ("max_size", "loop"):
        assert ours.parameters[name].default == theirs.parameters[name].default
        assert ours.parameters[name].kind is inspect.Parameter.KEYWORD_ONLY


async def test_item_is_reused_after_release(lib: Any) -> None:
    factory = Factory()
    pool = lib.Pool(factory, "a", 1, max_size=3)
    async with pool.acquire() as first:
        pass
    async with pool.acquire() as second:
        pass
    assert first is second
    assert len(factory.made) == 1
    assert factory.args == [("a", 1)]
    await pool.close()


async def test_concurrent_acquires_make_up_to_max_size(lib: Any) -> None:
    factory = Factory(delay=0.001)
    pool = lib.Pool(factory, max_size=3)
    held: list[Item] = []
    in_use = 0
    peak = 0

    async def user() -> None:
        nonlocal in_use, peak
        async with pool.acquire() as item:
            in_use += 1
            peak = max(peak, in_use)
            held.append(item)
            await asyncio.sleep(0.002)
            in_use -= 1

    await asyncio.gather(*(user() for _ in range(30)))
    assert len(factory.made) == 3
    assert peak == 3
    assert {id(item) for item in held} == {id(item) for item in factory.made}
    await pool.close()


async def test_unlimited_pool_makes_one_item_per_concurrent_user(lib: Any) -> None:
    factory = Factory()
    pool = lib.Pool(factory)
    entered = asyncio.Event()
    count = 0

    async def user() -> None:
        nonlocal count
        async with pool.acquire():
            count += 1
            if count == 5:
                entered.set()
            await entered.wait()

    await asyncio.gather(*(user() for _ in range(5)))
    assert len(factory.made) == 5
    await pool.close()


async def test_released_items_are_handed_out_in_fifo_order(lib: Any) -> None:
    factory = Factory()
    pool = lib.Pool(factory, max_size=2)
    a = await pool._get()
    b = await pool._get()
    pool.put(b)
    pool.put(a)
    assert await pool._get() is b
    assert await pool._get() is a
    await pool.close()


async def test_close_closes_every_item_and_ignores_their_errors(lib: Any) -> None:
    factory = Factory(fail_close=True)
    pool = lib.Pool(factory, max_size=2)
    async with pool.acquire(), pool.acquire():
        pass
    assert not pool.is_closed
    await pool.close()
    assert pool.is_closed
    assert [item.closed for item in factory.made] == [True, True]


async def test_acquire_after_close_raises(lib: Any) -> None:
    pool = lib.Pool(Factory(), max_size=1)
    await pool.close()
    with pytest.raises(lib.PoolInvalidStateError):
        pool.acquire()
    with pytest.raises(lib.PoolInvalidStateError):
        await pool._get()
    with pytest.raises(lib.PoolInvalidStateError):
        pool.put(Item(0))


async def test_close_wakes_every_waiter_with_pool_invalid_state(lib: Any) -> None:
    factory = Factory()
    pool = lib.Pool(factory, max_size=1)
    holder = pool.acquire()
    await holder.__aenter__()

    async def waiter() -> None:
        async with pool.acquire():
            pass

    if lib is aio_pika.pool and not AIO_PIKA_10:
        pytest.skip("aio-pika 9.6's close() leaves the waiters waiting for ever")
    waiters = [asyncio.ensure_future(waiter()) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(task.done() for task in waiters)
    await pool.close()
    results = await asyncio.wait_for(
        asyncio.gather(*waiters, return_exceptions=True), 10
    )
    assert all(isinstance(r, lib.PoolInvalidStateError) for r in results), results
    # releasing an item still held when the pool closed raises too (aio-pika)
    with pytest.raises(lib.PoolInvalidStateError):
        await holder.__aexit__(None, None, None)
    assert factory.made[0].closed


async def test_async_with_pool_closes_it_once(lib: Any) -> None:
    factory = Factory()
    async with lib.Pool(factory, max_size=1) as pool, pool.acquire():
        pass
    assert pool.is_closed
    assert factory.made[0].closed
    await pool.__aexit__(None, None, None)  # already closed: nothing happens


async def test_constructor_failure_does_not_use_a_slot(lib: Any) -> None:
    calls = 0

    async def flaky() -> Item:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("first attempt fails")
        return Item(calls)

    pool = lib.Pool(flaky, max_size=1)
    with pytest.raises(ConnectionError):
        async with pool.acquire():
            pass
    async with pool.acquire() as item:
        assert item.number == 2
    await pool.close()


async def test_exception_in_block_still_releases_the_item(lib: Any) -> None:
    factory = Factory()
    pool = lib.Pool(factory, max_size=1)
    with pytest.raises(KeyError):
        async with pool.acquire():
            raise KeyError("boom")
    async with pool.acquire() as item:
        assert item is factory.made[0]
    await pool.close()


async def test_loop_argument_is_kept() -> None:
    loop = asyncio.get_running_loop()
    pool = amqpio_pool.Pool(Factory(), max_size=1, loop=loop)
    assert pool.loop is loop
    assert amqpio_pool.Pool(Factory()).loop is loop
    assert "max_size=1" in repr(pool)
