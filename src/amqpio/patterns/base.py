"""What Master and RPC share: the serializer hooks and the attribute proxy.

``master.proxy.resize(width=10)`` and ``rpc.proxy.images.resize(width=10)``
are :class:`Proxy` and :class:`Method` objects: attribute access builds a
dotted name, calling it hands ``(name, kwargs=...)`` to the pattern's
``create_task`` or ``call``. Only keyword arguments travel, as in aio-pika.

Serialization is pickle by default, as in aio-pika. Unpickling runs code
chosen by whoever produced the bytes: use pickle only between peers you trust
with code execution on your hosts, and prefer :class:`~amqpio.patterns.JsonMaster`
/ :class:`~amqpio.patterns.JsonRPC` (or your own ``serialize``/``deserialize``
override) everywhere else.
"""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

__all__ = ("Base", "CallbackType", "Method", "Proxy", "T")

T = TypeVar("T")
#: A task or RPC handler: a coroutine function taking keyword arguments only.
CallbackType = Callable[..., Awaitable[T]]


def get_loop() -> asyncio.AbstractEventLoop:
    """The running loop, else the current one (aio-pika patterns keep ``.loop``)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.get_event_loop_policy().get_event_loop()


def as_body(data: bytes | str) -> bytes:
    """A serializer's output as a message body.

    aio-pika 6.8's documented ``JsonMaster``/``JsonRPC`` return ``str`` from
    ``serialize``; those bodies are sent as UTF-8 instead of failing.
    """
    if isinstance(data, str):
        return data.encode()
    return data


class Method:
    """A remote name under construction: ``proxy.a.b`` is ``Method("a.b")``."""

    __slots__ = ("func", "name")

    def __init__(self, name: str, func: Callable[..., Any]) -> None:
        self.name = name
        self.func = func

    def __getattr__(self, item: str) -> Method:
        return Method(f"{self.name}.{item}", func=self.func)

    def __call__(self, **kwargs: Any) -> Any:
        return self.func(self.name, kwargs=kwargs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class Proxy:
    """``proxy.name(**kwargs)`` calls ``func("name", kwargs=kwargs)``."""

    __slots__ = ("func",)

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func

    def __getattr__(self, item: str) -> Method:
        return Method(item, self.func)


class Base:
    """Serializer hooks: ``SERIALIZER.dumps`` / ``SERIALIZER.loads`` (pickle).

    Subclasses change ``SERIALIZER`` and ``CONTENT_TYPE`` or override
    :meth:`serialize` / :meth:`deserialize`.
    """

    __slots__ = ()

    SERIALIZER: Any = pickle
    CONTENT_TYPE = "application/python-pickle"

    def serialize(self, data: Any) -> bytes:
        """Serialize ``data`` to bytes (``SERIALIZER.dumps``; pickle by default)."""
        return self.SERIALIZER.dumps(data)  # type: ignore[no-any-return]

    def deserialize(self, data: bytes) -> Any:
        """Deserialize bytes (``SERIALIZER.loads``; pickle by default).

        Unpickling runs code chosen by the sender: see the module docstring.
        """
        return self.SERIALIZER.loads(data)
