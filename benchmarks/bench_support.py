"""What the benchmark scripts share: the broker they run against, percentiles."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

#: --loop choices: the standard library's event loop, or uvloop's
LOOPS = ("asyncio", "uvloop")

#: Who runs in each round: amqpio, aio-pika, and aio-pika again as a control
#: (the ratio of aio-pika to itself is the noise floor of the run).
CONTENDERS = (("amqpio", "amqpio"), ("aio_pika", "aio_pika"), ("control", "aio_pika"))


def rotated(round_: int) -> list[tuple[str, str]]:
    """The contenders in this round's order (each goes first in turn)."""
    shift = round_ % len(CONTENDERS)
    return [*CONTENDERS[shift:], *CONTENDERS[:shift]]


def save_raw(kind: str, loop: str, data: dict[str, Any]) -> Path:
    """Keep a run's per-round figures as JSON in benchmarks/results/."""
    out = Path(__file__).with_name("results")
    out.mkdir(exist_ok=True)
    path = out / f"{kind}-{loop}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(data, indent=1))
    return path


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
