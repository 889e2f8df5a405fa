"""amqpio beside aio-pika against one real RabbitMQ node, in one run.

    python benchmarks/client_bench.py [--url amqp://...] [--messages 20000]

Without ``--url`` (or ``AMQP_URL``) a throwaway node is started from the local
``rabbitmq-server`` install and stopped afterwards. The same scenario code runs
on both libraries (each imported as ``aio_pika``); the scenarios alternate
between the libraries and the best of ``--repeat`` rounds is reported, with the
ratio amqpio / aio-pika (higher is better for amqpio).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import platform
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any

BODY = b"x" * 64

Scenario = Callable[[ModuleType, str, int], Awaitable[float]]


async def publish_confirmed_sequential(lib: ModuleType, url: str, n: int) -> float:
    """Publish with confirms, awaiting each publish (typical aio-pika code)."""
    n = n // 4
    async with await lib.connect(url) as connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(
            f"bench-{uuid.uuid4().hex}", auto_delete=True
        )
        exchange = channel.default_exchange
        start = time.perf_counter()
        for _ in range(n):
            await exchange.publish(lib.Message(BODY), routing_key=queue.name)
        elapsed = time.perf_counter() - start
        await queue.delete(if_unused=False, if_empty=False)
    return n / elapsed


async def publish_confirmed_concurrent(lib: ModuleType, url: str, n: int) -> float:
    """Publish with confirms, 100 in flight at a time."""
    async with await lib.connect(url) as connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(
            f"bench-{uuid.uuid4().hex}", auto_delete=True
        )
        exchange = channel.default_exchange
        start = time.perf_counter()
        for _ in range(n // 100):
            await asyncio.gather(
                *(
                    exchange.publish(lib.Message(BODY), routing_key=queue.name)
                    for _ in range(100)
                )
            )
        elapsed = time.perf_counter() - start
        await queue.delete(if_unused=False, if_empty=False)
    return (n // 100 * 100) / elapsed


async def publish_no_confirms(lib: ModuleType, url: str, n: int) -> float:
    """Publish without confirms (fire and forget), then one round trip."""
    async with await lib.connect(url) as connection:
        channel = await connection.channel(publisher_confirms=False)
        queue = await channel.declare_queue(
            f"bench-{uuid.uuid4().hex}", auto_delete=True
        )
        exchange = channel.default_exchange
        start = time.perf_counter()
        for _ in range(n):
            await exchange.publish(lib.Message(BODY), routing_key=queue.name)
        # a synchronous request after the burst: everything was written
        await queue.declare()
        elapsed = time.perf_counter() - start
        await queue.delete(if_unused=False, if_empty=False)
    return n / elapsed


async def _fill(lib: ModuleType, url: str, n: int) -> str:
    name = f"bench-{uuid.uuid4().hex}"
    async with await lib.connect(url) as connection:
        channel = await connection.channel(publisher_confirms=False)
        queue = await channel.declare_queue(name)
        for _ in range(n):
            await channel.default_exchange.publish(lib.Message(BODY), routing_key=name)
        await queue.declare()
        while queue.declaration_result.message_count < n:
            await asyncio.sleep(0.05)
            await queue.declare()
    return name


async def consume_ack(lib: ModuleType, url: str, n: int) -> float:
    """Consume with a callback and manual acks (prefetch 100)."""
    name = await _fill(lib, url, n)
    async with await lib.connect(url) as connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=100)
        queue = await channel.declare_queue(name)
        done = asyncio.get_running_loop().create_future()
        count = 0

        async def on_message(message: Any) -> None:
            nonlocal count
            await message.ack()
            count += 1
            if count == n and not done.done():
                done.set_result(None)

        start = time.perf_counter()
        await queue.consume(on_message)
        await done
        elapsed = time.perf_counter() - start
        await queue.delete(if_unused=False, if_empty=False)
    return n / elapsed


async def consume_iterator_no_ack(lib: ModuleType, url: str, n: int) -> float:
    """Consume with ``async for`` and no_ack."""
    name = await _fill(lib, url, n)
    async with await lib.connect(url) as connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=1000)
        queue = await channel.declare_queue(name)
        count = 0
        start = time.perf_counter()
        async with queue.iterator(no_ack=True) as iterator:
            async for _message in iterator:
                count += 1
                if count == n:
                    break
        elapsed = time.perf_counter() - start
        await queue.delete(if_unused=False, if_empty=False)
    return n / elapsed


SCENARIOS: list[tuple[str, Scenario]] = [
    ("publish, confirms, awaited one by one", publish_confirmed_sequential),
    ("publish, confirms, 100 in flight", publish_confirmed_concurrent),
    ("publish, no confirms", publish_no_confirms),
    ("consume callback + ack, prefetch 100", consume_ack),
    ("consume async-for, no_ack", consume_iterator_no_ack),
]


def broker_url() -> tuple[str, Any]:
    url = os.environ.get("AMQP_URL")
    if url:
        return url, None
    from amqpio.testing.rabbitmq import RabbitNode

    node = RabbitNode(node_name="bench", amqp_port=5700, dist_port=25700)
    node.start()
    return node.url, node


async def main_async(url: str, n: int, repeat: int, only: str | None) -> None:
    libs = {name: importlib.import_module(name) for name in ("amqpio", "aio_pika")}
    print(
        f"Python {platform.python_version()}, amqpio {libs['amqpio'].__version__}, "
        f"aio-pika {libs['aio_pika'].__version__}, {n} messages of {len(BODY)} B"
    )
    print()
    print("| scenario | amqpio msg/s | aio-pika msg/s | ratio |")
    print("|---|---:|---:|---:|")
    for title, scenario in SCENARIOS:
        if only and only not in scenario.__name__:
            continue
        best = {"amqpio": 0.0, "aio_pika": 0.0}
        for _ in range(repeat):
            for name, lib in libs.items():
                best[name] = max(best[name], await scenario(lib, url, n))
        ratio = best["amqpio"] / best["aio_pika"]
        print(
            f"| {title} | {best['amqpio']:,.0f} | {best['aio_pika']:,.0f} "
            f"| {ratio:.2f}x |"
        )
        sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default=None, help="run scenarios matching this")
    args = parser.parse_args()
    node = None
    url = args.url
    if url is None:
        url, node = broker_url()
    try:
        asyncio.run(main_async(url, args.messages, args.repeat, args.only))
    finally:
        if node is not None:
            node.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
