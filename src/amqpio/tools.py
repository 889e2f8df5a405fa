"""Callback collections and small asyncio helpers, as in aio-pika's ``tools``.

A :class:`CallbackCollection` belongs to a *sender* (a connection, channel or
queue), which it holds weakly, and calls every callback as
``callback(sender, *args)``. Callbacks are held strongly unless added with
``weak=True``; a nested collection is always held weakly and is called with
its own sender. Coroutine results are scheduled as tasks; the collection call
returns one awaitable gathering them (exceptions included, never raised).
"""

from __future__ import annotations

import asyncio
import inspect
import warnings
from collections.abc import (
    Awaitable,
    Callable,
    Coroutine,
    Generator,
    Iterator,
    MutableSet,
)
from collections.abc import (
    Set as AbstractSet,
)
from functools import wraps
from itertools import chain
from threading import Lock
from typing import (
    Any,
    Generic,
    ParamSpec,
    Protocol,
    TypeVar,
    Union,
    cast,
)
from weakref import ReferenceType, WeakMethod, WeakSet, ref

from .log import get_logger

__all__ = (
    "CallbackCollection",
    "CallbackSetType",
    "CallbackType",
    "OneShotCallback",
    "create_task",
    "ensure_awaitable",
    "iscoroutinepartial",
    "weak_method_callback",
)

log = get_logger(__name__)

T = TypeVar("T")
_Sender = TypeVar("_Sender", contravariant=True)
_Params = ParamSpec("_Params")
_Return = TypeVar("_Return", covariant=True)


def _get_loop() -> asyncio.AbstractEventLoop:
    """The running loop, else the current one (without a deprecation warning)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.get_event_loop_policy().get_event_loop()


def iscoroutinepartial(fn: Callable[..., Any]) -> bool:
    """Deprecated: use :func:`inspect.iscoroutinefunction`."""
    warnings.warn(
        "Use inspect.iscoroutinefunction() instead.", DeprecationWarning, stacklevel=2
    )
    return inspect.iscoroutinefunction(fn)


def _task_done(future: asyncio.Future[Any]) -> None:
    # Report a failure through the loop's exception handler, which is what
    # raising from this done-callback would do; cancellation is not a failure.
    if future.cancelled():
        return
    exc = future.exception()
    if exc is not None:
        future.get_loop().call_exception_handler(
            {
                "message": "Unhandled exception in task",
                "exception": exc,
                "future": future,
            }
        )


def create_task(
    func: Callable[..., Coroutine[Any, Any, T] | Awaitable[T] | T],
    *args: Any,
    loop: asyncio.AbstractEventLoop | None = None,
    **kwargs: Any,
) -> Awaitable[T]:
    """Run ``func(*args, **kwargs)``: as a task for a coroutine function, else soon.

    A plain function is called on the next loop iteration and its result set
    on the returned future. Failures are reported to the loop's exception
    handler.
    """
    loop = loop or _get_loop()

    if inspect.iscoroutinefunction(func):
        task = loop.create_task(func(*args, **kwargs))
        task.add_done_callback(_task_done)
        return task

    future: asyncio.Future[T] = loop.create_future()

    def run() -> None:
        if future.done():
            return
        try:
            future.set_result(cast(T, func(*args, **kwargs)))
        except Exception as exc:
            future.set_exception(exc)

    future.add_done_callback(_task_done)
    loop.call_soon(run)
    return future


class CallbackType(Protocol[_Sender, _Params, _Return]):
    """A callback of a :class:`CallbackCollection`: ``(sender, *args) -> result``."""

    def __call__(
        self,
        __sender: _Sender | None,
        /,
        *args: _Params.args,
        **kwargs: _Params.kwargs,
    ) -> _Return | Awaitable[_Return]: ...


class StubAwaitable:
    """An awaitable that completes immediately (returned when nothing was scheduled)."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, Any, None]:
        yield


STUB_AWAITABLE = StubAwaitable()

_Member = Union[
    CallbackType[_Sender, _Params, Any],
    "CallbackCollection[Any, _Params]",
]


class CallbackCollection(
    MutableSet[
        Union[
            CallbackType[_Sender, _Params, Any],
            "CallbackCollection[Any, _Params]",
        ]
    ],
    Generic[_Sender, _Params],
):
    """A set of callbacks called together with their sender (held weakly)."""

    __slots__ = (
        "__callbacks",
        "__lock",
        "__sender",
        "__weak_callbacks",
        "__weakref__",
    )

    def __init__(self, sender: _Sender | ReferenceType[_Sender] | None) -> None:
        self.__sender: Callable[[], _Sender | None]
        if isinstance(sender, ReferenceType):
            self.__sender = sender
        elif sender is None:
            self.__sender = _no_sender
        else:
            self.__sender = ref(sender)
        self.__callbacks: AbstractSet[_Member[_Sender, _Params]] = set()
        self.__weak_callbacks: MutableSet[_Member[_Sender, _Params]] = WeakSet()
        self.__lock = Lock()

    def add(self, callback: _Member[_Sender, _Params], weak: bool = False) -> None:
        """Add ``callback``; ``weak=True`` keeps only a weak reference to it.

        Raises ``RuntimeError`` when frozen, ``ValueError`` when not callable.
        """
        if self.is_frozen:
            raise RuntimeError("Collection frozen")
        if not callable(callback):
            raise ValueError("Callback is not callable")
        with self.__lock:
            if weak or isinstance(callback, CallbackCollection):
                self.__weak_callbacks.add(callback)
            else:
                cast("set[_Member[_Sender, _Params]]", self.__callbacks).add(callback)

    def remove(self, callback: _Member[_Sender, _Params]) -> None:
        """Remove ``callback``; ``KeyError`` when absent."""
        if self.is_frozen:
            raise RuntimeError("Collection frozen")
        with self.__lock:
            try:
                cast("set[_Member[_Sender, _Params]]", self.__callbacks).remove(
                    callback
                )
            except KeyError:
                self.__weak_callbacks.remove(callback)

    def discard(self, callback: _Member[_Sender, _Params]) -> None:
        """Remove ``callback`` if present."""
        if self.is_frozen:
            raise RuntimeError("Collection frozen")
        with self.__lock:
            if callback in self.__callbacks:
                cast("set[_Member[_Sender, _Params]]", self.__callbacks).remove(
                    callback
                )
            elif callback in self.__weak_callbacks:
                self.__weak_callbacks.remove(callback)

    def clear(self) -> None:
        """Remove every callback."""
        if self.is_frozen:
            raise RuntimeError("Collection frozen")
        with self.__lock:
            cast("set[_Member[_Sender, _Params]]", self.__callbacks).clear()
            self.__weak_callbacks.clear()

    @property
    def is_frozen(self) -> bool:
        """Whether adding and removing callbacks is forbidden."""
        return isinstance(self.__callbacks, frozenset)

    def freeze(self) -> None:
        """Forbid changes (``RuntimeError`` if already frozen)."""
        if self.is_frozen:
            raise RuntimeError("Collection already frozen")
        with self.__lock:
            self.__callbacks = frozenset(self.__callbacks)
            self.__weak_callbacks = WeakSet(self.__weak_callbacks)

    def unfreeze(self) -> None:
        """Allow changes again (``RuntimeError`` if not frozen)."""
        if not self.is_frozen:
            raise RuntimeError("Collection is not frozen")
        with self.__lock:
            self.__callbacks = set(self.__callbacks)
            self.__weak_callbacks = WeakSet(self.__weak_callbacks)

    def __contains__(self, x: object) -> bool:
        return x in self.__callbacks or x in self.__weak_callbacks

    def __len__(self) -> int:
        return len(self.__callbacks) + len(self.__weak_callbacks)

    def __iter__(self) -> Iterator[_Member[_Sender, _Params]]:
        return iter(chain(self.__callbacks, self.__weak_callbacks))

    def __bool__(self) -> bool:
        return bool(self.__callbacks) or bool(self.__weak_callbacks)

    def __copy__(self) -> CallbackCollection[_Sender, _Params]:
        sender = self.__sender
        instance: CallbackCollection[_Sender, _Params] = self.__class__(
            sender if isinstance(sender, ReferenceType) else None
        )
        with self.__lock:
            for cb in self.__callbacks:
                instance.add(cb, weak=False)
            for cb in self.__weak_callbacks:
                instance.add(cb, weak=True)
        if self.is_frozen:
            instance.freeze()
        return instance

    def __call__(self, *args: _Params.args, **kwargs: _Params.kwargs) -> Awaitable[Any]:
        """Call every callback with the sender; await the result to wait for coroutines.

        A callback that raises is logged and does not stop the others.
        """
        futures: list[asyncio.Future[Any]] = []
        with self.__lock:
            sender = self.__sender()
            callbacks = tuple(self)

        for cb in callbacks:
            try:
                if isinstance(cb, CallbackCollection):
                    result = cb(*args, **kwargs)
                else:
                    result = cb(sender, *args, **kwargs)
                # a nested collection with nothing to wait for returns the stub
                if result is not STUB_AWAITABLE and inspect.isawaitable(result):
                    futures.append(asyncio.ensure_future(result))
            except Exception as exc:
                log.error("Callback %r error: %s: %s", cb, type(exc).__name__, exc)
                log.debug("Full traceback for callback %r error", cb, exc_info=True)

        if not futures:
            return STUB_AWAITABLE
        return asyncio.gather(*futures, return_exceptions=True)

    def __hash__(self) -> int:
        return id(self)


def _no_sender() -> None:
    return None


class OneShotCallback:
    """Wrap a coroutine function so that it runs at most once.

    Every call after the first returns an awaitable that completes at once;
    :meth:`wait` waits until the single run has finished.
    """

    __slots__ = ("__lock", "__task", "callback", "finished", "loop")

    def __init__(self, callback: Callable[..., Awaitable[Any]]) -> None:
        self.callback: Callable[..., Awaitable[Any]] = callback
        self.loop = _get_loop()
        self.finished: asyncio.Event = asyncio.Event()
        self.__lock: asyncio.Lock = asyncio.Lock()
        self.__task: asyncio.Future[Any] | None = None

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__}: cb={getattr(self, 'callback', None)!r}>"

    def wait(self) -> Awaitable[Any]:
        """Wait until the callback has run."""
        return self.finished.wait()

    async def __task_inner(self, *args: Any, **kwargs: Any) -> None:
        async with self.__lock:
            if self.finished.is_set():
                return
            try:
                await self.callback(*args, **kwargs)
            except Exception as exc:
                log.error("Callback %r error: %s: %s", self, type(exc).__name__, exc)
                log.debug("Full traceback for callback %r error", self, exc_info=True)
            finally:
                self.loop.call_soon(self.finished.set)
                del self.callback

    def __call__(self, *args: Any, **kwargs: Any) -> Awaitable[Any]:
        if self.finished.is_set() or self.__task is not None:
            return STUB_AWAITABLE
        self.__task = self.loop.create_task(self.__task_inner(*args, **kwargs))
        return self.__task


def weak_method_callback(method: Callable[_Params, Any]) -> Callable[_Params, Any]:
    """Wrap a bound method so that the callback does not keep its instance alive.

    The wrapper does nothing (returns ``None``) once the instance is gone.
    """
    reference = WeakMethod(method)

    def wrapper(*args: _Params.args, **kwargs: _Params.kwargs) -> Any:
        target = reference()
        if target is None:
            return None
        return target(*args, **kwargs)

    return wrapper


def ensure_awaitable(
    func: Callable[_Params, T | Awaitable[T]],
) -> Callable[_Params, Awaitable[T]]:
    """Return ``func`` if it is a coroutine function, else an async wrapper of it.

    Wrapping a plain function warns (``DeprecationWarning``), as in aio-pika;
    so does a call of the wrapper whose result is not awaitable.
    """
    if inspect.iscoroutinefunction(func):
        return cast(Callable[_Params, Awaitable[T]], func)

    if inspect.isfunction(func):
        warnings.warn(
            f"You probably registering the non-coroutine function {func!r}. "
            "This is deprecated and will be removed in future releases. "
            "Moreover, it can block the event loop",
            DeprecationWarning,
            stacklevel=2,
        )

    @wraps(func)
    async def wrapper(*args: _Params.args, **kwargs: _Params.kwargs) -> T:
        result = func(*args, **kwargs)
        if not hasattr(result, "__await__"):
            warnings.warn(
                f"Function {func!r} returned a non awaitable result. "
                "This may be bad for performance or may block the event loop.",
                DeprecationWarning,
                stacklevel=2,
            )
            return result
        return await cast(Awaitable[T], result)

    return wrapper


CallbackSetType = AbstractSet[
    CallbackType[_Sender, _Params, None] | CallbackCollection[_Sender, _Params]
]
