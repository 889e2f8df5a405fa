"""FastStream scenarios as a FastStream user writes them, grouped by topic.

Imported only by ``faststream_scenarios.py``, in a child process, *after* it
has decided which library ``import aio_pika`` gives (amqpio through
``install_as_aio_pika()``, or the real aio-pika): this module imports
FastStream, which imports ``aio_pika`` at once.

Every check is a coroutine function ``check(run) -> value`` registered under
a scenario with :func:`check`; the value is what the check observed, made
JSON-able and free of anything random (queue names have the run prefix
replaced by ``P``, random ids become booleans), so that the amqpio run and
the aio-pika run can be compared value for value. Queues a check declares
are listed in :attr:`Run.queues`; the test process inspects what is left in
them with the real aio-pika after the child exits, then deletes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import enum
import json
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import aio_pika
import aio_pika.abc
import aio_pika.exceptions
import aiormq
from faststream import AckPolicy, BaseMiddleware, Context, Depends, Header, Path
from faststream.exceptions import AckMessage, NackMessage, RejectMessage
from faststream.rabbit import (
    Channel,
    ExchangeType,
    RabbitBroker,
    RabbitExchange,
    RabbitMessage,
    RabbitQueue,
    RabbitResponse,
    TestRabbitBroker,
)
from pydantic import BaseModel

#: bound for any single wait in a check; the child as a whole has a hard timeout
WAIT = 5.0
#: body of the last message published to a queue: once it is delivered,
#: everything routed there before it was delivered too (a queue is FIFO), and
#: leaving ``async with broker`` (a graceful stop) waits for their handlers
END = "__end__"

LOGGER = logging.getLogger("compat.faststream")
logging.basicConfig(stream=sys.stderr, level=logging.WARNING)


@dataclass
class Run:
    """Names and bookkeeping of one check (``P.<check>.<name>`` queues)."""

    url: str
    prefix: str
    check: str = ""
    queues: list[str] = field(default_factory=list)
    exchanges: list[str] = field(default_factory=list)

    def name(self, local: str) -> str:
        """A name unique to this run and check; nothing is recorded."""
        return f"{self.prefix}.{self.check}.{local}"

    def queue(self, local: str) -> str:
        """A queue name; the test process inspects and deletes the queue."""
        name = self.name(local)
        self.queues.append(name)
        return name

    def exchange(self, local: str) -> str:
        """An exchange name; the test process deletes the exchange."""
        name = self.name(local)
        self.exchanges.append(name)
        return name

    def norm(self, value: Any) -> Any:
        """``value`` as JSON-able data, with the run prefix replaced by ``P``."""
        if isinstance(value, str):
            return value.replace(self.prefix, "P")
        if isinstance(value, bool | int | float) or value is None:
            return value
        if isinstance(value, bytes | bytearray | memoryview):
            return {"bytes": bytes(value).hex()}
        if isinstance(value, enum.Enum):
            return self.norm(value.value)
        if isinstance(value, datetime.datetime):
            return {"datetime": value.isoformat()}
        if isinstance(value, dict):
            return {self.norm(str(k)): self.norm(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.norm(v) for v in value]
        return {"repr": f"{type(value).__name__}"}

    def broker(self, url: str | None = None, **kwargs: Any) -> RabbitBroker:
        return RabbitBroker(
            url or self.url, logger=LOGGER, graceful_timeout=WAIT, **kwargs
        )


Check = Callable[[Run], Awaitable[Any]]
SCENARIOS: dict[str, dict[str, Check]] = {}


def check(scenario: str) -> Callable[[Check], Check]:
    """Register a check under ``scenario`` (its name is the function's)."""

    def register(fn: Check) -> Check:
        SCENARIOS.setdefault(scenario, {})[fn.__name__] = fn
        return fn

    return register


class Log:
    """What handlers saw, in order; :meth:`wait` for a number of entries."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._changed = asyncio.Event()

    def add(self, item: Any) -> None:
        self.items.append(item)
        self._changed.set()

    async def wait(self, count: int) -> list[Any]:
        async def reached() -> None:
            while len(self.items) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(reached(), WAIT)
        return self.items


def ordered(items: list[Any]) -> list[Any]:
    """``items`` in a fixed order: FastStream runs a queue's handlers
    concurrently, so the order they record in is not the delivery order."""
    return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))


def outcome(exc: BaseException) -> dict[str, Any]:
    """The class of an exception (and of the members of an exception group)."""
    result: dict[str, Any] = {"raised": type(exc).__name__}
    members = getattr(exc, "exceptions", None)  # an ExceptionGroup (3.10: backport)
    if isinstance(members, tuple):
        result["members"] = [outcome(member) for member in members]
    return result


def describe_raw(raw: Any) -> dict[str, Any]:
    """What a FastStream user reads from ``RabbitMessage.raw_message``."""
    info = dict(raw.info())
    for key in ("delivery_tag", "consumer_tag", "message_id", "correlation_id"):
        if key in info:
            info[key] = type(info[key]).__name__
    return {
        "is_aio_pika_incoming_message": isinstance(raw, aio_pika.IncomingMessage),
        "is_abstract_incoming_message": isinstance(
            raw, aio_pika.abc.AbstractIncomingMessage
        ),
        "body": raw.body,
        "body_size": raw.body_size,
        "routing_key": raw.routing_key,
        "exchange": raw.exchange,
        "headers": raw.headers,
        "content_type": raw.content_type,
        "content_encoding": raw.content_encoding,
        "delivery_mode": raw.delivery_mode,
        "priority": raw.priority,
        "expiration": raw.expiration,
        "type": raw.type,
        "user_id": raw.user_id,
        "app_id": raw.app_id,
        "timestamp": raw.timestamp,
        "redelivered": raw.redelivered,
        "reply_to": raw.reply_to,
        "delivery_tag": type(raw.delivery_tag).__name__,
        "consumer_tag": type(raw.consumer_tag).__name__,
        "message_count": raw.message_count,
        "info": info,
    }


def describe(msg: RabbitMessage, cid: str, mid: str) -> dict[str, Any]:
    """``RabbitMessage`` attributes; ``cid``/``mid``: the ids published."""
    return {
        "body": msg.body,
        "headers": msg.headers,
        "content_type": msg.content_type,
        "reply_to": msg.reply_to,
        "correlation_id_kept": msg.correlation_id == cid,
        "message_id_kept": msg.message_id == mid,
        "raw": describe_raw(msg.raw_message),
    }


HEADERS = {
    "x-str": "text",
    "x-int": 7,
    "x-negative": -3,
    "x-bool": True,
    "x-float": 1.5,
    "x-list": [1, "two", False],
    "x-nested": {"k": "v", "n": 2},
    "x-none": None,
}
TIMESTAMP = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)


# ----------------------------------------------------------------- pubsub


@check("pubsub")
async def bodies(run: Run) -> Any:
    """str, dict, bytes, int, list and None bodies through publish paths."""
    queue = run.queue("in")
    log = Log()
    broker = run.broker()

    @broker.subscriber(queue)
    async def handle(body: Any, msg: RabbitMessage) -> None:
        log.add([type(body).__name__, run.norm(body), msg.content_type])

    publisher = broker.publisher(queue)
    async with broker:
        await broker.start()
        await broker.publish("text", queue)
        await broker.publish({"a": 1, "b": [1, 2]}, queue)
        await broker.publish(b"\x00\x01raw", queue)
        await publisher.publish(42)
        await publisher.publish(["x", None])
        await publisher.publish(None)
        await broker.publish("routed", routing_key=queue)
        return ordered(await log.wait(7))


@check("pubsub")
async def message_attributes(run: Run) -> Any:
    """Every property and header type FastStream passes to aio-pika, read back."""
    queue = run.queue("in")
    seen: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    broker = run.broker()

    @broker.subscriber(queue, no_reply=True)
    async def handle(msg: RabbitMessage) -> None:
        seen.set_result(describe(msg, "cid-1", "mid-1"))

    async with broker:
        await broker.start()
        await broker.publish(
            "attributes",
            queue,
            headers=HEADERS,
            correlation_id="cid-1",
            message_id="mid-1",
            reply_to="nowhere",
            persist=True,
            priority=3,
            expiration=60,
            message_type="kind",
            user_id="guest",
            timestamp=TIMESTAMP,
            content_encoding="identity",
            content_type="text/x-custom",
        )
        return run.norm(await asyncio.wait_for(seen, WAIT))


@check("pubsub")
async def default_properties(run: Run) -> Any:
    """What a bare ``broker.publish(body, queue)`` sends."""
    queue = run.queue("in")
    seen: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    broker = run.broker()

    @broker.subscriber(queue)
    async def handle(msg: RabbitMessage) -> None:
        raw = describe_raw(msg.raw_message)
        raw["timestamp"] = isinstance(raw["timestamp"], datetime.datetime)
        raw["info"]["timestamp"] = raw["timestamp"]
        seen.set_result(
            {
                "raw": raw,
                "message_id_is_correlation_id": msg.message_id == msg.correlation_id,
            }
        )

    async with broker:
        await broker.start()
        await broker.publish("plain", queue)
        return run.norm(await asyncio.wait_for(seen, WAIT))


@check("pubsub")
async def publisher_decorator(run: Run) -> Any:
    """``@broker.publisher`` publishes the handler's return value."""
    source, target = run.queue("source"), run.queue("target")
    log = Log()
    broker = run.broker()

    @broker.subscriber(source)
    @broker.publisher(target, headers={"static": "header"}, priority=2)
    async def process(body: str) -> str:
        return f"processed:{body}"

    @broker.subscriber(target)
    async def collect(body: str, msg: RabbitMessage) -> None:
        log.add(
            {
                "body": body,
                "static": msg.headers.get("static"),
                "priority": msg.raw_message.priority,
                "correlation_id": msg.correlation_id,
            }
        )

    async with broker:
        await broker.start()
        await broker.publish("one", source, correlation_id="c-one")
        await broker.publish("two", source, correlation_id="c-two")
        return ordered(await log.wait(2))


@check("pubsub")
async def publish_confirmation(run: Run) -> Any:
    """``broker.publish`` returns the broker's publisher confirmation."""
    queue = run.queue("in")
    broker = run.broker()
    async with broker:
        await broker.start()
        await broker.declare_queue(RabbitQueue(queue))
        confirmation = await broker.publish("confirmed", queue)
        return {
            "class": type(confirmation).__name__,
            "delivery_tag": confirmation.delivery_tag,
            "multiple": confirmation.multiple,
        }


@check("pubsub")
async def unroutable(run: Run) -> Any:
    """Mandatory publishing (FastStream's default) to a queue nobody declared."""
    broker = run.broker()
    results = {}
    async with broker:
        await broker.start()
        for mandatory in (True, False):
            try:
                await broker.publish("lost", run.name("nobody"), mandatory=mandatory)
                results[f"mandatory={mandatory}"] = "published"
            except Exception as exc:
                results[f"mandatory={mandatory}"] = outcome(exc)
    return results


@check("pubsub")
async def returned_message(run: Run) -> Any:
    """What ``broker.publish`` returns for a mandatory message the broker returned.

    aio-pika hands over aiormq's ``DeliveredMessage`` of the Basic.Return
    (``delivery`` is the Basic.Return frame, ``header.properties`` the
    message's properties).
    """
    broker = run.broker()
    async with broker:
        await broker.start()
        returned: Any = await broker.publish(
            "lost", run.name("nobody"), message_id="returned-mid"
        )
    delivery = getattr(returned, "delivery", None)
    header = getattr(returned, "header", None)
    # the class differs (aiormq's DeliveredMessage, amqpio's ReturnedMessage):
    # what users read from it must not
    return {
        "body": getattr(returned, "body", None),
        "routing_key": getattr(returned, "routing_key", None),
        "exchange": getattr(returned, "exchange", None),
        "delivery": None
        if delivery is None
        else {
            "class": type(delivery).__name__,
            "reply_code": getattr(delivery, "reply_code", None),
            "reply_text": getattr(delivery, "reply_text", None),
        },
        "header_message_id": None
        if header is None
        else getattr(header.properties, "message_id", None),
    }


@check("pubsub")
async def channel_options(run: Run) -> Any:
    """``RabbitBroker(default_channel=Channel(...))``: returns raising, no confirms."""
    queue = run.queue("in")
    results: dict[str, Any] = {}
    broker = run.broker(default_channel=Channel(on_return_raises=True))
    async with broker:
        await broker.start()
        await broker.declare_queue(RabbitQueue(queue))
        try:
            await broker.publish("lost", run.name("nobody"))
            results["on_return_raises"] = "published"
        except Exception as exc:
            results["on_return_raises"] = {
                **outcome(exc),
                "is_delivery_error": isinstance(exc, aio_pika.exceptions.DeliveryError),
            }
        confirmation = await broker.publish("kept", queue)
        results["routed"] = type(confirmation).__name__
    broker = run.broker(default_channel=Channel(publisher_confirms=False))
    async with broker:
        await broker.start()
        results["without_confirms"] = await broker.publish("kept", queue)
    return results


# ----------------------------------------------------------------- aiormq names


def probe(get: Callable[[], Any]) -> Any:
    """``get()``, or the class of what it raised (a missing name, say)."""
    try:
        return get()
    except Exception as exc:
        return outcome(exc)


@check("aiormq")
async def confirmation_frame(run: Run) -> Any:
    """``isinstance(confirmation, aiormq.spec.Basic.Ack)`` after ``import aiormq``:
    aio-pika annotates ``publish`` with ``aiormq.abc.ConfirmationFrameType``."""
    queue = run.queue("in")
    broker = run.broker()
    async with broker:
        await broker.start()
        await broker.declare_queue(RabbitQueue(queue))
        confirmation = await broker.publish("confirmed", queue)
    return {
        "class": type(confirmation).__name__,
        "is_aiormq_spec_basic_ack": probe(
            lambda: isinstance(confirmation, aiormq.spec.Basic.Ack)
        ),
    }


@check("aiormq")
async def exceptions(run: Run) -> Any:
    """A broker error caught as ``aio_pika.exceptions.X`` and ``aiormq.exceptions.X``.

    The passive declare runs on a connection of its own: a channel error on
    FastStream's robust channel followed at once by ``stop()`` races the
    channel's restore with the close (amqpio then sometimes logs a warning).
    """
    connection = await aio_pika.connect(run.url)
    async with connection:
        channel = await connection.channel()
        try:
            await channel.declare_queue(run.name("missing"), passive=True)
            return "declared"
        except Exception as exc:
            error = exc
    return {
        **outcome(error),
        "aio_pika_channel_not_found": isinstance(
            error, aio_pika.exceptions.ChannelNotFoundEntity
        ),
        "aiormq_channel_not_found": probe(
            lambda: isinstance(error, aiormq.exceptions.ChannelNotFoundEntity)
        ),
        "aiormq_amqp_error": probe(
            lambda: isinstance(error, aiormq.exceptions.AMQPError)
        ),
    }


# ----------------------------------------------------------------- ack


def dead_lettered(run: Run, local: str) -> tuple[RabbitQueue, str]:
    """A queue dead-lettering to its own ``<local>.dlq`` (both inspected)."""
    dlq = run.queue(f"{local}.dlq")
    queue = RabbitQueue(
        run.queue(local),
        arguments={
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": dlq,
        },
    )
    return queue, dlq


async def publish_all(broker: RabbitBroker, queue: str, bodies: list[str]) -> None:
    for body in bodies:
        await broker.publish(body, queue)


@check("ack")
async def reject_on_error_default(run: Run) -> Any:
    """Default policy: ack on success, reject (dead-letter) on an exception."""
    queue, dlq = dead_lettered(run, "work")
    log = Log()
    broker = run.broker()

    @broker.subscriber(queue)
    async def handle(body: str, msg: RabbitMessage) -> None:
        log.add([body, msg.raw_message.redelivered])
        if body.startswith("fail"):
            raise ValueError(body)

    async with broker:
        await broker.start()
        await broker.declare_queue(RabbitQueue(dlq))
        await publish_all(broker, queue.name, ["ok-1", "fail-1", "ok-2", "fail-2"])
        return sorted(await log.wait(4))


@check("ack")
async def nack_on_error(run: Run) -> Any:
    """NACK_ON_ERROR requeues: the handler sees the message again, redelivered."""
    queue, dlq = dead_lettered(run, "work")
    log = Log()
    broker = run.broker()

    @broker.subscriber(queue, ack_policy=AckPolicy.NACK_ON_ERROR)
    async def handle(body: str, msg: RabbitMessage) -> None:
        redelivered = msg.raw_message.redelivered
        log.add([body, redelivered])
        if not redelivered:
            raise ValueError(body)

    async with broker:
        await broker.start()
        await broker.declare_queue(RabbitQueue(dlq))
        await publish_all(broker, queue.name, ["flaky"])
        return await log.wait(2)


@check("ack")
async def ack_policies(run: Run) -> Any:
    """ACK acks even after an exception; ACK_FIRST consumes without acks."""
    ack_queue, ack_dlq = dead_lettered(run, "ack")
    first_queue, first_dlq = dead_lettered(run, "first")
    log = Log()
    broker = run.broker()

    @broker.subscriber(ack_queue, ack_policy=AckPolicy.ACK)
    async def ack(body: str) -> None:
        log.add(["ack", body])
        raise ValueError(body)

    @broker.subscriber(first_queue, ack_policy=AckPolicy.ACK_FIRST)
    async def ack_first(body: str) -> None:
        log.add(["first", body])
        raise ValueError(body)

    async with broker:
        await broker.start()
        for dlq in (ack_dlq, first_dlq):
            await broker.declare_queue(RabbitQueue(dlq))
        await publish_all(broker, ack_queue.name, ["a-1", "a-2"])
        await publish_all(broker, first_queue.name, ["f-1", "f-2"])
        return sorted(await log.wait(4))


@check("ack")
async def manual(run: Run) -> Any:
    """MANUAL: only what the handler calls reaches the broker."""
    queue, dlq = dead_lettered(run, "work")
    log = Log()
    broker = run.broker()

    @broker.subscriber(queue, ack_policy=AckPolicy.MANUAL)
    async def handle(body: str, msg: RabbitMessage) -> None:
        redelivered = msg.raw_message.redelivered
        log.add([body, redelivered])
        if body == "ack":
            await msg.ack()
        elif body == "nack-requeue":
            await (msg.ack() if redelivered else msg.nack())
        elif body == "reject-requeue":
            await (msg.ack() if redelivered else msg.reject(requeue=True))
        elif body == "nack-drop":
            await msg.nack(requeue=False)
        elif body == "reject":
            await msg.reject()
        elif body == "raise":
            raise ValueError(body)
        # "leave": nothing; the broker requeues it when the channel closes

    bodies = ["ack", "nack-requeue", "reject-requeue", "nack-drop"]
    bodies += ["reject", "raise", "leave"]
    async with broker:
        await broker.start()
        await broker.declare_queue(RabbitQueue(dlq))
        await publish_all(broker, queue.name, bodies)
        return sorted(await log.wait(9))


@check("ack")
async def handler_exceptions(run: Run) -> Any:
    """AckMessage / NackMessage / RejectMessage raised from a handler."""
    queue, dlq = dead_lettered(run, "work")
    log = Log()
    broker = run.broker()

    @broker.subscriber(queue)
    async def handle(body: str, msg: RabbitMessage) -> None:
        redelivered = msg.raw_message.redelivered
        log.add([body, redelivered])
        if body == "ack" or redelivered:
            raise AckMessage()
        if body == "nack":
            raise NackMessage()
        raise RejectMessage()

    async with broker:
        await broker.start()
        await broker.declare_queue(RabbitQueue(dlq))
        await publish_all(broker, queue.name, ["ack", "nack", "reject"])
        return sorted(await log.wait(4))


@check("ack")
async def prefetch(run: Run) -> Any:
    """``Channel(prefetch_count=1)`` holds back deliveries; by default none are."""
    limited, unlimited = run.queue("limited"), run.queue("unlimited")
    in_flight = {limited: 0, unlimited: 0}
    most = {limited: 0, unlimited: 0}
    held = asyncio.Event()
    release = asyncio.Event()
    all_in_flight = asyncio.Event()
    done = Log()
    broker = run.broker()

    @broker.subscriber(limited, channel=Channel(prefetch_count=1))
    async def one_at_a_time(body: str) -> None:
        in_flight[limited] += 1
        most[limited] = max(most[limited], in_flight[limited])
        held.set()
        await release.wait()
        in_flight[limited] -= 1
        done.add(body)

    @broker.subscriber(unlimited)
    async def all_at_once(body: str) -> None:
        in_flight[unlimited] += 1
        most[unlimited] = max(most[unlimited], in_flight[unlimited])
        if in_flight[unlimited] == 3:
            all_in_flight.set()
        await asyncio.wait_for(all_in_flight.wait(), WAIT)
        in_flight[unlimited] -= 1
        done.add(body)

    async with broker:
        await broker.start()
        await publish_all(broker, limited, ["l-1", "l-2", "l-3"])
        await publish_all(broker, unlimited, ["u-1", "u-2", "u-3"])
        await asyncio.wait_for(held.wait(), WAIT)
        # the broker's view while the first message is held: two still ready
        connection = await aio_pika.connect(run.url)
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(limited, passive=True)
            ready = queue.declaration_result.message_count
        release.set()
        await done.wait(6)
    return {"ready_while_first_held": ready, "most_in_flight": most}


# ----------------------------------------------------------------- rpc


def reply_to_address(routing_key: str | None) -> bool:
    return (routing_key or "").startswith("amq.rabbitmq.reply-to")


@check("rpc")
async def request(run: Run) -> Any:
    """``broker.request`` through RabbitMQ's direct reply-to, three body kinds."""
    queue = run.queue("rpc")
    broker = run.broker()

    @broker.subscriber(queue)
    async def echo(body: Any) -> Any:
        if isinstance(body, str):
            return f"echo:{body}"
        if isinstance(body, dict):
            return {"got": body}
        return bytes(reversed(body))

    results = []
    async with broker:
        await broker.start()
        for n, body in enumerate(["hi", {"n": 1}, b"\x01\x02\x03"]):
            cid = f"rpc-{n}"
            response = await broker.request(
                body, queue, correlation_id=cid, timeout=WAIT
            )
            results.append(
                {
                    "class": type(response).__name__,
                    "body": response.body,
                    "decoded": await response.decode(),
                    "content_type": response.content_type,
                    "correlation_id_kept": response.correlation_id == cid,
                    "raw_is_incoming_message": isinstance(
                        response.raw_message, aio_pika.IncomingMessage
                    ),
                    "raw_routing_key_is_reply_to": reply_to_address(
                        response.raw_message.routing_key
                    ),
                }
            )
    return run.norm(results)


@check("rpc")
async def concurrent_requests(run: Run) -> Any:
    """Requests in parallel (FastStream serializes them on one reply consumer)."""
    queue = run.queue("rpc")
    broker = run.broker()

    @broker.subscriber(queue)
    async def double(body: int) -> int:
        return body * 2

    async with broker:
        await broker.start()
        responses = await asyncio.gather(
            *(broker.request(n, queue, timeout=WAIT) for n in range(5))
        )
        return [await r.decode() for r in responses]


@check("rpc")
async def rabbit_response(run: Run) -> Any:
    """A handler returning ``RabbitResponse`` sets the reply's properties."""
    queue = run.queue("rpc")
    broker = run.broker()

    @broker.subscriber(queue)
    async def answer(body: str) -> RabbitResponse:
        return RabbitResponse(
            f"answer:{body}",
            headers={"h": "v"},
            message_id="reply-mid",
            priority=4,
            message_type="reply",
        )

    async with broker:
        await broker.start()
        response = await broker.request("q", queue, correlation_id="c-1", timeout=WAIT)
        raw = response.raw_message
        return run.norm(
            {
                "body": await response.decode(),
                "headers": response.headers,
                "correlation_id": response.correlation_id,
                "message_id": response.message_id,
                "priority": raw.priority,
                "type": raw.type,
            }
        )


@check("rpc")
async def reply_to_queue(run: Run) -> Any:
    """A message with ``reply_to``: the return value lands in that queue."""
    work, replies = run.queue("work"), run.queue("replies")
    log = Log()
    broker = run.broker()

    @broker.subscriber(work)
    async def handle(body: dict[str, int]) -> dict[str, int]:
        return {"sum": sum(body.values())}

    @broker.subscriber(replies)
    async def collect(body: dict[str, int], msg: RabbitMessage) -> None:
        log.add(
            {
                "body": body,
                "correlation_id": msg.correlation_id,
                "routing_key": msg.raw_message.routing_key,
                "exchange": msg.raw_message.exchange,
            }
        )

    async with broker:
        await broker.start()
        await broker.publish(
            {"a": 1, "b": 2}, work, reply_to=replies, correlation_id="r-1"
        )
        await broker.publish({"c": 5}, work, reply_to=replies, correlation_id="r-2")
        return ordered(run.norm(await log.wait(2)))


@check("rpc")
async def request_timeout(run: Run) -> Any:
    """A handler that does not reply (``no_reply``): the request times out."""
    queue = run.queue("rpc")
    log = Log()
    broker = run.broker()

    @broker.subscriber(queue, no_reply=True)
    async def silent(body: str) -> str:
        log.add(body)
        return "never sent"

    async with broker:
        await broker.start()
        try:
            await broker.request("wait", queue, timeout=0.5)
            result: dict[str, Any] = {"raised": None}
        except TimeoutError as exc:
            result = outcome(exc)
        # the reply consumer was cancelled: a second request works the same
        try:
            await broker.request("again", queue, timeout=0.5)
        except TimeoutError as exc:
            result["again"] = outcome(exc)
        result["handled"] = await log.wait(2)
    return result


# ----------------------------------------------------------------- exchanges


async def finish(broker: RabbitBroker, log: Log, queues: list[str]) -> None:
    """Publish END to each queue, wait until every handler has seen it."""
    for queue in queues:
        await broker.publish(END, queue)
    await log.wait(len(queues))


def by_queue(run: Run, entries: list[Any]) -> dict[str, list[Any]]:
    """What each queue's handler got, sorted (handlers run concurrently)."""
    result: dict[str, list[Any]] = {}
    for queue, item in entries:
        if item != END:
            result.setdefault(run.norm(queue), []).append(item)
    return {queue: ordered(items) for queue, items in result.items()}


class EndLog(Log):
    """A :class:`Log` that counts only END markers towards :meth:`wait`."""

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[Any] = []

    def record(self, queue: str, item: Any) -> None:
        self.entries.append([queue, item])
        if item == END:
            self.add(queue)


def collector(
    broker: RabbitBroker,
    log: EndLog,
    queue: RabbitQueue | str,
    exchange: RabbitExchange | None,
) -> None:
    name = queue.name if isinstance(queue, RabbitQueue) else queue

    @broker.subscriber(queue, exchange)
    async def collect(body: str, msg: RabbitMessage) -> None:
        raw = msg.raw_message
        log.record(name, body if body == END else [body, raw.routing_key])


@check("exchanges")
async def fanout(run: Run) -> Any:
    exchange = RabbitExchange(run.exchange("fan"), type=ExchangeType.FANOUT)
    queues = [run.queue(f"q{n}") for n in range(3)]
    log = EndLog()
    broker = run.broker()
    for queue in queues:
        collector(broker, log, queue, exchange)

    async with broker:
        await broker.start()
        await broker.publish("m1", exchange=exchange)
        await broker.publish("m2", exchange=exchange, routing_key="ignored")
        await finish(broker, log, queues)
    return by_queue(run, log.entries)


@check("exchanges")
async def topic(run: Run) -> Any:
    exchange = RabbitExchange(run.exchange("topic"), type=ExchangeType.TOPIC)
    patterns = {"star": "logs.*", "hash": "logs.#", "error": "*.error"}
    patterns |= {"all": "#", "exact": "audit.login"}
    queues = {
        key: RabbitQueue(run.queue(key), routing_key=pattern)
        for key, pattern in patterns.items()
    }
    log = EndLog()
    broker = run.broker()
    for queue in queues.values():
        collector(broker, log, queue, exchange)

    keys = ["logs.info", "logs.db.error", "app.error", "audit.login", "other"]
    async with broker:
        await broker.start()
        for key in keys:
            await broker.publish(key, exchange=exchange, routing_key=key)
        await finish(broker, log, [q.name for q in queues.values()])
    return by_queue(run, log.entries)


@check("exchanges")
async def topic_path(run: Run) -> Any:
    """``RabbitQueue(routing_key="orders.{kind}")`` with a ``Path`` argument."""
    exchange = RabbitExchange(run.exchange("topic"), type=ExchangeType.TOPIC)
    queue = RabbitQueue(run.queue("orders"), routing_key="orders.{kind}")
    log = Log()
    broker = run.broker()

    @broker.subscriber(queue, exchange)
    async def handle(body: str, kind: str = Path()) -> None:
        log.add([body, kind])

    async with broker:
        await broker.start()
        await broker.publish("a", exchange=exchange, routing_key="orders.created")
        await broker.publish("b", exchange=exchange, routing_key="orders.paid")
        return ordered(await log.wait(2))


@check("exchanges")
async def direct(run: Run) -> Any:
    exchange = RabbitExchange(run.exchange("direct"), type=ExchangeType.DIRECT)
    queues = {
        color: RabbitQueue(run.queue(color), routing_key=color)
        for color in ("red", "blue")
    }
    log = EndLog()
    broker = run.broker()
    for queue in queues.values():
        collector(broker, log, queue, exchange)

    async with broker:
        await broker.start()
        for color in ("red", "blue", "red"):
            await broker.publish(color, exchange=exchange, routing_key=color)
        try:
            await broker.publish("green", exchange=exchange, routing_key="green")
            green: Any = "published"
        except Exception as exc:
            green = outcome(exc)
        await finish(broker, log, [q.name for q in queues.values()])
    return {"routed": by_queue(run, log.entries), "unroutable": green}


@check("exchanges")
async def headers(run: Run) -> Any:
    exchange = RabbitExchange(run.exchange("headers"), type=ExchangeType.HEADERS)
    match = {"a": "1", "b": "2"}
    queues = [
        RabbitQueue(run.queue(mode), bind_arguments={"x-match": mode, **match})
        for mode in ("all", "any")
    ]
    log = EndLog()
    broker = run.broker()
    for queue in queues:
        collector(broker, log, queue, exchange)

    sent = {"both": {"a": "1", "b": "2"}, "a-only": {"a": "1"}, "none": {"b": "3"}}
    async with broker:
        await broker.start()
        for body, headers in sent.items():
            await broker.publish(
                body, exchange=exchange, headers=headers, mandatory=False
            )
        await finish(broker, log, [q.name for q in queues])
    return by_queue(run, log.entries)


@check("exchanges")
async def exchange_to_exchange(run: Run) -> Any:
    """``RabbitExchange(bind_to=...)``: an exchange bound to another one."""
    source = RabbitExchange(run.exchange("source"), type=ExchangeType.FANOUT)
    target = RabbitExchange(
        run.exchange("target"),
        type=ExchangeType.TOPIC,
        bind_to=source,
        routing_key="#",
    )
    queue = RabbitQueue(run.queue("q"), routing_key="kept.*")
    log = EndLog()
    broker = run.broker()
    collector(broker, log, queue, target)

    async with broker:
        await broker.start()
        await broker.publish("via-source", exchange=source, routing_key="kept.1")
        await broker.publish(
            "dropped", exchange=source, routing_key="other", mandatory=False
        )
        await broker.publish("via-target", exchange=target, routing_key="kept.2")
        await finish(broker, log, [queue.name])
    return by_queue(run, log.entries)


# ----------------------------------------------------------------- middleware, DI


@check("middleware_di")
async def middleware(run: Run) -> Any:
    """A broker middleware sees receive, consume, publish and the outcome."""
    source, target = run.queue("source"), run.queue("target")
    events: dict[str, list[Any]] = {}
    log = Log()

    class Recorder(BaseMiddleware):
        """Records each hook under the message it belongs to (queue, body)."""

        def record(self, raw: Any, *event: Any) -> None:
            key = f"{run.norm(raw.routing_key)}:{raw.body.decode()}"
            events.setdefault(key, []).append(list(event))

        async def on_receive(self) -> None:
            self.record(self.msg, "receive")

        async def consume_scope(self, call_next: Any, msg: Any) -> Any:
            self.record(msg.raw_message, "consume")
            msg.body = msg.body.upper()  # the handler gets the changed body
            return await call_next(msg)

        async def publish_scope(self, call_next: Any, cmd: Any) -> Any:
            key = f"{run.norm(cmd.destination)}:{cmd.body}"
            events.setdefault(key, []).append(["publish"])
            cmd.headers["x-middleware"] = "publish_scope"
            return await call_next(cmd)

        async def after_processed(
            self, exc_type: Any = None, exc_val: Any = None, exc_tb: Any = None
        ) -> bool | None:
            name = None if exc_type is None else exc_type.__name__
            self.record(self.msg, "after", name)
            return False

    broker = run.broker(middlewares=[Recorder])

    @broker.subscriber(source)
    @broker.publisher(target)
    async def process(body: str) -> str:
        if body == "BOOM":
            raise ValueError(body)
        return f"processed:{body}"

    @broker.subscriber(target)
    async def collect(body: str, msg: RabbitMessage) -> None:
        log.add([body, msg.headers.get("x-middleware")])

    async with broker:
        await broker.start()
        await broker.publish("one", source)
        await log.wait(1)
        await broker.publish("boom", source)
        await broker.publish("two", source)
        await log.wait(2)
    # leaving ``async with`` waited for the handlers (graceful stop): every
    # after_processed has run
    return {"handled": sorted(log.items), "events": events}


@check("middleware_di")
async def dependencies(run: Run) -> Any:
    """``Depends`` (sync, async, generator, nested), ``Header``, ``Context``."""
    queue = run.queue("in")
    calls: list[str] = []
    seen: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def sync_dep() -> int:
        calls.append("sync")
        return 1

    async def async_dep(msg: RabbitMessage) -> str:
        calls.append("async")
        return msg.raw_message.routing_key or ""

    async def nested_dep(value: Annotated[int, Depends(sync_dep)]) -> int:
        calls.append("nested")
        return value + 1

    async def resource() -> AsyncIterator[str]:
        calls.append("enter")
        yield "resource"
        calls.append("exit")

    def broker_dep() -> None:
        calls.append("broker")

    class Order(BaseModel):
        id: int
        item: str

    broker = run.broker(dependencies=[Depends(broker_dep)])

    @broker.subscriber(queue)
    async def handle(
        order: Order,
        sync_value: Annotated[int, Depends(sync_dep)],
        routing_key: Annotated[str, Depends(async_dep)],
        incremented: Annotated[int, Depends(nested_dep)],
        res: Annotated[str, Depends(resource)],
        tenant: Annotated[str, Header("x-tenant")],
        cid: Annotated[str, Context("message.correlation_id")],
    ) -> None:
        seen.set_result(
            {
                "order": order.model_dump(),
                "sync": sync_value,
                "routing_key": routing_key,
                "incremented": incremented,
                "resource": res,
                "tenant": tenant,
                "cid": cid,
            }
        )

    async with broker:
        await broker.start()
        await broker.publish(
            {"id": "7", "item": "book"},
            queue,
            headers={"x-tenant": "acme"},
            correlation_id="di-cid",
        )
        result = await asyncio.wait_for(seen, WAIT)
    result["calls"] = calls
    return run.norm(result)


@check("middleware_di")
async def body_unpacking(run: Run) -> Any:
    """A JSON object's keys as handler arguments, validated by FastStream."""
    queue, dlq = dead_lettered(run, "in")
    log = Log()
    broker = run.broker()

    @broker.subscriber(queue)
    async def handle(user: str, user_id: int) -> None:
        log.add([user, user_id])

    async with broker:
        await broker.start()
        await broker.declare_queue(RabbitQueue(dlq))
        await broker.publish({"user": "ann", "user_id": "3"}, queue.name)
        await broker.publish({"user": "bob"}, queue.name)  # invalid: rejected
        await broker.publish({"user": "cy", "user_id": 5}, queue.name)
        return ordered(await log.wait(2))


# ----------------------------------------------------------------- TestRabbitBroker


def in_memory_broker() -> RabbitBroker:
    return RabbitBroker("amqp://guest:guest@127.0.0.1:1/", logger=LOGGER)


@check("testbroker")
async def handler_mock(run: Run) -> Any:
    """``handler.mock`` calls for str, dict and bytes bodies."""
    broker = in_memory_broker()
    queue = run.name("in")

    @broker.subscriber(queue)
    async def handle(body: Any) -> None:
        pass

    async with TestRabbitBroker(broker) as br:
        await br.publish("text", queue)
        await br.publish({"a": 1}, queue)
        await br.publish(b"raw", queue)
        handle.mock.assert_called_with(b"raw")
        calls = [list(call.args) for call in handle.mock.call_args_list]
    return run.norm(calls)


@check("testbroker")
async def request_and_publisher(run: Run) -> Any:
    """``br.request`` results and the publisher's mock."""
    broker = in_memory_broker()
    source, target = run.name("source"), run.name("target")

    @broker.subscriber(source)
    @broker.publisher(target)
    async def process(body: str) -> str:
        return f"processed:{body}"

    @broker.subscriber(target)
    async def collect(body: str) -> None:
        pass

    publisher = broker.publisher(target)
    async with TestRabbitBroker(broker) as br:
        response = await br.request("x", source, correlation_id="t-cid")
        await br.publish("y", source)
        collect.mock.assert_called_with("processed:y")
        return run.norm(
            {
                "class": type(response).__name__,
                "decoded": await response.decode(),
                "correlation_id": response.correlation_id,
                "raw_is_incoming_message": isinstance(
                    response.raw_message, aio_pika.IncomingMessage
                ),
                "collected": [c.args[0] for c in collect.mock.call_args_list],
                "published": [c.args[0] for c in publisher.mock.call_args_list],
            }
        )


@check("testbroker")
async def message_attributes_in_memory(run: Run) -> Any:
    """The ``RabbitMessage`` a handler gets from TestRabbitBroker's fake delivery."""
    broker = in_memory_broker()
    queue = run.name("in")
    seen: list[Any] = []

    @broker.subscriber(queue, no_reply=True)
    async def handle(msg: RabbitMessage) -> None:
        seen.append(describe(msg, "cid-1", "mid-1"))

    async with TestRabbitBroker(broker) as br:
        await br.publish(
            "attributes",
            queue,
            headers={"x-str": "text", "x-int": 7},
            correlation_id="cid-1",
            message_id="mid-1",
            reply_to="nowhere",
            persist=True,
            priority=3,
            expiration=60,
            message_type="kind",
            user_id="guest",
            timestamp=TIMESTAMP,
            content_encoding="identity",
        )
    return run.norm(seen)


@check("testbroker")
async def manual_ack_in_memory(run: Run) -> Any:
    """Manual ack/nack/reject on TestRabbitBroker's patched message."""
    broker = in_memory_broker()
    queue = run.name("in")
    seen: list[Any] = []

    @broker.subscriber(queue, ack_policy=AckPolicy.MANUAL)
    async def handle(body: str, msg: RabbitMessage) -> None:
        raw = msg.raw_message
        before = [raw.locked, raw.processed]
        await getattr(msg, body)()
        seen.append([body, before, msg.committed is not None])

    async with TestRabbitBroker(broker) as br:
        for action in ("ack", "nack", "reject"):
            await br.publish(action, queue)
    return run.norm(seen)


@check("testbroker")
async def topic_routing_in_memory(run: Run) -> Any:
    broker = in_memory_broker()
    exchange = RabbitExchange(run.name("topic"), type=ExchangeType.TOPIC)
    queue = RabbitQueue(run.name("logs"), routing_key="logs.*")

    @broker.subscriber(queue, exchange)
    async def handle(body: str) -> None:
        pass

    async with TestRabbitBroker(broker) as br:
        await br.publish("in", exchange=exchange, routing_key="logs.info")
        try:
            await br.publish("out", exchange=exchange, routing_key="other.info")
            missed: Any = "published"
        except Exception as exc:
            missed = outcome(exc)
        return {
            "calls": [c.args[0] for c in handle.mock.call_args_list],
            "unmatched": missed,
        }


@check("testbroker")
async def with_real_broker(run: Run) -> Any:
    """``TestRabbitBroker(broker, with_real=True)``: mocks over a real broker."""
    broker = run.broker()
    queue = run.queue("in")

    @broker.subscriber(queue)
    async def handle(body: str) -> str:
        return f"real:{body}"

    async with TestRabbitBroker(broker, with_real=True) as br:
        await br.publish("hi", queue)
        await handle.wait_call(WAIT)
        response = await br.request("ping", queue, timeout=WAIT)
        return {
            "calls": [c.args[0] for c in handle.mock.call_args_list],
            "response": await response.decode(),
            "raw_is_incoming_message": isinstance(
                response.raw_message, aio_pika.IncomingMessage
            ),
        }


# ----------------------------------------------------------------- lifecycle


class TcpProxy:
    """A loopback TCP proxy to the broker whose connections can be cut."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.writers -= {writer, up_writer}

    def cut(self) -> None:
        """Close every proxied connection (both sides)."""
        for writer in list(self.writers):
            writer.close()

    async def close(self) -> None:
        """Stop accepting, then cut."""
        if self.server is not None:
            self.server.close()
            self.server = None
        self.cut()


def url_through(url: str, port: int) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    netloc[-1] = host
    return urlunsplit(parts._replace(netloc="@".join(netloc)))


def broker_address(url: str) -> tuple[str, int]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.hostname or "localhost", parts.port or 5672


@check("lifecycle")
async def start_stop_restart(run: Run) -> Any:
    """connect/start/ping/stop, the connection object, a second start."""
    queue = run.queue("in")
    log = Log()
    broker = run.broker()

    @broker.subscriber(queue)
    async def handle(body: str) -> None:
        log.add(body)

    result: dict[str, Any] = {"ping_before": await broker.ping(0.1)}
    connection = await broker.connect()
    result["connection"] = {
        "is_robust_connection": isinstance(connection, aio_pika.RobustConnection),
        "is_abstract_robust": isinstance(
            connection, aio_pika.abc.AbstractRobustConnection
        ),
        "is_closed": connection.is_closed,
    }
    await broker.start()
    result["ping_started"] = await broker.ping(WAIT)
    await broker.publish("first", queue)
    await log.wait(1)
    await broker.stop()
    result["after_stop"] = {
        "connection_is_closed": connection.is_closed,
        "ping": await broker.ping(0.1),
    }
    await broker.start()
    await broker.publish("second", queue)
    await log.wait(2)
    await broker.stop()
    await broker.stop()  # twice: harmless
    result["received"] = log.items
    return result


@check("lifecycle")
async def on_close_callback(run: Run) -> Any:
    """``RabbitBroker(on_close=[...])`` on a clean ``stop()``, twice."""
    closed: list[Any] = []

    def on_close(connection: Any, exc: BaseException | None = None) -> None:
        # aio-pika passes None or CancelledError() (a race) on a clean close
        clean = exc is None or isinstance(exc, asyncio.CancelledError)
        closed.append("clean" if clean else repr(exc))

    broker = run.broker(on_close=[on_close])
    for _ in range(2):
        await broker.start()
        await broker.stop()
    return closed


@check("lifecycle")
async def reconnect(run: Run) -> Any:
    """A dropped connection: FastStream's robust connection resumes consuming."""
    proxy = TcpProxy(*broker_address(run.url))
    await proxy.start()
    queue = run.queue("in")
    log = Log()
    reconnected = Log()
    broker = run.broker(
        url_through(run.url, proxy.port),
        reconnect_interval=0.1,
        on_reconnected=[lambda connection: reconnected.add("reconnected")],
    )

    @broker.subscriber(queue, ack_policy=AckPolicy.ACK_FIRST)
    async def handle(body: str) -> None:
        log.add(body)

    try:
        async with broker:
            await broker.start()
            await broker.publish("before", queue)
            await log.wait(1)
            proxy.cut()
            await reconnected.wait(1)
            await broker.publish("after", queue)
            await log.wait(2)
            result: dict[str, Any] = {
                "received": log.items,
                "ping": await broker.ping(WAIT),
            }
            # lose the broker for good, then stop while reconnecting
            await proxy.close()
            try:
                await asyncio.wait_for(broker.stop(), WAIT)
                result["stop_while_reconnecting"] = "ok"
            except Exception as exc:
                result["stop_while_reconnecting"] = outcome(exc)
    finally:
        await proxy.close()
    return result


@check("lifecycle")
async def get_one_and_iterator(run: Run) -> Any:
    """A subscriber without handler: ``get_one()`` and ``async for``."""
    queue = run.queue("in")
    broker = run.broker()
    subscriber = broker.subscriber(queue)
    result: dict[str, Any] = {}
    async with broker:
        await broker.start()
        for n in range(5):
            await broker.publish({"n": n}, queue, correlation_id=f"g-{n}")
        first = await subscriber.get_one(timeout=WAIT)
        assert first is not None
        result["get_one"] = {
            "class": type(first).__name__,
            "decoded": await first.decode(),
            "correlation_id": first.correlation_id,
        }
        acked = await subscriber.get_one(timeout=WAIT, no_ack=False)
        assert acked is not None
        await acked.ack()
        result["get_one_ack"] = await acked.decode()
        iterated = []
        async with contextlib.aclosing(aiter(subscriber)) as messages:
            async for msg in messages:
                iterated.append(await msg.decode())
                await msg.ack()
                if len(iterated) == 3:
                    break
        result["iterated"] = iterated
        result["empty"] = await subscriber.get_one(timeout=0.3)
    return result
