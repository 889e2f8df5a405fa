"""amqpio.patterns.Master / Worker against a real broker (and beside aio-pika)."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import amqpio
from amqpio.abc import AbstractChannel, AbstractIncomingMessage, DeliveryMode
from amqpio.patterns import (
    CompressedJsonMaster,
    JsonMaster,
    Master,
    NackMessage,
    RejectMessage,
    Worker,
)
from amqpio.testing.rabbitmq import Broker

pytestmark = pytest.mark.integration

TIMEOUT = 10


def name(prefix: str = "task") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class Calls:
    """Records the kwargs a worker function got; waits for a count."""

    def __init__(self) -> None:
        self.kwargs: list[dict[str, Any]] = []
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def record(self, kwargs: dict[str, Any]) -> None:
        self.kwargs.append(kwargs)
        for count, future in self._waiters:
            if len(self.kwargs) >= count and not future.done():
                future.set_result(None)

    async def wait(self, count: int) -> list[dict[str, Any]]:
        if len(self.kwargs) < count:
            future = asyncio.get_running_loop().create_future()
            self._waiters.append((count, future))
            await asyncio.wait_for(future, TIMEOUT)
        return self.kwargs


async def dead_letter_queue(
    channel: AbstractChannel,
) -> tuple[dict[str, Any], Callable[[], Awaitable[AbstractIncomingMessage]]]:
    """A queue catching dead letters; returns queue arguments and a receiver."""
    dead = await channel.declare_queue(name("dead"), auto_delete=True)
    received: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()

    async def on_dead(message: AbstractIncomingMessage) -> None:
        await received.put(message)

    await dead.consume(on_dead, no_ack=True)
    arguments = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dead.name}

    async def next_dead() -> AbstractIncomingMessage:
        return await asyncio.wait_for(received.get(), TIMEOUT)

    return arguments, next_dead


async def test_proxy_and_create_task_reach_the_worker(channel: AbstractChannel) -> None:
    calls = Calls()

    async def task(**kwargs: Any) -> None:
        calls.record(kwargs)

    queue = name()
    master = Master(channel)
    worker = await master.create_worker(queue, task, auto_delete=True)
    assert isinstance(worker, Worker)
    assert worker.queue.name == queue
    assert worker.loop is asyncio.get_running_loop()
    assert master.exchange is channel.default_exchange

    await getattr(master.proxy, queue)(task_id=1)
    await master.create_task(queue, kwargs=dict(task_id=2))
    await master.create_task(queue)  # no kwargs: an empty dict
    got = await calls.wait(3)
    assert sorted(got, key=len) == [{}, {"task_id": 1}, {"task_id": 2}]
    await worker.close()


async def test_task_message_format(channel: AbstractChannel) -> None:
    """Persistent, pickled kwargs, aio-pika's content type; message kwargs pass."""
    queue = await channel.declare_queue(name(), auto_delete=True)
    master = Master(channel)
    await master.create_task(queue.name, kwargs={"x": 1}, priority=3, app_id="me")
    message = await queue.get(no_ack=True)
    assert message.delivery_mode == DeliveryMode.PERSISTENT
    assert message.content_type == "application/python-pickle"
    assert master.deserialize(message.body) == {"x": 1}
    assert (message.priority, message.app_id) == (3, "me")


async def test_reject_and_nack_messages_settle_the_task(
    channel: AbstractChannel,
) -> None:
    arguments, next_dead = await dead_letter_queue(channel)
    attempts: Counter[int] = Counter()
    done = Calls()

    async def task(*, task_id: int) -> None:
        attempts[task_id] += 1
        if task_id == 0:
            raise RejectMessage(requeue=False)
        if task_id == 1:
            raise NackMessage(requeue=False)
        if task_id == 2 and attempts[task_id] == 1:
            raise NackMessage(requeue=True)
        if task_id == 3 and attempts[task_id] == 1:
            raise RejectMessage(requeue=True)
        done.record({"task_id": task_id})

    queue = name()
    master = Master(channel)
    await master.create_worker(queue, task, auto_delete=True, arguments=arguments)
    for task_id in range(4):
        await master.create_task(queue, kwargs={"task_id": task_id})
    dead = [await next_dead(), await next_dead()]
    reasons = sorted(m.headers["x-death"][0]["reason"] for m in dead)  # type: ignore[index,call-overload]
    assert reasons == ["rejected", "rejected"]
    assert sorted(master.deserialize(m.body)["task_id"] for m in dead) == [0, 1]
    assert sorted(k["task_id"] for k in await done.wait(2)) == [2, 3]
    assert attempts == {0: 1, 1: 1, 2: 2, 3: 2}


@pytest.mark.parametrize(
    ("requeue", "reject_on_redelivered", "attempts"),
    [(True, True, 2), (False, False, 1)],
)
async def test_failing_task_requeue_policy(
    channel: AbstractChannel,
    requeue: bool,
    reject_on_redelivered: bool,
    attempts: int,
) -> None:
    arguments, next_dead = await dead_letter_queue(channel)
    seen: list[int] = []

    async def task(*, task_id: int) -> None:
        seen.append(task_id)
        raise ValueError("unexpected")

    queue = name()
    master = Master(
        channel, requeue=requeue, reject_on_redelivered=reject_on_redelivered
    )
    await master.create_worker(queue, task, auto_delete=True, arguments=arguments)
    await master.create_task(queue, kwargs={"task_id": 7})
    dead = await next_dead()
    assert master.deserialize(dead.body) == {"task_id": 7}
    assert len(seen) == attempts


async def test_default_requeue_redelivers_a_failed_task(
    channel: AbstractChannel,
) -> None:
    attempts = Calls()

    async def task(*, task_id: int) -> None:
        attempts.record({"task_id": task_id})
        if len(attempts.kwargs) == 1:
            raise ValueError("first attempt fails")

    queue = name()
    master = Master(channel)  # requeue=True, reject_on_redelivered=False
    await master.create_worker(queue, task, auto_delete=True)
    await master.create_task(queue, kwargs={"task_id": 1})
    assert await attempts.wait(2) == [{"task_id": 1}, {"task_id": 1}]


async def test_bad_kwargs_are_rejected_without_requeue(
    channel: AbstractChannel, caplog: pytest.LogCaptureFixture
) -> None:
    arguments, next_dead = await dead_letter_queue(channel)
    called: list[Any] = []

    async def task(**kwargs: Any) -> None:
        called.append(kwargs)

    queue = name()
    master = Master(channel)
    await master.create_worker(queue, task, auto_delete=True, arguments=arguments)
    with caplog.at_level(logging.ERROR, logger="amqpio.patterns"):
        await master.create_task(queue, kwargs=[1, 2])  # type: ignore[arg-type]
        dead = await next_dead()
    assert master.deserialize(dead.body) == [1, 2]
    assert called == []
    assert "Bad kwargs" in caplog.text


async def test_worker_close_cancels_the_consumer(channel: AbstractChannel) -> None:
    calls = Calls()

    async def task(**kwargs: Any) -> None:
        calls.record(kwargs)

    queue = name()
    master = Master(channel)
    worker = await master.create_worker(queue, task)
    await master.create_task(queue, kwargs={"n": 1})
    await calls.wait(1)
    closing = worker.close()
    assert isinstance(closing, asyncio.Task)
    await closing
    await master.create_task(queue, kwargs={"n": 2})
    declared = await channel.declare_queue(queue, passive=True)
    assert declared.declaration_result.consumer_count == 0
    message = await declared.get(timeout=TIMEOUT)
    assert master.deserialize(message.body) == {"n": 2}
    await message.ack()
    assert calls.kwargs == [{"n": 1}]
    await channel.queue_delete(queue)


async def test_unroutable_task_is_returned_and_logged(
    channel: AbstractChannel, caplog: pytest.LogCaptureFixture
) -> None:
    master = Master(channel)
    with caplog.at_level(logging.WARNING, logger="amqpio.patterns"):
        result = await master.create_task(name("nobody"), kwargs={"x": 1})
    assert isinstance(result, AbstractIncomingMessage)  # the returned message
    assert "Probably destination queue does not exists" in caplog.text


async def test_json_masters(channel: AbstractChannel) -> None:
    for cls, decode in (
        (JsonMaster, json.loads),
        (CompressedJsonMaster, lambda body: json.loads(gzip.decompress(body))),
    ):
        calls = Calls()

        async def task(**kwargs: Any) -> None:
            calls.record(kwargs)  # noqa: B023

        queue = await channel.declare_queue(name(), auto_delete=True)
        master = cls(channel)
        await master.create_task(queue.name, kwargs={"text": "héllo", "n": [1]})
        raw = await queue.get(no_ack=True)
        assert raw.content_type == cls.CONTENT_TYPE
        assert decode(raw.body) == {"text": "héllo", "n": [1]}
        await master.create_worker(queue.name, task, auto_delete=True)
        await master.create_task(queue.name, kwargs={"text": "héllo", "n": [2]})
        assert await calls.wait(1) == [{"text": "héllo", "n": [2]}]


async def test_seed_json_master_returning_str(channel: AbstractChannel) -> None:
    """aio-pika 6.8's "Extending" JsonMaster (serialize returns str) works."""

    class SeedJsonMaster(Master):
        SERIALIZER = json
        CONTENT_TYPE = "application/json"

        def serialize(self, data: Any) -> bytes:
            return self.SERIALIZER.dumps(data, ensure_ascii=False)  # type: ignore[no-any-return]

    calls = Calls()

    async def task(**kwargs: Any) -> None:
        calls.record(kwargs)

    queue = name()
    master = SeedJsonMaster(channel)
    await master.create_worker(queue, task, auto_delete=True)
    await getattr(master.proxy, queue)(word="naïve")
    assert await calls.wait(1) == [{"word": "naïve"}]


async def test_1000_tasks_to_3_workers_exactly_once(rabbitmq: Broker) -> None:
    total = 1000
    queue = name("fanin")
    processed: Counter[int] = Counter()
    per_worker: Counter[int] = Counter()
    finished = asyncio.get_running_loop().create_future()
    connections = [await amqpio.connect(rabbitmq.url) for _ in range(4)]
    try:
        for number, connection in enumerate(connections[:3]):
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=20)

            async def task(*, task_id: int, worker: int = number) -> None:
                await asyncio.sleep(0)  # let the other deliveries interleave
                processed[task_id] += 1
                per_worker[worker] += 1
                if sum(processed.values()) == total and not finished.done():
                    finished.set_result(None)

            await Master(channel).create_worker(queue, task, durable=False)
        master = Master(await connections[3].channel())
        publish = getattr(master.proxy, queue)
        await asyncio.gather(*(publish(task_id=i) for i in range(total)))
        await asyncio.wait_for(finished, 30)
        declared = await (await connections[3].channel()).declare_queue(
            queue, passive=True
        )
        assert declared.declaration_result.message_count == 0
        assert sorted(processed) == list(range(total))
        assert set(processed.values()) == {1}
        assert sorted(per_worker) == [0, 1, 2]  # every worker took a share
        assert sum(per_worker.values()) == total
        await declared.delete(if_unused=False, if_empty=False)
    finally:
        for connection in connections:
            await connection.close()


async def test_interoperates_with_aio_pika(
    rabbitmq: Broker, channel: AbstractChannel
) -> None:
    """An amqpio Master feeds an aio-pika worker and the other way round."""
    aio_pika = pytest.importorskip("aio_pika")
    from aio_pika.patterns import Master as PikaMaster

    ours = Calls()
    theirs = Calls()

    async def our_task(**kwargs: Any) -> None:
        ours.record(kwargs)

    async def their_task(**kwargs: Any) -> None:
        theirs.record(kwargs)

    pika_connection = await aio_pika.connect(rabbitmq.url)
    try:
        pika_master = PikaMaster(await pika_connection.channel())
        our_master = Master(channel)
        our_queue, their_queue = name(), name()
        await our_master.create_worker(our_queue, our_task, auto_delete=True)
        await pika_master.create_worker(their_queue, their_task, auto_delete=True)
        await pika_master.create_task(our_queue, kwargs={"from": "aio-pika"})
        await our_master.create_task(their_queue, kwargs={"from": "amqpio"})
        assert await ours.wait(1) == [{"from": "aio-pika"}]
        assert await theirs.wait(1) == [{"from": "amqpio"}]
    finally:
        await pika_connection.close()
