"""Run a consumer coroutine eagerly: no task unless it actually suspends.

aio-pika schedules a task for every delivered message. Most consumer
callbacks (``async def on_message(m): ...; await m.ack()``) never suspend,
because amqpio's ack only queues bytes. Stepping the coroutine once right away
finishes those with no task and no extra event-loop iteration; a coroutine that
does suspend is handed to a task that resumes it exactly as ``asyncio.Task``
would (this is what Python 3.12's ``eager_start`` does, for 3.10+).

The first step runs in a copy of the current context, like a task.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine, Generator
from typing import Any

from .log import logger

__all__ = ["log_consumer_failure", "run_eagerly"]

log = logger.getChild("consumer")


def run_eagerly(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
    """Start ``coro`` now; return the task finishing it, or None if it finished.

    Exceptions are logged (as an unretrieved task exception would be), never
    raised into the caller.
    """
    context = contextvars.copy_context()
    try:
        yielded = context.run(coro.send, None)
    except StopIteration:
        return None
    except Exception:
        log.exception("Unhandled exception in consumer callback")
        return None
    # _finish logs a failure itself: no done callback (one loop handle) per task
    return asyncio.get_running_loop().create_task(_finish(coro, yielded, context))


async def _finish(
    coro: Coroutine[Any, Any, Any], yielded: Any, context: contextvars.Context
) -> Any:
    try:
        while True:
            if yielded is None:
                # a bare ``yield`` (asyncio.sleep(0)): give the loop one turn
                await asyncio.sleep(0)
                yielded = context.run(coro.send, None)
            elif getattr(yielded, "_asyncio_future_blocking", None) is None:
                yielded = context.run(
                    coro.throw, RuntimeError(f"Task got bad yield: {yielded!r}")
                )
            else:
                yielded._asyncio_future_blocking = False
                try:
                    await _Waiter(yielded)
                except asyncio.CancelledError as cancelled:
                    if yielded.done():
                        yielded = context.run(coro.throw, cancelled)
                        continue
                    # cancel what the coroutine awaits, so that it sees
                    # CancelledError where it awaits (Task semantics)
                    yielded.cancel()
                    await _Waiter(yielded, quiet=True)
                yielded = context.run(coro.send, None)
    except StopIteration as stop:
        return stop.value
    except Exception:
        # logged here, as asyncio would log an unretrieved task exception:
        # no done callback (one loop handle) per task
        log.exception("Unhandled exception in consumer callback")
        return None


class _Waiter:
    """Await a future without taking its result: the coroutine that yielded it
    reads the result (or exception) itself when resumed."""

    __slots__ = ("future", "quiet")

    def __init__(self, future: asyncio.Future[Any], quiet: bool = False) -> None:
        self.future = future
        self.quiet = quiet

    def __await__(self) -> Generator[Any, None, None]:
        future = self.future
        while not future.done():
            future._asyncio_future_blocking = True
            try:
                yield future
            except asyncio.CancelledError:
                if not self.quiet:
                    raise


def log_consumer_failure(task: asyncio.Future[Any]) -> None:
    """Done callback of a consumer task: log its exception, as asyncio would."""
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error("Unhandled exception in consumer callback", exc_info=error)
