"""Consumer callbacks run in a real asyncio Task, as in aio-pika.

Code written for aio-pika starts its callbacks, RPC handlers and Master workers
with ``asyncio.timeout()``, ``asyncio.wait_for()``, ``asyncio.current_task()``,
a ``TaskGroup`` or anyio (httpx, FastStream's dependency injection): all of
them need the code to run inside a task. Each construct runs here in every
place user code is called from a delivery (``queue.consume``, the body of
``queue.iterator()``, a ``patterns.RPC`` handler, a ``Master`` worker), on a
plain and on a robust connection, and the same checks run against aio-pika
(when installed) so that both libraries are held to one result.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any

import pytest

import amqpio
from amqpio.testing.rabbitmq import Broker

from .api_support import unique, within

pytestmark = pytest.mark.integration

anyio = pytest.importorskip("anyio")
sniffio = pytest.importorskip("sniffio")

OPENED: contextvars.ContextVar[str] = contextvars.ContextVar("OPENED", default="-")
LATER: contextvars.ContextVar[str] = contextvars.ContextVar("LATER", default="-")
LEAK: contextvars.ContextVar[str] = contextvars.ContextVar("LEAK", default="-")


async def _timeout() -> str:
    async with asyncio.timeout(5):  # type: ignore[attr-defined,unused-ignore]
        await asyncio.sleep(0)
    return "ok"


async def _wait_for() -> str:
    return await asyncio.wait_for(asyncio.sleep(0, result="ok"), 5)


async def _task_group() -> str:
    async with asyncio.TaskGroup() as group:  # type: ignore[attr-defined,unused-ignore]
        first = group.create_task(asyncio.sleep(0, result="o"))
        second = group.create_task(asyncio.sleep(0, result="k"))
    return str(first.result() + second.result())


async def _anyio() -> str:
    with anyio.move_on_after(5):
        await anyio.sleep(0)
    library: str = sniffio.current_async_library()
    return "ok" if library == "asyncio" else library


async def _current_task() -> asyncio.Task[Any] | None:
    return asyncio.current_task()  # the object itself: ids of dead tasks recur


async def _contextvars() -> str:
    # set before the channel was opened: visible; set after: not (aio-pika's
    # channel reader takes the context when the channel opens); a value one
    # callback sets is not seen by the next (each task has its own copy)
    seen = f"{OPENED.get()}/{LATER.get()}/{LEAK.get()}"
    LEAK.set("leaked")
    return seen


CONSTRUCTS: dict[str, Callable[[], Awaitable[Any]]] = {
    "wait_for": _wait_for,
    "anyio": _anyio,
    "current_task": _current_task,
    "contextvars": _contextvars,
}
if sys.version_info >= (3, 11):
    CONSTRUCTS["timeout"] = _timeout
    CONSTRUCTS["task_group"] = _task_group

EXPECTED = {name: "ok" for name in CONSTRUCTS} | {"contextvars": "opened/-/-"}


async def run_constructs() -> dict[str, Any]:
    """Every construct, as the callback's first action; failures as text."""
    results: dict[str, Any] = {}
    for name, construct in CONSTRUCTS.items():
        try:
            results[name] = await construct()
        except Exception as error:  # reported, so that the assert shows all
            results[name] = f"{type(error).__name__}: {error}"
    return results


def check(results: list[dict[str, Any]], outer: asyncio.Task[Any] | None) -> None:
    """Every construct worked; each message had its own task, not the caller's."""
    tasks = [result.pop("current_task") for result in results]
    assert None not in tasks
    names = [task if isinstance(task, str) else task.get_name() for task in tasks]
    assert len(set(names)) == len(names), names
    assert outer is not None and outer.get_name() not in names
    expected = {k: v for k, v in EXPECTED.items() if k != "current_task"}
    for result in results:
        assert result == expected


def libraries() -> list[Any]:
    params: list[Any] = [pytest.param(amqpio, id="amqpio")]
    try:
        import aio_pika
    except ImportError:  # pragma: no cover - aio-pika is a test dependency
        aio_pika = None
    params.append(
        pytest.param(
            aio_pika,
            id="aio_pika",
            marks=pytest.mark.skipif(aio_pika is None, reason="aio-pika missing"),
        )
    )
    return params


async def open_channel(lib: ModuleType, url: str, robust: bool) -> tuple[Any, Any]:
    connection = await (lib.connect_robust if robust else lib.connect)(url)
    token = OPENED.set("opened")
    try:
        channel = await connection.channel()
    finally:
        OPENED.reset(token)
    LATER.set("later")  # this test's task only: after the channel was opened
    return connection, channel


@pytest.mark.parametrize("robust", [False, True], ids=["plain", "robust"])
@pytest.mark.parametrize("lib", libraries())
async def test_queue_consume_callbacks_run_in_their_own_task(
    rabbitmq: Broker, lib: ModuleType, robust: bool
) -> None:
    connection, channel = await open_channel(lib, rabbitmq.url, robust)
    try:
        queue = await channel.declare_queue(exclusive=True)
        results: list[dict[str, Any]] = []
        done = asyncio.get_running_loop().create_future()

        async def on_message(message: Any) -> None:
            results.append(await run_constructs())
            await message.ack()
            if len(results) == 3 and not done.done():
                done.set_result(None)

        await queue.consume(on_message)
        for index in range(3):
            await channel.default_exchange.publish(
                lib.Message(b"%d" % index), routing_key=queue.name
            )
        await within(done)
        check(results, asyncio.current_task())
    finally:
        await connection.close()


@pytest.mark.parametrize("robust", [False, True], ids=["plain", "robust"])
async def test_a_plain_function_callback_also_runs_in_a_task(
    rabbitmq: Broker, robust: bool
) -> None:
    connection, channel = await open_channel(amqpio, rabbitmq.url, robust)
    try:
        queue = await channel.declare_queue(exclusive=True)
        seen: asyncio.Future[asyncio.Task[Any] | None] = (
            asyncio.get_running_loop().create_future()
        )

        def on_message(message: amqpio.abc.AbstractIncomingMessage) -> None:
            if not seen.done():
                seen.set_result(asyncio.current_task())

        await queue.consume(on_message, no_ack=True)
        await channel.default_exchange.publish(amqpio.Message(b"x"), queue.name)
        task = await within(seen)
        assert task is not None
        assert task is not asyncio.current_task()
    finally:
        await connection.close()


@pytest.mark.parametrize("robust", [False, True], ids=["plain", "robust"])
@pytest.mark.parametrize("lib", libraries())
async def test_queue_iterator_body_runs_in_the_iterating_task(
    rabbitmq: Broker, lib: ModuleType, robust: bool
) -> None:
    connection, channel = await open_channel(lib, rabbitmq.url, robust)
    try:
        queue = await channel.declare_queue(exclusive=True)
        for index in range(3):
            await channel.default_exchange.publish(
                lib.Message(b"%d" % index), routing_key=queue.name
            )
        results: list[dict[str, Any]] = []

        async def iterate() -> None:
            async with queue.iterator() as messages:
                async for message in messages:
                    results.append(await run_constructs())
                    await message.ack()
                    if len(results) == 3:
                        break

        # the body of ``async for`` runs in the task that iterates
        reader = asyncio.ensure_future(iterate())
        await within(reader)
        for result in results:
            assert result.pop("current_task") is reader
            assert result.pop("contextvars").startswith("-/later/")
            assert result == {name: "ok" for name in result}
        assert len(results) == 3
    finally:
        await connection.close()


@pytest.mark.parametrize("robust", [False, True], ids=["plain", "robust"])
@pytest.mark.parametrize("lib", libraries())
async def test_rpc_handlers_run_in_a_task(
    rabbitmq: Broker, lib: ModuleType, robust: bool
) -> None:
    patterns = pytest.importorskip(f"{lib.__name__}.patterns")
    connection, channel = await open_channel(lib, rabbitmq.url, robust)
    try:
        method = unique("rpc-constructs")

        async def handler() -> dict[str, Any]:
            results = await run_constructs()
            task = results["current_task"]  # JSON carries its (unique) name
            results["current_task"] = None if task is None else task.get_name()
            return results

        server = await patterns.JsonRPC.create(channel)
        await server.register(method, handler, auto_delete=True)
        caller_channel = await connection.channel()
        caller = await patterns.JsonRPC.create(caller_channel)
        results = [await within(caller.call(method)) for _ in range(3)]
        check(results, asyncio.current_task())
        await caller.close()
        await server.close()
    finally:
        await connection.close()


@pytest.mark.parametrize("robust", [False, True], ids=["plain", "robust"])
@pytest.mark.parametrize("lib", libraries())
async def test_master_workers_run_in_a_task(
    rabbitmq: Broker, lib: ModuleType, robust: bool
) -> None:
    patterns = pytest.importorskip(f"{lib.__name__}.patterns")
    connection, channel = await open_channel(lib, rabbitmq.url, robust)
    try:
        name = unique("worker-constructs")
        results: list[dict[str, Any]] = []
        done = asyncio.get_running_loop().create_future()

        async def work(*, index: int) -> None:
            results.append(await run_constructs())
            if len(results) == 3 and not done.done():
                done.set_result(None)

        master = patterns.Master(channel)
        worker = await master.create_worker(name, work, auto_delete=True)
        for index in range(3):
            await master.create_task(name, kwargs={"index": index})
        await within(done)
        check(results, asyncio.current_task())
        await worker.close()
    finally:
        await connection.close()


async def test_a_failing_callback_is_logged_and_consuming_goes_on(
    queue: amqpio.Queue, channel: amqpio.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    received: list[bytes] = []
    done = asyncio.get_running_loop().create_future()

    async def on_message(message: amqpio.abc.AbstractIncomingMessage) -> None:
        await message.ack()
        if message.body == b"boom":
            raise ValueError("callback failed")
        received.append(message.body)
        if not done.done():
            done.set_result(None)

    await queue.consume(on_message)
    await channel.default_exchange.publish(amqpio.Message(b"boom"), queue.name)
    await channel.default_exchange.publish(amqpio.Message(b"fine"), queue.name)
    await within(done)
    assert received == [b"fine"]
    failures = [r for r in caplog.records if "consumer callback" in r.getMessage()]
    assert failures and failures[0].exc_info is not None
    assert isinstance(failures[0].exc_info[1], ValueError)
