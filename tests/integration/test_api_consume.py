"""Receiving: get, ack/nack/reject, process(), consumers, iterators, QoS, transactions."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import amqpio
from amqpio import exceptions as exc
from amqpio.abc import TransactionState
from amqpio.testing.rabbitmq import Broker

from .api_support import eventually, message_count, unique, within

pytestmark = pytest.mark.integration


async def fill(channel: amqpio.Channel, queue: amqpio.Queue, count: int) -> None:
    for index in range(count):
        await channel.default_exchange.publish(
            amqpio.Message(b"%d" % index), queue.name
        )


async def is_empty(channel: amqpio.Channel, queue: amqpio.Queue) -> bool:
    return await message_count(channel, queue.name) == 0


async def is_ready(channel: amqpio.Channel, queue: amqpio.Queue, count: int) -> bool:
    return await message_count(channel, queue.name) == count


class Collector:
    """A consumer callback that keeps messages (unacked) and signals arrivals."""

    def __init__(self) -> None:
        self.messages: list[amqpio.IncomingMessage] = []
        self._changed = asyncio.Event()

    def __call__(self, message: amqpio.IncomingMessage) -> None:
        self.messages.append(message)
        self._changed.set()

    async def wait_for(self, count: int) -> list[amqpio.IncomingMessage]:
        while len(self.messages) < count:
            self._changed.clear()
            await within(self._changed.wait())
        return self.messages


# -- Queue.get -------------------------------------------------------------------


async def test_get_from_an_empty_queue(queue: amqpio.Queue) -> None:
    with pytest.raises(exc.QueueEmpty) as info:
        await queue.get()
    assert isinstance(info.value, asyncio.QueueEmpty)
    assert isinstance(info.value, exc.AMQPError)
    with pytest.raises(asyncio.QueueEmpty):
        await queue.get(fail=True, timeout=5)
    assert await queue.get(fail=False) is None


async def test_aio_pika_agrees_on_queue_empty(rabbitmq: Broker) -> None:
    aio_pika = pytest.importorskip("aio_pika")
    connection = await aio_pika.connect(rabbitmq.url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True)
        with pytest.raises(aio_pika.exceptions.QueueEmpty) as info:
            await queue.get()
        assert isinstance(info.value, asyncio.QueueEmpty)
        assert await queue.get(fail=False) is None
    finally:
        await connection.close()


async def test_get_that_timed_out_does_not_lose_the_message(
    channel: amqpio.Channel, queue: amqpio.Queue
) -> None:
    """The GetOk that arrives after the timeout is requeued, not left unacked."""
    await fill(channel, queue, 1)
    with pytest.raises(asyncio.TimeoutError):
        await queue.get(timeout=0)
    await eventually(lambda: is_ready(channel, queue, 1))
    message = await queue.get()
    assert (message.body, message.redelivered) == (b"0", True)
    await message.ack()


async def test_get_no_ack(channel: amqpio.Channel, queue: amqpio.Queue) -> None:
    await fill(channel, queue, 2)
    message = await queue.get(no_ack=True)
    assert message.body == b"0"
    assert message.processed and message.locked
    assert message.message_count == 1  # left in the queue
    with pytest.raises(TypeError):
        await message.ack()
    with pytest.raises(TypeError):
        await message.reject()
    with pytest.raises(TypeError):
        await message.nack()
    assert await message_count(channel, queue.name) == 1


# -- ack / nack / reject -------------------------------------------------------------


async def test_ack_removes_the_message(
    channel: amqpio.Channel, queue: amqpio.Queue
) -> None:
    await fill(channel, queue, 1)
    message = await queue.get()
    assert not message.processed and not message.locked
    await message.ack()
    assert message.processed and message.locked
    with pytest.raises(exc.MessageProcessError):
        await message.ack()
    with pytest.raises(exc.MessageProcessError):
        await message.nack()
    with pytest.raises(exc.MessageProcessError):
        await message.reject()
    assert await queue.get(fail=False) is None
    # the connection is fine: the second ack was never sent
    await channel.connection.channel()
    assert not channel.is_closed


async def test_aio_pika_agrees_on_a_second_ack(rabbitmq: Broker) -> None:
    aio_pika = pytest.importorskip("aio_pika")
    connection = await aio_pika.connect(rabbitmq.url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True)
        await channel.default_exchange.publish(aio_pika.Message(b"x"), queue.name)
        message = await queue.get()
        await message.ack()
        with pytest.raises(aio_pika.MessageProcessError):
            await message.ack()
    finally:
        await connection.close()


@pytest.mark.parametrize(
    ("settle", "requeued"),
    [
        ("reject", False),
        ("reject-requeue", True),
        ("nack", True),  # nack requeues by default
        ("nack-drop", False),
    ],
)
async def test_reject_and_nack(
    channel: amqpio.Channel, queue: amqpio.Queue, settle: str, requeued: bool
) -> None:
    await fill(channel, queue, 1)
    message = await queue.get()
    assert message.redelivered is False
    if settle == "reject":
        await message.reject()
    elif settle == "reject-requeue":
        await message.reject(requeue=True)
    elif settle == "nack":
        await message.nack()
    else:
        await message.nack(requeue=False)
    assert message.processed
    again = await queue.get(fail=False)
    if requeued:
        assert again is not None
        assert (again.body, again.redelivered) == (b"0", True)
        await again.ack()
    else:
        assert again is None


async def test_multiple_ack_and_nack(
    channel: amqpio.Channel, queue: amqpio.Queue
) -> None:
    await fill(channel, queue, 6)
    first = [await queue.get() for _ in range(3)]
    await first[-1].ack(multiple=True)  # acks the three
    second = [await queue.get() for _ in range(3)]
    await second[-1].nack(multiple=True, requeue=True)  # requeues the three
    back = [await queue.get(no_ack=True) for _ in range(3)]
    assert [m.body for m in back] == [b"3", b"4", b"5"]
    assert all(m.redelivered for m in back)
    assert await queue.get(fail=False) is None


async def test_settling_on_a_closed_channel(
    connection: amqpio.Connection, queue: amqpio.Queue
) -> None:
    channel = await connection.channel()
    await fill(channel, queue, 1)
    message = await (await channel.get_queue(queue.name)).get()
    await channel.close()
    for settle in (message.ack(), message.nack(), message.reject()):
        with pytest.raises(exc.ChannelInvalidStateError):
            await settle
    assert not message.processed
    with pytest.raises(exc.ChannelInvalidStateError):
        _ = message.channel


# -- process() ---------------------------------------------------------------------


async def test_process_acks_on_success(
    channel: amqpio.Channel, queue: amqpio.Queue
) -> None:
    await fill(channel, queue, 1)
    message = await queue.get()
    async with message.process() as processing:
        assert processing is message
    assert message.processed
    assert await queue.get(fail=False) is None


@pytest.mark.parametrize("requeue", [False, True])
async def test_process_rejects_on_an_exception(
    channel: amqpio.Channel, queue: amqpio.Queue, requeue: bool
) -> None:
    await fill(channel, queue, 1)
    message = await queue.get()
    with pytest.raises(ZeroDivisionError):  # the exception goes on
        async with message.process(requeue=requeue):
            1 / 0  # noqa: B018
    assert message.processed
    again = await queue.get(fail=False, no_ack=True)
    if requeue:
        assert again is not None and again.redelivered
    else:
        assert again is None


async def test_process_reject_on_redelivered(
    channel: amqpio.Channel, queue: amqpio.Queue
) -> None:
    await fill(channel, queue, 1)
    first = await queue.get()
    with pytest.raises(KeyError):
        async with first.process(requeue=True, reject_on_redelivered=True):
            raise KeyError("first failure: requeued")
    second = await queue.get()
    assert second.redelivered
    with pytest.raises(KeyError):
        async with second.process(requeue=True, reject_on_redelivered=True):
            raise KeyError("second failure: dropped")
    assert await queue.get(fail=False) is None


async def test_process_ignore_processed(
    channel: amqpio.Channel, queue: amqpio.Queue
) -> None:
    await fill(channel, queue, 2)
    message = await queue.get()
    async with message.process(ignore_processed=True):
        await message.nack(requeue=False)  # settled by hand: no second settle
    other = await queue.get()
    with pytest.raises(exc.MessageProcessError):
        async with other.process():
            await other.ack()  # then process() acks again
    assert await queue.get(fail=False) is None
    assert not channel.is_closed


async def test_process_on_a_closed_channel_keeps_the_original_error(
    connection: amqpio.Connection, queue: amqpio.Queue
) -> None:
    channel = await connection.channel()
    await fill(channel, queue, 1)
    message = await (await channel.get_queue(queue.name)).get()
    await channel.close()
    with pytest.raises(LookupError):
        async with message.process():
            raise LookupError("the block's error wins over the failed reject")


# -- consumers ---------------------------------------------------------------------


async def test_consume_and_cancel(channel: amqpio.Channel, queue: amqpio.Queue) -> None:
    received: asyncio.Queue[amqpio.IncomingMessage] = asyncio.Queue()

    async def on_message(message: amqpio.IncomingMessage) -> None:
        await message.ack()
        await received.put(message)

    tag = await queue.consume(on_message, consumer_tag="my-tag", timeout=5)
    assert tag == "my-tag"
    await fill(channel, queue, 3)
    bodies = [(await within(received.get())).body for _ in range(3)]
    assert bodies == [b"0", b"1", b"2"]
    cancelled = await queue.cancel(tag)
    assert type(cancelled).__name__ == "CancelOk"
    assert cancelled.consumer_tag == "my-tag"
    await fill(channel, queue, 1)
    assert await message_count(channel, queue.name) == 1  # no consumer took it
    assert received.empty()


async def test_async_consumers_that_suspend(
    channel: amqpio.Channel, queue: amqpio.Queue, caplog: pytest.LogCaptureFixture
) -> None:
    await channel.set_qos(prefetch_count=10)
    done: asyncio.Queue[bytes] = asyncio.Queue()
    running = 0
    most = 0

    async def on_message(message: amqpio.IncomingMessage) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.05)  # really suspends: a task finishes it
        running -= 1
        if message.body == b"2":
            raise RuntimeError("a failing consumer")  # logged, channel stays
        await message.ack()
        await done.put(message.body)

    await queue.consume(on_message)
    await fill(channel, queue, 5)
    bodies = sorted([await within(done.get()) for _ in range(4)])
    assert bodies == [b"0", b"1", b"3", b"4"]
    assert most > 1  # they ran concurrently
    assert "a failing consumer" in caplog.text
    assert not channel.is_closed


async def test_ack_after_cancel(channel: amqpio.Channel, queue: amqpio.Queue) -> None:
    """Messages delivered before a cancel can still be acknowledged."""
    collector = Collector()
    tag = await queue.consume(collector)
    await fill(channel, queue, 2)
    messages = await collector.wait_for(2)
    await queue.cancel(tag)
    for message in messages:
        await message.ack()
    assert await queue.get(fail=False) is None
    assert not channel.is_closed


async def test_consume_from_a_missing_queue(connection: amqpio.Connection) -> None:
    channel = await connection.channel()
    queue = await channel.get_queue(unique("missing"), ensure=False)
    with pytest.raises(exc.ChannelNotFoundEntity):
        await queue.consume(lambda message: None)
    assert channel.is_closed


async def test_consume_no_ack_and_generated_tags(
    channel: amqpio.Channel, queue: amqpio.Queue
) -> None:
    collector = Collector()
    tag = await queue.consume(collector, no_ack=True)
    other = await (await channel.declare_queue(exclusive=True)).consume(collector)
    assert tag != other and tag.startswith("ctag")
    await fill(channel, queue, 2)
    messages = await collector.wait_for(2)
    assert all(m.processed and m.consumer_tag == tag for m in messages)
    assert await message_count(channel, queue.name) == 0
    await queue.cancel(tag, nowait=True)
    await fill(channel, queue, 1)
    assert await message_count(channel, queue.name) == 1


async def test_exclusive_consumer(
    connection: amqpio.Connection, channel: amqpio.Channel, queue: amqpio.Queue
) -> None:
    await queue.consume(lambda message: None, exclusive=True)
    other = await connection.channel()
    same_queue = await other.get_queue(queue.name)
    with pytest.raises(exc.ChannelAccessRefused) as info:
        await same_queue.consume(lambda message: None)
    assert info.value.reply_code == 403
    assert other.is_closed and not channel.is_closed


async def test_consumer_priority_argument(
    connection: amqpio.Connection, channel: amqpio.Channel, queue: amqpio.Queue
) -> None:
    low, high = Collector(), Collector()
    await queue.consume(low, arguments={"x-priority": 1})
    await queue.consume(high, arguments={"x-priority": 10})
    await fill(channel, queue, 3)
    await high.wait_for(3)
    assert low.messages == []


async def test_broker_cancel_reaches_cancel_callbacks(
    rabbitmq: Broker, channel: amqpio.Channel
) -> None:
    """The queue deleted by another connection: Basic.Cancel from the broker."""
    queue = await channel.declare_queue(unique("q-cancelled"))
    cancelled: asyncio.Future[tuple[Any, str]] = (
        asyncio.get_running_loop().create_future()
    )
    channel.cancel_callbacks.add(lambda ch, tag: cancelled.set_result((ch, tag)))
    tag = await queue.consume(lambda message: None)
    async with await amqpio.connect(rabbitmq.url) as other:
        other_channel = await other.channel()
        await other_channel.queue_delete(queue.name)
    ch, cancelled_tag = await within(cancelled)
    assert (ch, cancelled_tag) == (channel, tag)
    assert not channel.is_closed
    await channel.declare_queue(exclusive=True)  # still usable


async def test_direct_reply_to(channel: amqpio.Channel, queue: amqpio.Queue) -> None:
    """RPC through the ``amq.rabbitmq.reply-to`` pseudo-queue."""

    async def server(request: amqpio.IncomingMessage) -> None:
        assert request.reply_to is not None
        await channel.default_exchange.publish(
            amqpio.Message(
                b"pong:" + request.body, correlation_id=request.correlation_id
            ),
            request.reply_to,
        )
        await request.ack()

    await queue.consume(server)
    replies: asyncio.Queue[amqpio.IncomingMessage] = asyncio.Queue()
    pseudo = await channel.get_queue("amq.rabbitmq.reply-to", ensure=False)
    await pseudo.consume(replies.put_nowait, no_ack=True)
    await channel.default_exchange.publish(
        amqpio.Message(b"ping", reply_to="amq.rabbitmq.reply-to", correlation_id="7"),
        queue.name,
    )
    reply = await within(replies.get())
    assert (reply.body, reply.correlation_id) == (b"pong:ping", "7")
    assert reply.routing_key is not None
    assert reply.routing_key.startswith("amq.rabbitmq.reply-to.")


async def test_quorum_queue_counts_deliveries(channel: amqpio.Channel) -> None:
    queue = await channel.declare_queue(
        unique("quorum"), durable=True, arguments={"x-queue-type": "quorum"}
    )
    try:
        await channel.default_exchange.publish(amqpio.Message(b"q"), queue.name)
        first = await queue.get()
        await first.nack(requeue=True)
        second = await queue.get()
        assert second.redelivered
        assert second.headers["x-delivery-count"] == 1
        await second.ack()
    finally:
        await queue.delete(if_unused=False, if_empty=False)


async def test_stream_queue_offsets(channel: amqpio.Channel) -> None:
    """Streams: consumer arguments of several types, long-int headers back."""
    stream = await channel.declare_queue(
        unique("stream"), durable=True, arguments={"x-queue-type": "stream"}
    )
    try:
        for index in range(3):
            await channel.default_exchange.publish(
                amqpio.Message(b"s%d" % index), stream.name
            )
        await channel.set_qos(prefetch_count=10)
        start: Any
        for start in ("first", 1, datetime.now(timezone.utc) - timedelta(minutes=5)):
            collector = Collector()
            tag = await stream.consume(collector, arguments={"x-stream-offset": start})
            messages = await collector.wait_for(3 if start != 1 else 2)
            offsets = [m.headers["x-stream-offset"] for m in messages]
            assert offsets == ([0, 1, 2] if start != 1 else [1, 2]), start
            await messages[-1].ack(multiple=True)
            await stream.cancel(tag)
    finally:
        await channel.queue_delete(stream.name)


# -- QoS ---------------------------------------------------------------------------


async def test_prefetch_count_limits_unacked_deliveries(
    channel: amqpio.Channel, queue: amqpio.Queue
) -> None:
    ok = await channel.set_qos(prefetch_count=3, prefetch_size=0, global_=False)
    assert type(ok).__name__ == "QosOk"
    await fill(channel, queue, 10)
    collector = Collector()
    await queue.consume(collector)
    await collector.wait_for(3)
    assert await message_count(channel, queue.name) == 7  # held back
    assert len(collector.messages) == 3
    await collector.messages[0].ack()
    await collector.wait_for(4)
    assert await message_count(channel, queue.name) == 6
    assert len(collector.messages) == 4


@pytest.mark.parametrize(("global_", "delivered"), [(False, 4), (True, 2)])
async def test_global_prefetch_is_per_channel(
    channel: amqpio.Channel, global_: bool, delivered: int
) -> None:
    """RabbitMQ: ``global_=False`` limits each consumer, ``True`` the channel."""
    await channel.set_qos(prefetch_count=2, global_=global_)
    queues = [await channel.declare_queue(exclusive=True) for _ in range(2)]
    collector = Collector()
    for queue in queues:
        await fill(channel, queue, 5)
        await queue.consume(collector)
    await collector.wait_for(delivered)
    left = [await message_count(channel, q.name) for q in queues]
    assert sum(left) == 10 - delivered
    assert len(collector.messages) == delivered


# -- QueueIterator -------------------------------------------------------------------


async def test_iterator_with_async_with(
    channel: amqpio.Channel, queue: amqpio.Queue
) -> None:
    await fill(channel, queue, 3)
    bodies = []
    async with queue.iterator() as iterator:
        assert iterator.consumer_tag is not None
        async for message in iterator:
            async with message.process():
                bodies.append(message.body)
            if len(bodies) == 3:
                break
    assert bodies == [b"0", b"1", b"2"]
    assert iterator.consumer_tag is None  # cancelled
    assert await queue.get(fail=False) is None


async def test_async_for_over_a_queue(
    channel: amqpio.Channel, queue: amqpio.Queue
) -> None:
    await fill(channel, queue, 2)
    bodies = []
    async for message in queue:
        await message.ack()
        bodies.append(message.body)
        if len(bodies) == 2:
            break
    assert bodies == [b"0", b"1"]


async def test_iterator_timeout(channel: amqpio.Channel, queue: amqpio.Queue) -> None:
    await fill(channel, queue, 2)
    bodies = []
    iterator = queue.iterator(timeout=0.2)
    with pytest.raises(asyncio.TimeoutError):
        async for message in iterator:
            await message.ack()
            bodies.append(message.body)
    assert bodies == [b"0", b"1"]
    # the timeout closed the iterator: its consumer is gone
    assert iterator.consumer_tag is None
    with pytest.raises(StopAsyncIteration):
        await anext(iterator)
    await fill(channel, queue, 1)
    assert await message_count(channel, queue.name) == 1


async def test_closing_an_iterator_requeues_buffered_messages(
    channel: amqpio.Channel, queue: amqpio.Queue
) -> None:
    await fill(channel, queue, 5)
    async with queue.iterator() as iterator:
        first = await within(anext(iterator))
        await first.ack()
        # until the broker has delivered the rest into the iterator's buffer
        await eventually(lambda: is_empty(channel, queue))
    rest = [await queue.get(no_ack=True) for _ in range(4)]
    assert [m.body for m in rest] == [b"1", b"2", b"3", b"4"]
    assert all(m.redelivered for m in rest)  # were delivered, then nacked back


async def test_cancelling_a_waiting_reader_closes_the_iterator(
    channel: amqpio.Channel, queue: amqpio.Queue
) -> None:
    """As aio-pika: the consumer goes away with the cancelled ``async for``."""
    received: list[bytes] = []

    async def reader() -> None:
        async for message in queue:
            received.append(message.body)
            await message.ack()

    task = asyncio.ensure_future(reader())
    await fill(channel, queue, 1)
    await eventually(lambda: asyncio.sleep(0, result=received == [b"0"]))
    declared = await channel.get_queue(queue.name)
    assert declared.declaration_result.consumer_count == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await within(task)
    declared = await channel.get_queue(queue.name)
    assert declared.declaration_result.consumer_count == 0
    await fill(channel, queue, 1)
    assert await message_count(channel, queue.name) == 1


async def test_iterator_ends_when_its_channel_closes(
    connection: amqpio.Connection, queue: amqpio.Queue
) -> None:
    channel = await connection.channel()
    same_queue = await channel.get_queue(queue.name)
    iterator = same_queue.iterator()
    await iterator.consume()
    reader = asyncio.ensure_future(anext(iterator, "ended"))
    await asyncio.sleep(0)
    await channel.close()
    assert await within(reader) == "ended"


# -- transactions ----------------------------------------------------------------------


async def test_transaction_commit_and_rollback(
    connection: amqpio.Connection, queue: amqpio.Queue
) -> None:
    tx_channel = await connection.channel(publisher_confirms=False)
    tx_queue = await tx_channel.get_queue(queue.name)
    transaction = tx_channel.transaction()
    assert transaction.state == TransactionState.CREATED
    assert type(await transaction.select()).__name__ == "SelectOk"
    assert transaction.state == TransactionState.STARTED

    await tx_channel.default_exchange.publish(amqpio.Message(b"kept"), queue.name)
    assert await queue.get(fail=False) is None  # not before the commit
    assert type(await transaction.commit()).__name__ == "CommitOk"
    assert transaction.state == TransactionState.COMMITED

    await tx_channel.default_exchange.publish(amqpio.Message(b"gone"), queue.name)
    assert type(await transaction.rollback()).__name__ == "RollbackOk"
    assert transaction.state == TransactionState.ROLLED_BACK
    # a Basic.Get on the transaction's channel comes after the commit's effects
    assert (await tx_queue.get(no_ack=True)).body == b"kept"
    assert await tx_queue.get(fail=False) is None


async def test_transaction_as_a_context_manager(
    connection: amqpio.Connection, queue: amqpio.Queue
) -> None:
    tx_channel = await connection.channel(publisher_confirms=False)
    tx_queue = await tx_channel.get_queue(queue.name)
    async with tx_channel.transaction() as transaction:
        await tx_channel.default_exchange.publish(amqpio.Message(b"1"), queue.name)
    assert transaction.state == TransactionState.COMMITED
    with pytest.raises(RuntimeError):
        async with tx_channel.transaction() as transaction:
            await tx_channel.default_exchange.publish(amqpio.Message(b"2"), queue.name)
            raise RuntimeError("roll back")
    assert transaction.state == TransactionState.ROLLED_BACK
    assert [(await tx_queue.get(no_ack=True)).body] == [b"1"]
    assert await tx_queue.get(fail=False) is None


async def test_transaction_needs_confirms_off(channel: amqpio.Channel) -> None:
    assert channel.publisher_confirms
    with pytest.raises(RuntimeError):
        channel.transaction()


async def test_flow(channel: amqpio.Channel) -> None:
    ok = await channel.flow(True)
    assert type(ok).__name__ == "FlowOk" and ok.active
