"""``make demo``: amqpio against a real RabbitMQ, end to end, printing what happens.

Broker: ``AMQP_URL`` when set; else a broker already answering on
localhost:5672 with guest/guest; else a throwaway node started from the local
``rabbitmq-server`` install (stopped again at the end).

1. hello world: publish one message and consume it;
2. a work queue shared by two workers with prefetch 1 (fair dispatch);
3. a throughput line: publish with confirms (1000 outstanding), then consume.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from typing import Any

import amqpio as aio_pika

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/"


async def reachable(url: str) -> bool:
    try:
        connection = await aio_pika.connect(url, timeout=2)
    except (OSError, asyncio.TimeoutError, aio_pika.exceptions.AMQPError):
        return False
    await connection.close()
    return True


async def hello_world(url: str) -> None:
    print("== 1. hello world")
    async with await aio_pika.connect(url) as connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(
            f"demo-hello-{uuid.uuid4().hex[:8]}", auto_delete=True
        )
        confirm = await channel.default_exchange.publish(
            aio_pika.Message(b"Hello World!"), routing_key=queue.name
        )
        print(
            f"   published 'Hello World!' to {queue.name}, broker confirmed: {confirm}"
        )
        async with queue.iterator() as messages:
            async for message in messages:
                async with message.process():
                    print(
                        f"   received {message.body!r} (delivery tag {message.delivery_tag})"
                    )
                break


async def work_queue(url: str) -> None:
    print("== 2. work queue, two workers, prefetch 1")
    name = f"demo-tasks-{uuid.uuid4().hex[:8]}"
    tasks = [f"task {i}" + "." * (i % 3) for i in range(1, 9)]
    done: dict[str, list[str]] = {"worker A": [], "worker B": []}
    finished = asyncio.Event()
    async with await aio_pika.connect(url) as connection:
        setup = await connection.channel()
        queue = await setup.declare_queue(name, auto_delete=True)

        async def start_worker(label: str) -> None:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=1)
            worker_queue = await channel.declare_queue(name, auto_delete=True)

            async def on_message(message: Any) -> None:
                async with message.process():
                    # each dot is a tenth of a second of "work"
                    await asyncio.sleep(message.body.count(b".") / 10)
                    done[label].append(message.body.decode())
                    if sum(map(len, done.values())) == len(tasks):
                        finished.set()

            await worker_queue.consume(on_message)

        await start_worker("worker A")
        await start_worker("worker B")
        for task in tasks:
            await setup.default_exchange.publish(
                aio_pika.Message(
                    task.encode(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT
                ),
                routing_key=queue.name,
            )
        print(f"   sent {len(tasks)} tasks to {name}")
        await asyncio.wait_for(finished.wait(), 30)
        for label, items in done.items():
            print(f"   {label} did {len(items)}: {', '.join(items)}")


async def throughput(url: str, count: int = 20000) -> None:
    print(f"== 3. throughput, {count} messages of 64 bytes")
    body = b"x" * 64
    async with await aio_pika.connect(url) as connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(
            f"demo-bench-{uuid.uuid4().hex[:8]}", auto_delete=True
        )
        exchange = channel.default_exchange
        slots = asyncio.Semaphore(1000)

        async def publish() -> None:
            try:
                await exchange.publish(aio_pika.Message(body), routing_key=queue.name)
            finally:
                slots.release()

        pending = []
        start = time.perf_counter()
        for _ in range(count):
            await slots.acquire()
            pending.append(asyncio.ensure_future(publish()))
        await asyncio.gather(*pending)
        published = time.perf_counter() - start

        await channel.set_qos(prefetch_count=1000)
        received = 0
        all_in = asyncio.Event()

        async def on_message(message: Any) -> None:
            nonlocal received
            await message.ack()
            received += 1
            if received == count:
                all_in.set()

        start = time.perf_counter()
        await queue.consume(on_message)
        await asyncio.wait_for(all_in.wait(), 60)
        consumed = time.perf_counter() - start
    print(
        f"   published {count / published:,.0f} msg/s with confirms, "
        f"consumed {count / consumed:,.0f} msg/s with acks"
    )


async def run(url: str) -> None:
    await hello_world(url)
    await work_queue(url)
    await throughput(url)


def main() -> int:
    node = None
    url = os.environ.get("AMQP_URL")
    if url:
        print(f"broker: AMQP_URL {url}")
    elif asyncio.run(reachable(DEFAULT_URL)):
        url = DEFAULT_URL
        print(f"broker: reusing the one on {url}")
    else:
        from amqpio.testing.rabbitmq import RabbitNode

        print("broker: starting a throwaway RabbitMQ node ...", flush=True)
        node = RabbitNode("amqpio-demo", port=5699)
        node.start()
        url = node.url
        print(f"broker: {url} (up in {node.startup_seconds:.1f} s)")
    try:
        asyncio.run(run(url))
    finally:
        if node is not None:
            node.close()
            print("broker: throwaway node stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
