"""amqpio beside aio-pika against one real RabbitMQ node, in one run.

    python benchmarks/client_bench.py [--url amqp://...] [--messages 20000]

Without ``--url`` (or ``AMQP_URL``) a throwaway node is started from the local
``rabbitmq-server`` install and stopped afterwards. The large-message rows run
each library in a fresh child process (median MiB/s, largest peak RSS growth
of up to three rounds). The same scenario code runs
on both libraries (each imported as ``aio_pika``); every round runs amqpio,
aio-pika and aio-pika again (the control: aio-pika against itself shows the
noise floor), in an order rotated each round; the median of ``--repeat``
rounds is reported with the ratio amqpio / aio-pika (higher is better for
amqpio). The per-round figures are kept as JSON in ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import platform
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from types import ModuleType
from typing import Any

from bench_support import (
    CONTENDERS,
    add_loop_argument,
    broker,
    loop_name,
    percentile,
    rotated,
    run,
    save_raw,
)

BODY = b"x" * 64

Scenario = Callable[[ModuleType, str, int], Awaitable[float]]


async def publish_confirmed_sequential(lib: ModuleType, url: str, n: int) -> float:
    """Publish with confirms, awaiting each publish (typical aio-pika code)."""
    n = max(1, n // 5)
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


async def _pipelined(
    lib: ModuleType, url: str, n: int, body: bytes, window: int
) -> float:
    async with await lib.connect(url) as connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(
            f"bench-{uuid.uuid4().hex}", auto_delete=True
        )
        exchange = channel.default_exchange
        slots = asyncio.Semaphore(window)

        async def one() -> None:
            try:
                await exchange.publish(lib.Message(body), routing_key=queue.name)
            finally:
                slots.release()

        tasks = []
        start = time.perf_counter()
        for _ in range(n):
            await slots.acquire()
            tasks.append(asyncio.ensure_future(one()))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
        await queue.delete(if_unused=False, if_empty=False)
    return n / elapsed


async def publish_confirmed_pipelined(lib: ModuleType, url: str, n: int) -> float:
    """Publish with confirms, up to 1000 outstanding."""
    return await _pipelined(lib, url, n, BODY, 1000)


@contextlib.asynccontextmanager
async def acking_consumer(
    lib: ModuleType, url: str, name: str, count: int, prefetch: int
) -> AsyncIterator[asyncio.Future[None]]:
    """A consumer on its own connection that acks each message of queue
    ``name`` (declared auto-delete); yields a future done after ``count``."""
    async with await lib.connect(url) as connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        queue = await channel.declare_queue(name, auto_delete=True)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        received = 0

        async def on_message(message: Any) -> None:
            nonlocal received
            await message.ack()
            received += 1
            if received == count and not done.done():
                done.set_result(None)

        await queue.consume(on_message)
        yield done


async def transfer_1mib(lib: ModuleType, url: str, n: int) -> float:
    """1 MiB messages end to end: published with confirms (10 outstanding) on one
    connection, consumed with acks on another; MiB/s == msg/s.

    Consuming as fast as publishing keeps the queue short, so the figure is
    not the broker paging a growing queue to disk.
    """
    count = max(50, n // 100)
    body = b"m" * 1048576
    name = f"bench-big-{uuid.uuid4().hex}"
    async with (
        acking_consumer(lib, url, name, count, 10) as done,
        await lib.connect(url) as connection,
    ):
        channel = await connection.channel()
        slots = asyncio.Semaphore(10)

        async def one() -> None:
            try:
                await channel.default_exchange.publish(
                    lib.Message(body), routing_key=name
                )
            finally:
                slots.release()

        tasks = []
        start = time.perf_counter()
        for _ in range(count):
            await slots.acquire()
            tasks.append(asyncio.ensure_future(one()))
        await asyncio.gather(*tasks)
        await done
        elapsed = time.perf_counter() - start
    return count / elapsed


#: body sizes of the large-message rows (published without confirms)
LARGE_SIZES = (16 << 10, 128 << 10, 1 << 20, 8 << 20)


def _status_mib(key: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(key)


async def large_end_to_end(
    lib: ModuleType, url: str, size: int, total: int
) -> tuple[float, float]:
    """``total`` bytes in bodies of ``size`` published without confirms on one
    connection and consumed with acks on another, in one process.

    Returns MiB/s (first publish to last delivery) and the growth of the
    process's peak resident memory over that time, in MiB (Linux).
    Prefetch holds about 4 MiB of bodies for both libraries.
    """
    count = max(4, total // size)
    body = bytes(range(256)) * (size // 256)
    name = f"bench-large-{uuid.uuid4().hex}"
    prefetch = max(1, min(100, (4 << 20) // size))
    async with (
        acking_consumer(lib, url, name, count, prefetch) as done,
        await lib.connect(url) as connection,
    ):
        channel = await connection.channel(publisher_confirms=False)
        exchange = channel.default_exchange
        await asyncio.sleep(0.1)
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # the peak restarts from the current RSS
        base = _status_mib("VmRSS")
        start = time.perf_counter()
        for _ in range(count):
            await exchange.publish(lib.Message(body), routing_key=name)
        await done
        elapsed = time.perf_counter() - start
        growth = _status_mib("VmHWM") - base
    return count * size / (1 << 20) / elapsed, growth


def run_large_child(args: argparse.Namespace) -> None:
    """One large-message run in this (fresh) process; prints JSON."""
    lib = importlib.import_module(args.lib)
    result: list[tuple[float, float]] = []

    async def child() -> None:
        result.append(
            await large_end_to_end(
                lib, args.url, args.child_large, args.large_mib << 20
            )
        )

    run(child(), args.loop)
    rate, growth = result[0]
    print(json.dumps({"mib_s": rate, "rss_mib": growth}))


def large_rows(
    url: str, repeat: int, loop: str, total_mib: int, raw: dict[str, Any]
) -> None:
    """The large-message rows: each run in a fresh process per library, so
    that its peak memory is its own."""
    for size in LARGE_SIZES:
        runs: dict[str, list[tuple[float, float]]] = {"amqpio": [], "aio_pika": []}
        for round_ in range(repeat):
            for name in sorted(runs, reverse=bool(round_ % 2)):
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--url",
                        url,
                        "--loop",
                        loop,
                        "--lib",
                        name,
                        "--child-large",
                        str(size),
                        "--large-mib",
                        str(total_mib),
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                data = json.loads(out.strip().splitlines()[-1])
                runs[name].append((data["mib_s"], data["rss_mib"]))
        ours, theirs = (statistics.median(r for r, _ in runs[n]) for n in runs)
        our_rss, their_rss = (round(max(m for _, m in runs[n])) for n in runs)
        label = f"{size >> 10} KiB" if size < (1 << 20) else f"{size >> 20} MiB"
        raw[f"{label} bodies (MiB/s, RSS growth MiB)"] = runs
        print(
            f"| {label} bodies, no confirms, end to end (MiB/s) | {ours:,.0f} "
            f"| {theirs:,.0f} | {ours / theirs:.2f}x |"
        )
        print(
            f"| {label} bodies: peak RSS growth (MiB, lower is better) "
            f"| {our_rss} | {their_rss} | {their_rss - our_rss:+} MiB |"
        )
        sys.stdout.flush()


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
    """Consume with a callback and manual acks (prefetch 1000)."""
    name = await _fill(lib, url, n)
    async with await lib.connect(url) as connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=1000)
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
        tag = await queue.consume(on_message)
        await done
        elapsed = time.perf_counter() - start
        await queue.cancel(tag)
        await queue.delete(if_unused=False, if_empty=False)
    return n / elapsed


async def consume_no_ack(lib: ModuleType, url: str, n: int) -> float:
    """Consume with ``async for`` and no_ack."""
    name = await _fill(lib, url, n)
    async with await lib.connect(url) as connection:
        channel = await connection.channel()
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


async def rpc_round_trip(lib: ModuleType, url: str, n: int) -> list[float]:
    """Request/reply through a server queue and an exclusive reply queue.

    Returns the round-trip latencies in seconds (one call at a time).
    """
    n = max(10, n // 10)
    async with await lib.connect(url) as connection:
        server_channel = await connection.channel()
        requests = await server_channel.declare_queue(
            f"bench-rpc-{uuid.uuid4().hex}", auto_delete=True
        )

        served = asyncio.Event()
        acked = 0

        async def serve(message: Any) -> None:
            nonlocal acked
            await server_channel.default_exchange.publish(
                lib.Message(message.body, correlation_id=message.correlation_id),
                routing_key=message.reply_to,
            )
            await message.ack()
            acked += 1
            if acked == n:
                served.set()

        await requests.consume(serve)
        channel = await connection.channel()
        replies = await channel.declare_queue(exclusive=True)
        waiting: dict[str, asyncio.Future[Any]] = {}

        async def on_reply(message: Any) -> None:
            future = waiting.pop(message.correlation_id, None)
            if future is not None:
                future.set_result(message.body)

        await replies.consume(on_reply, no_ack=True)
        latencies = []
        loop = asyncio.get_running_loop()
        for i in range(n):
            correlation_id = str(i)
            future = waiting[correlation_id] = loop.create_future()
            start = time.perf_counter()
            await channel.default_exchange.publish(
                lib.Message(BODY, correlation_id=correlation_id, reply_to=replies.name),
                routing_key=requests.name,
            )
            await future
            latencies.append(time.perf_counter() - start)
        # the last ack follows the last reply's confirm: let it go out first
        await asyncio.wait_for(served.wait(), 10)
    return latencies


THROUGHPUT: list[tuple[str, Scenario]] = [
    ("publish, no confirms", publish_no_confirms),
    ("publish, confirms, 1000 outstanding", publish_confirmed_pipelined),
    ("consume, manual ack, prefetch 1000", consume_ack),
    ("consume, no_ack (async for)", consume_no_ack),
    ("publish, confirms, one at a time", publish_confirmed_sequential),
    ("1 MiB messages end to end (publish + consume)", transfer_1mib),
]


async def main_async(
    url: str, n: int, repeat: int, only: str | None, raw: dict[str, Any]
) -> None:
    libs = {name: importlib.import_module(name) for name in ("amqpio", "aio_pika")}
    print(
        f"Python {platform.python_version()} on {loop_name()}, amqpio {libs['amqpio'].__version__}, "
        f"aio-pika {libs['aio_pika'].__version__}, {n} messages of {len(BODY)} B, "
        f"median of {repeat} rounds (order rotated each round; control: aio-pika "
        f"against itself)"
    )
    print()
    print("| scenario | amqpio | aio-pika | ratio | control |")
    print("|---|---:|---:|---:|---:|")
    for title, scenario in THROUGHPUT:
        if only and only not in scenario.__name__:
            continue
        runs: dict[str, list[float]] = {name: [] for name, _ in CONTENDERS}
        for round_ in range(repeat):
            for name, module in rotated(round_):
                runs[name].append(await scenario(libs[module], url, n))
        raw[title] = runs
        ours, theirs, control = (
            statistics.median(runs[name]) for name, _ in CONTENDERS
        )
        print(
            f"| {title} (msg/s) | {ours:,.0f} | {theirs:,.0f} | {ours / theirs:.2f}x "
            f"| {theirs / control:.2f}x |"
        )
        sys.stdout.flush()
    if only and only not in "rpc_round_trip":
        return
    samples: dict[str, list[float]] = {name: [] for name, _ in CONTENDERS}
    for round_ in range(repeat):
        for name, module in rotated(round_):
            samples[name].extend(await rpc_round_trip(libs[module], url, n))
    raw["RPC round trip (s)"] = samples
    for label, fraction in (("p50", 0.5), ("p99", 0.99)):
        ours, theirs, control = (
            percentile(samples[name], fraction) * 1e6 for name, _ in CONTENDERS
        )
        print(
            f"| RPC round trip {label} (µs, lower is better) | {ours:,.0f} "
            f"| {theirs:,.0f} | {theirs / ours:.2f}x | {control / theirs:.2f}x |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", default=None, help="run scenarios matching this")
    parser.add_argument(
        "--large-mib",
        type=int,
        default=128,
        help="MiB sent per large-message run (0: skip those rows)",
    )
    parser.add_argument("--lib", default="amqpio", help=argparse.SUPPRESS)
    parser.add_argument("--child-large", type=int, default=0, help=argparse.SUPPRESS)
    add_loop_argument(parser)
    args = parser.parse_args()
    if args.child_large:
        run_large_child(args)
        return 0
    raw: dict[str, Any] = {"argv": sys.argv[1:], "python": platform.python_version()}
    with broker(args.url, "bench", 5700) as url:
        run(main_async(url, args.messages, args.repeat, args.only, raw), args.loop)
        if args.large_mib and (not args.only or args.only in "large_end_to_end"):
            large_rows(url, min(args.repeat, 3), args.loop, args.large_mib, raw)
    print(f"\nper-round figures: {save_raw('client', args.loop, raw)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
