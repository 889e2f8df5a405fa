"""amqpio.patterns beside aio_pika.patterns against one real RabbitMQ node.

    python benchmarks/patterns_bench.py [--url amqp://...] [--calls 2000] [--repeat 5]

Without ``--url`` (or ``AMQP_URL``) a throwaway node is started from the local
``rabbitmq-server`` install on port 5790 and stopped afterwards. The same
scenario code runs on both libraries (each imported as ``aio_pika``); caller
and callee (master and worker) use separate connections of the same library.
The order of the libraries rotates every round and the concurrent rows run
aio-pika a second time as a control (its ratio to itself is the noise floor);
each row is the median over ``--repeat`` rounds, and the per-round figures are
kept as JSON in ``benchmarks/results/``. Ratios are amqpio's advantage: throughput amqpio /
aio-pika, latency aio-pika / amqpio (higher is better for amqpio either way).

Scenarios:
- RPC round trip, one call at a time (p50/p99 latency). The contenders are set
  up together and take turns of ``BLOCK`` calls, so that the drifts of a
  shared machine hit them alike; a third contender, the broker floor of
  ``rpc_floor.py`` (the same frames from a minimal asyncio client), shows how
  much of a round trip is the broker's and how much each library adds.
- RPC round trip, 100 calls in flight (p50/p99 latency and calls/s).
- Master/Worker: tasks/s from the first ``create_task`` to the last task
  processed, 100 ``create_task`` in flight, worker prefetch 100.
- amqpio's opt-in direct reply-to RPC mode, against aio-pika's reply queue
  (one at a time interleaved as above, and 100 in flight).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
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
from rpc_floor import raw_rpc_pair

LIBS = ("amqpio", "aio_pika")
WINDOW = 100
#: calls each contender makes before the next one takes its turn
BLOCK = 100


async def echo(*, i: int) -> int:
    return i


async def _rpc_pair(
    lib: ModuleType, url: str, direct: bool
) -> tuple[Any, Any, Any, str]:
    patterns = importlib.import_module(f"{lib.__name__}.patterns")
    server_connection = await lib.connect(url)
    client_connection = await lib.connect(url)
    server = await patterns.RPC.create(await server_connection.channel())
    method = f"bench_{uuid.uuid4().hex[:12]}"
    await server.register(method, echo, auto_delete=True)
    options = {"direct_reply_to": True} if direct else {}
    client = await patterns.RPC.create(await client_connection.channel(), **options)
    for i in range(50):  # warm up
        await client.call(method, {"i": i})
    return server_connection, client_connection, client, method


Call = Callable[[dict[str, Any]], Awaitable[Any]]


async def rpc_sequential(
    contenders: dict[str, Callable[[], Awaitable[tuple[Call, Callable[[], Any]]]]],
    n: int,
) -> dict[str, dict[str, float]]:
    """One call at a time: latency percentiles of every contender.

    All contenders are set up first; then they take turns, ``BLOCK`` calls
    each, so that slow drifts of a shared machine hit them alike.
    """
    calls: dict[str, Call] = {}
    closers: list[Callable[[], Any]] = []
    try:
        for name, setup in contenders.items():
            calls[name], close = await setup()
            closers.append(close)
        latencies: dict[str, list[float]] = {name: [] for name in calls}
        for first in range(0, n, BLOCK):
            for name, call in calls.items():
                record = latencies[name].append
                for i in range(first, min(n, first + BLOCK)):
                    start = time.perf_counter()
                    await call({"i": i})
                    record(time.perf_counter() - start)
    finally:
        for close in reversed(closers):
            result = close()
            if asyncio.iscoroutine(result):
                await result
    return {
        name: {"p50": percentile(values, 0.5), "p99": percentile(values, 0.99)}
        for name, values in latencies.items()
    }


def library_rpc(
    lib: ModuleType, url: str, direct: bool = False
) -> Callable[[], Awaitable[tuple[Call, Callable[[], Any]]]]:
    async def setup() -> tuple[Call, Callable[[], Any]]:
        server_connection, client_connection, client, method = await _rpc_pair(
            lib, url, direct
        )

        async def close() -> None:
            await client_connection.close()
            await server_connection.close()

        return partial(client.call, method), close

    return setup


def floor_rpc(url: str) -> Callable[[], Awaitable[tuple[Call, Callable[[], Any]]]]:
    async def setup() -> tuple[Call, Callable[[], Any]]:
        floor = await raw_rpc_pair(url)
        return floor.call, floor.close

    return setup


async def rpc_concurrent(
    lib: ModuleType, url: str, n: int, direct: bool = False
) -> dict[str, float]:
    """``WINDOW`` calls in flight: latency percentiles and calls/s."""
    server_connection, client_connection, client, method = await _rpc_pair(
        lib, url, direct
    )
    latencies: list[float] = []

    async def caller(count: int) -> None:
        for i in range(count):
            start = time.perf_counter()
            await client.call(method, {"i": i})
            latencies.append(time.perf_counter() - start)

    try:
        start = time.perf_counter()
        await asyncio.gather(*(caller(n // WINDOW) for _ in range(WINDOW)))
        elapsed = time.perf_counter() - start
    finally:
        await client_connection.close()
        await server_connection.close()
    return {
        "p50": percentile(latencies, 0.5),
        "p99": percentile(latencies, 0.99),
        "rate": len(latencies) / elapsed,
    }


async def master_worker(lib: ModuleType, url: str, n: int) -> dict[str, float]:
    """Tasks/s: ``WINDOW`` create_task in flight, one worker (prefetch 100)."""
    patterns = importlib.import_module(f"{lib.__name__}.patterns")
    worker_connection = await lib.connect(url)
    master_connection = await lib.connect(url)
    queue = f"bench-task-{uuid.uuid4().hex[:12]}"
    done = asyncio.get_running_loop().create_future()
    count = 0

    async def task(*, i: int) -> None:
        nonlocal count
        count += 1
        if count == n and not done.done():
            done.set_result(None)

    try:
        worker_channel = await worker_connection.channel()
        await worker_channel.set_qos(prefetch_count=WINDOW)
        await patterns.Master(worker_channel).create_worker(
            queue, task, auto_delete=True
        )
        master = patterns.Master(await master_connection.channel())
        slots = asyncio.Semaphore(WINDOW)

        async def one(i: int) -> None:
            try:
                await master.create_task(queue, kwargs={"i": i})
            finally:
                slots.release()

        start = time.perf_counter()
        pending = []
        for i in range(n):
            await slots.acquire()
            pending.append(asyncio.ensure_future(one(i)))
        await asyncio.gather(*pending)
        await done
        elapsed = time.perf_counter() - start
    finally:
        await master_connection.close()
        await worker_connection.close()
    return {"rate": n / elapsed}


Scenario = Callable[[ModuleType, str, int], Awaitable[dict[str, float]]]


async def _direct_concurrent(lib: ModuleType, url: str, n: int) -> dict[str, float]:
    return await rpc_concurrent(lib, url, n, direct=lib.__name__ == "amqpio")


ROWS: list[tuple[str, Scenario, list[tuple[str, str]]]] = [
    (
        f"RPC, {WINDOW} calls in flight",
        rpc_concurrent,
        [("p50", "µs"), ("p99", "µs"), ("rate", "calls/s")],
    ),
    ("Master/Worker", master_worker, [("rate", "tasks/s")]),
    (
        f"RPC direct reply-to (amqpio) vs reply queue (aio-pika), {WINDOW} in flight",
        _direct_concurrent,
        [("p50", "µs"), ("p99", "µs"), ("rate", "calls/s")],
    ),
]


def _row(title: str, metric: str, unit: str, ours: float, theirs: float) -> None:
    if unit == "µs":
        ours, theirs = ours * 1e6, theirs * 1e6
        advantage = theirs / ours
    else:
        advantage = ours / theirs
    print(
        f"| {title} | {metric} ({unit}) | {ours:,.0f} | {theirs:,.0f} "
        f"| {advantage:.2f}x |"
    )
    sys.stdout.flush()


async def sequential_rows(
    libs: dict[str, ModuleType], url: str, n: int, repeat: int, only: str | None
) -> dict[str, float] | None:
    """The one-call-at-a-time rows; returns the floor comparison (p50, s)."""
    amqpio, aio_pika = libs["amqpio"], libs["aio_pika"]
    tables = [
        (
            "RPC, one call at a time",
            {
                "amqpio": library_rpc(amqpio, url),
                "aio_pika": library_rpc(aio_pika, url),
                "floor": floor_rpc(url),
            },
        ),
        (
            "RPC direct reply-to (amqpio) vs reply queue (aio-pika), one at a time",
            {
                "amqpio": library_rpc(amqpio, url, direct=True),
                "aio_pika": library_rpc(aio_pika, url),
            },
        ),
    ]
    floor: dict[str, float] | None = None
    for title, contenders in tables:
        if only and only not in title:
            continue
        runs = [await rpc_sequential(contenders, n) for _ in range(repeat)]
        medians = {
            name: {
                metric: statistics.median(run[name][metric] for run in runs)
                for metric in ("p50", "p99")
            }
            for name in contenders
        }
        for metric in ("p50", "p99"):
            _row(
                title,
                metric,
                "µs",
                medians["amqpio"][metric],
                medians["aio_pika"][metric],
            )
        if "floor" in medians:
            floor = {
                f"{name}_{metric}": medians[name][metric]
                for name in medians
                for metric in ("p50", "p99")
            }
    return floor


def explain_floor(floor: dict[str, float]) -> None:
    """What the broker alone costs per call, and each library's share above it."""
    print()
    for metric in ("p50", "p99"):
        base = floor[f"floor_{metric}"]
        ours = floor[f"amqpio_{metric}"] - base
        theirs = floor[f"aio_pika_{metric}"] - base
        print(
            f"One call at a time, {metric}: broker floor {base * 1e6:,.0f} µs "
            f"(rpc_floor.py: a minimal asyncio client sending the same frames); "
            f"above it amqpio adds {ours * 1e6:,.0f} µs and aio-pika "
            f"{theirs * 1e6:,.0f} µs. A client adding nothing would be "
            f"{(base + theirs) / base:.2f}x faster than aio-pika here."
        )


async def main_async(
    url: str, calls: int, repeat: int, only: str | None, raw: dict[str, Any]
) -> None:
    libs = {name: importlib.import_module(name) for name in LIBS}
    print(
        f"Python {platform.python_version()} on {loop_name()}, amqpio {libs['amqpio'].__version__}, "
        f"aio-pika {libs['aio_pika'].__version__}, {calls} calls/tasks per round, "
        f"median of {repeat} rounds (order rotated each round; the concurrent rows "
        f"also run aio-pika against itself as a control)"
    )
    print()
    print("| scenario | metric | amqpio | aio-pika | amqpio advantage |")
    print("|---|---|---:|---:|---:|")
    floor = await sequential_rows(libs, url, calls, repeat, only)
    controls: list[str] = []
    for title, scenario, metrics in ROWS:
        if only and only not in title:
            continue
        runs: dict[str, list[dict[str, float]]] = {name: [] for name, _ in CONTENDERS}
        for round_ in range(repeat):
            for name, module in rotated(round_):
                if module in libs:
                    runs[name].append(await scenario(libs[module], url, calls))
        raw[title] = runs
        for metric, unit in metrics:
            ours, theirs, control = (
                statistics.median(run[metric] for run in runs[name])
                for name, _ in CONTENDERS
            )
            _row(title, metric, unit, ours, theirs)
            controls.append(f"{title}, {metric}: {theirs / control:.2f}")
    if controls:
        print()
        print("Control, aio-pika against itself: " + "; ".join(controls))
    if floor is not None:
        explain_floor(floor)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", default=None, help="run rows whose title has this")
    add_loop_argument(parser)
    args = parser.parse_args()
    raw: dict[str, Any] = {"argv": sys.argv[1:], "python": platform.python_version()}
    with broker(args.url, "patterns-bench", 5790) as url:
        run(main_async(url, args.calls, args.repeat, args.only, raw), args.loop)
    print(f"\nper-round figures: {save_raw('patterns', args.loop, raw)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
