"""``import aio_pika`` -> amqpio, for running aio-pika's examples unchanged.

This directory (``tests/integration/aio_pika_shim``) goes first on the
``PYTHONPATH`` of a subprocess that runs an example from ``examples/``; the
example files themselves are never edited. Importing ``aio_pika`` then:

1. calls ``amqpio.install_as_aio_pika()`` (so the import statement that is
   running returns amqpio itself, and ``aio_pika.X`` is ``amqpio.X``);
2. when ``AMQPIO_EXAMPLE_URL`` is set, wraps amqpio's ``connect`` and
   ``connect_robust`` (when it exists) so that every broker address an example
   gives (a URL, a list of URLs, or the ``host``/``port`` keywords) is replaced
   by the host and port of that URL, keeping the example's credentials,
   virtual host and query. ``amqps://`` URLs and ``ssl=True`` go to
   ``AMQPIO_EXAMPLE_TLS_URL`` instead (refused when it is not set, so an
   example never reaches a broker other than the test's);
3. restores the default Ctrl-C behaviour (``KeyboardInterrupt``) when the
   process was started with SIGINT ignored, so that a test can stop a
   ``loop.run_forever()`` consumer with SIGINT as a person would.

Nothing else changes: the example talks to amqpio through amqpio's own API.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import signal
import sys
from collections.abc import Callable, Coroutine, MutableMapping
from types import ModuleType
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

ALIAS = "aio_pika"
TARGET = "amqpio"
URL_ENV = "AMQPIO_EXAMPLE_URL"
TLS_URL_ENV = "AMQPIO_EXAMPLE_TLS_URL"
ROUTED = "__amqpio_example_routed__"
#: (module, function) pairs wrapped by the router when they exist.
CONNECT_FUNCTIONS = (
    ("amqpio", "connect"),
    ("amqpio.connection", "connect"),
    ("amqpio", "connect_robust"),
    ("amqpio.robust_connection", "connect_robust"),
)


def _target(tls: bool) -> SplitResult | None:
    """The test broker's URL for plain or TLS connections (None: no routing)."""
    if not os.environ.get(URL_ENV):
        return None
    value = os.environ.get(TLS_URL_ENV if tls else URL_ENV)
    if not value:
        raise RuntimeError(
            f"the example asks for a TLS connection but {TLS_URL_ENV} is not set"
        )
    return urlsplit(value)


def route_url(url: object) -> str:
    """``url`` with its host(s) and port replaced by the test broker's."""
    text = str(url)
    parts = urlsplit(text)
    target = _target(parts.scheme.lower() == "amqps")
    if target is None:
        return text
    userinfo, at, _ = parts.netloc.rpartition("@")
    address = target.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{userinfo}{at}{address}"))


def route(url: object, kwargs: MutableMapping[str, Any]) -> object:
    """Route connect()'s ``url`` argument (returned) or its keywords (in place)."""
    if url is None:
        target = _target(bool(kwargs.get("ssl", False)))
        if target is not None:
            kwargs["host"] = target.hostname
            kwargs["port"] = target.port
        return None
    if isinstance(url, (list, tuple)):
        return type(url)(route_url(item) for item in url)
    return route_url(url)


def _routed(
    func: Callable[..., Coroutine[Any, Any, Any]],
) -> Callable[..., Coroutine[Any, Any, Any]]:
    if getattr(func, ROUTED, False):
        return func

    @functools.wraps(func)
    async def connect(url: object = None, *args: Any, **kwargs: Any) -> Any:
        return await func(route(url, kwargs), *args, **kwargs)

    setattr(connect, ROUTED, True)
    return connect


def install() -> ModuleType:
    """Alias, route and return amqpio (see the module docstring)."""
    amqpio = importlib.import_module(TARGET)
    # this shim is the module being imported as aio_pika: the library's
    # alias replaces it (the import statement then returns amqpio itself)
    if sys.modules.get(ALIAS) is not amqpio:
        sys.modules.pop(ALIAS, None)
    amqpio.install_as_aio_pika()
    for module_name, attribute in CONNECT_FUNCTIONS:
        if module_name != TARGET and importlib.util.find_spec(module_name) is None:
            continue
        module = importlib.import_module(module_name)
        func = getattr(module, attribute, None)
        if func is not None:
            setattr(module, attribute, _routed(func))
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return amqpio


install()
