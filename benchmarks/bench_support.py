"""What the benchmark scripts share: the broker they run against, percentiles."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


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
