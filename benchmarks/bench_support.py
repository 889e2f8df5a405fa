"""What the benchmark scripts share: the broker they run against, percentiles."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from collections.abc import Coroutine, Iterator
from typing import Any

#: --loop choices: the standard library's event loop, or uvloop's
LOOPS = ("asyncio", "uvloop")


def add_loop_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--loop",
        choices=LOOPS,
        default="asyncio",
        help="event loop for both libraries (uvloop: pip install uvloop)",
    )


def run(main: Coroutine[Any, Any, None], loop: str) -> None:
    """Run ``main`` on the chosen event loop."""
    if loop == "uvloop":
        import uvloop

        uvloop.run(main)
    else:
        asyncio.run(main)


def loop_name() -> str:
    """The running loop, for the benchmark's header line."""
    loop = asyncio.get_running_loop()
    module = type(loop).__module__.partition(".")[0]
    return "uvloop" if module == "uvloop" else "asyncio"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@contextlib.contextmanager
def broker(url: str | None, name: str, port: int) -> Iterator[str]:
    """The broker's URL: ``url``, else ``AMQP_URL``, else a throwaway node.

    The throwaway node is started from the local ``rabbitmq-server`` install
    on ``port`` (Erlang distribution on ``port + 20000``) and closed on exit.
    """
    url = url or os.environ.get("AMQP_URL")
    if url:
        yield url
        return
    from amqpio.testing.rabbitmq import RabbitNode

    node = RabbitNode(name, port=port, dist_port=port + 20000)
    node.start()
    try:
        yield node.url
    finally:
        node.close()
