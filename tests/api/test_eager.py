"""run_eagerly: consumer coroutines run without a task unless they suspend."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any

import pytest

from amqpio._eager import run_eagerly

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="outer")


async def test_a_coroutine_that_never_suspends_finishes_without_a_task() -> None:
    seen: list[str] = []

    async def callback() -> None:
        seen.append("ran")

    assert run_eagerly(callback()) is None
    assert seen == ["ran"]


async def test_a_suspended_coroutine_resumes_with_the_future_result() -> None:
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    seen: list[Any] = []

    async def callback() -> str:
        seen.append("before")
        seen.append(await future)
        await asyncio.sleep(0)
        seen.append("after")
        return "done"

    task = run_eagerly(callback())
    assert task is not None
    assert seen == ["before"]
    future.set_result(42)
    assert await task == "done"
    assert seen == ["before", 42, "after"]


async def test_the_exception_of_an_awaited_future_is_raised_in_the_coroutine() -> None:
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    caught: list[BaseException] = []

    async def callback() -> None:
        try:
            await future
        except KeyError as error:
            caught.append(error)

    task = run_eagerly(callback())
    assert task is not None
    future.set_exception(KeyError("k"))
    await task
    assert len(caught) == 1 and isinstance(caught[0], KeyError)


async def test_cancelling_the_task_cancels_the_coroutine_where_it_waits() -> None:
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def callback() -> None:
        try:
            await future
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    task = run_eagerly(callback())
    assert task is not None
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled"]
    assert future.cancelled()


async def test_awaiting_a_task_and_chained_suspensions() -> None:
    async def inner() -> int:
        await asyncio.sleep(0)
        await asyncio.sleep(0.001)
        return 7

    async def callback() -> int:
        return await asyncio.ensure_future(inner()) + await inner()

    task = run_eagerly(callback())
    assert task is not None
    assert await task == 14


async def test_exceptions_are_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def fails_at_once() -> None:
        raise ValueError("boom")

    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def fails_later() -> None:
        await future
        raise ValueError("later")

    with caplog.at_level(logging.ERROR, logger="amqpio"):
        assert run_eagerly(fails_at_once()) is None
        task = run_eagerly(fails_later())
        assert task is not None
        future.set_result(None)
        assert await task is None  # logged by the task itself, not raised
    records = [
        r
        for r in caplog.records
        if r.getMessage() == "Unhandled exception in consumer callback"
    ]
    assert [str(r.exc_info[1]) for r in records if r.exc_info] == ["boom", "later"]


async def test_context_changes_stay_inside_the_callback() -> None:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def callback() -> None:
        VAR.set("inner")
        await future
        seen.append(VAR.get())

    task = run_eagerly(callback())
    assert VAR.get() == "outer"
    assert task is not None
    future.set_result(None)
    await task
    assert seen == ["inner"]
    assert VAR.get() == "outer"
