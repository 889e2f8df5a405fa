"""amqpio.tools and amqpio.log, checked side by side with aio-pika's."""

from __future__ import annotations

import asyncio
import copy
import gc
import logging
from typing import Any

import aio_pika.tools
import pytest

from amqpio import log as amqpio_log
from amqpio import tools
from amqpio.tools import (
    STUB_AWAITABLE,
    CallbackCollection,
    OneShotCallback,
    create_task,
    ensure_awaitable,
    iscoroutinepartial,
    weak_method_callback,
)

IMPLEMENTATIONS = [CallbackCollection, aio_pika.tools.CallbackCollection]


class Sender:
    """A weak-referenceable sender."""


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def __call__(self, sender: Any, *args: Any, **kwargs: Any) -> None:
        self.calls.append((sender, args, kwargs))


@pytest.fixture(params=IMPLEMENTATIONS, ids=["amqpio", "aio_pika"])
def collection_class(request: pytest.FixtureRequest) -> Any:
    return request.param


def test_public_names_match_aio_pika() -> None:
    assert set(aio_pika.tools.__all__) <= set(tools.__all__)


def test_add_contains_len_iter_remove(collection_class: Any) -> None:
    sender = Sender()
    callbacks = collection_class(sender)
    first, second = Recorder(), Recorder()
    assert not callbacks
    callbacks.add(first)
    callbacks.add(second, weak=True)
    assert len(callbacks) == 2
    assert first in callbacks
    assert second in callbacks
    assert set(callbacks) == {first, second}
    assert callbacks
    callbacks.remove(first)
    callbacks.remove(second)
    assert len(callbacks) == 0
    with pytest.raises(KeyError):
        callbacks.remove(first)
    callbacks.discard(first)  # absent: no error


def test_add_rejects_non_callables(collection_class: Any) -> None:
    with pytest.raises(ValueError, match="not callable"):
        collection_class(Sender()).add(42)


def test_clear(collection_class: Any) -> None:
    callbacks = collection_class(Sender())
    callbacks.add(Recorder())
    callbacks.add(Recorder(), weak=True)
    callbacks.clear()
    assert len(callbacks) == 0


def test_frozen_collection_refuses_changes(collection_class: Any) -> None:
    callbacks = collection_class(Sender())
    recorder = Recorder()
    callbacks.add(recorder)
    callbacks.freeze()
    assert callbacks.is_frozen
    for call in (
        lambda: callbacks.add(Recorder()),
        lambda: callbacks.remove(recorder),
        lambda: callbacks.discard(recorder),
        callbacks.clear,
        callbacks.freeze,
    ):
        with pytest.raises(RuntimeError):
            call()
    assert recorder in callbacks
    callbacks.unfreeze()
    assert not callbacks.is_frozen
    with pytest.raises(RuntimeError):
        callbacks.unfreeze()
    callbacks.remove(recorder)


def test_weak_callbacks_go_away(collection_class: Any) -> None:
    callbacks = collection_class(Sender())
    strong, weak = Recorder(), Recorder()
    callbacks.add(strong)
    callbacks.add(weak, weak=True)
    del strong, weak
    gc.collect()
    assert len(callbacks) == 1


def test_call_passes_the_sender_and_arguments(collection_class: Any) -> None:
    sender = Sender()
    callbacks = collection_class(sender)
    recorder = Recorder()
    callbacks.add(recorder)
    result = callbacks(1, key="value")
    assert recorder.calls == [(sender, (1,), {"key": "value"})]
    assert result is not None


def test_sender_is_held_weakly(collection_class: Any) -> None:
    sender = Sender()
    callbacks = collection_class(sender)
    recorder = Recorder()
    callbacks.add(recorder)
    del sender
    gc.collect()
    callbacks("x")
    assert recorder.calls == [(None, ("x",), {})]


async def test_nested_collection_is_called_with_its_own_sender(
    collection_class: Any,
) -> None:
    outer_sender, inner_sender = Sender(), Sender()
    outer = collection_class(outer_sender)
    inner = collection_class(inner_sender)
    recorder = Recorder()
    inner.add(recorder)
    outer.add(inner)
    await outer("event")
    assert recorder.calls == [(inner_sender, ("event",), {})]
    del inner
    gc.collect()
    assert len(outer) == 0  # nested collections are always held weakly


def test_failing_callback_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    callbacks: CallbackCollection[Sender, [int]] = CallbackCollection(Sender())
    recorder = Recorder()

    def broken(sender: Any, value: int) -> None:
        raise RuntimeError("boom")

    callbacks.add(broken)
    callbacks.add(recorder)
    with caplog.at_level(logging.ERROR, logger="amqpio"):
        callbacks(1)
    assert "boom" in caplog.text
    assert len(recorder.calls) == 1


def test_call_without_coroutines_returns_the_stub() -> None:
    callbacks: CallbackCollection[Sender, []] = CallbackCollection(Sender())
    nested: CallbackCollection[Sender, []] = CallbackCollection(Sender())
    callbacks.add(Recorder())
    callbacks.add(nested)
    # no event loop is needed when nothing has to be awaited
    assert callbacks() is STUB_AWAITABLE


async def test_stub_awaitable_completes() -> None:
    await STUB_AWAITABLE


async def test_coroutine_callbacks_are_gathered(collection_class: Any) -> None:
    sender = Sender()
    callbacks = collection_class(sender)
    seen: list[Any] = []

    async def good(sender: Any, value: int) -> int:
        await asyncio.sleep(0)
        seen.append(value)
        return value

    async def bad(sender: Any, value: int) -> None:
        raise ValueError(value)

    callbacks.add(good)
    callbacks.add(bad)
    results = await callbacks(5)
    assert seen == [5]
    assert sorted(map(repr, results)) == sorted([repr(5), repr(ValueError(5))])


def test_copy_keeps_callbacks_and_frozen_state(collection_class: Any) -> None:
    sender = Sender()
    callbacks = collection_class(sender)
    strong, weak = Recorder(), Recorder()
    callbacks.add(strong)
    callbacks.add(weak, weak=True)
    callbacks.freeze()
    clone = copy.copy(callbacks)
    assert clone is not callbacks
    assert set(clone) == {strong, weak}
    assert clone.is_frozen
    clone("a")
    assert strong.calls == [(sender, ("a",), {})]


def test_hash_is_identity(collection_class: Any) -> None:
    first, second = collection_class(Sender()), collection_class(Sender())
    assert hash(first) == id(first)
    assert hash(first) != hash(second)


def test_none_sender_is_allowed() -> None:
    callbacks: CallbackCollection[None, []] = CallbackCollection(None)
    recorder = Recorder()
    callbacks.add(recorder)
    callbacks()
    assert recorder.calls == [(None, (), {})]


# -- other helpers -----------------------------------------------------------------


async def test_create_task_runs_a_coroutine_function() -> None:
    async def double(value: int) -> int:
        return value * 2

    assert await create_task(double, 21) == 42


async def test_create_task_runs_a_plain_function_soon() -> None:
    calls: list[int] = []

    def plain(value: int) -> int:
        calls.append(value)
        return value + 1

    future = create_task(plain, 1)
    assert calls == []
    assert await future == 2
    assert calls == [1]


async def test_create_task_reports_failures_to_the_loop() -> None:
    loop = asyncio.get_running_loop()
    reported: list[BaseException] = []
    loop.set_exception_handler(lambda _, context: reported.append(context["exception"]))
    try:

        def plain() -> None:
            raise KeyError("sync")

        async def coro() -> None:
            raise KeyError("async")

        with pytest.raises(KeyError):
            await create_task(plain)
        with pytest.raises(KeyError):
            await create_task(coro)
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(None)
    assert sorted(str(exc) for exc in reported) == ["'async'", "'sync'"]


async def test_ensure_awaitable() -> None:
    async def coro(value: int) -> int:
        return value

    assert ensure_awaitable(coro) is coro

    def plain(value: int) -> int:
        return value

    with pytest.warns(DeprecationWarning, match="non-coroutine"):
        wrapped = ensure_awaitable(plain)
    with pytest.warns(DeprecationWarning, match="non awaitable"):
        assert await wrapped(3) == 3

    def returns_awaitable(value: int) -> Any:
        return coro(value)

    with pytest.warns(DeprecationWarning):
        wrapped_awaitable = ensure_awaitable(returns_awaitable)
    assert await wrapped_awaitable(4) == 4


def test_iscoroutinepartial_is_deprecated() -> None:
    async def coro() -> None:
        pass

    with pytest.warns(DeprecationWarning):
        assert iscoroutinepartial(coro)


async def test_one_shot_callback_runs_once() -> None:
    calls: list[Any] = []

    async def callback(value: Any) -> None:
        calls.append(value)

    once = OneShotCallback(callback)
    first = once(1)
    second = once(2)
    assert second is STUB_AWAITABLE
    await first
    await once.wait()
    assert once.finished.is_set()
    assert calls == [1]
    assert once(3) is STUB_AWAITABLE
    assert "OneShotCallback" in repr(once)


async def test_one_shot_callback_logs_failures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def callback() -> None:
        raise RuntimeError("once")

    once = OneShotCallback(callback)
    with caplog.at_level(logging.ERROR, logger="amqpio"):
        await once()
        await once.wait()
    assert "once" in caplog.text


def test_weak_method_callback_does_not_keep_the_instance() -> None:
    class Owner:
        def method(self, value: int) -> int:
            return value + 1

    owner = Owner()
    callback = weak_method_callback(owner.method)
    assert callback(1) == 2
    del owner
    gc.collect()
    assert callback(1) is None


def test_logger_names() -> None:
    assert amqpio_log.logger.name == "amqpio"
    assert amqpio_log.get_logger("amqpio.message").name == "amqpio.message"
    assert amqpio_log.get_logger("amqpio").name == "amqpio"
    assert amqpio_log.get_logger("other.module").name == "amqpio.other.module"
    assert tools.log.name == "amqpio.tools"
    assert set(aio_pika.log.__dict__) >= {"logger", "get_logger"}
