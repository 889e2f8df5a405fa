"""Publishing: confirms, returns, nacks, message properties, large bodies."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

import amqpio
from amqpio import exceptions as exc
from amqpio.spec import BasicProperties
from amqpio.testing.rabbitmq import Broker
from helpers.reference import needs_aio_pika_10

from .api_support import WAIT, message_count, unique, within

pytestmark = pytest.mark.integration


def is_ack(result: object) -> bool:
    return type(result).__name__ == "Ack"


EVERY_HEADER_TYPE: dict[str, Any] = {
    "str": "text é",
    "bytes": b"\x00\xffraw",
    "int": 1,
    "int64": 2**40,
    "negative": -5,
    "float": 1.5,
    "true": True,
    "false": False,
    "none": None,
    "decimal": Decimal("1.23"),
    "datetime": datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
    "list": [1, "a", b"b", [2.5, None], {"k": "v"}],
    "table": {"k": "v", "n": 1, "deeper": {"x": [True]}},
}


def every_property(**overrides: Any) -> amqpio.Message:
    properties: dict[str, Any] = {
        "headers": dict(EVERY_HEADER_TYPE),
        "content_type": "application/json",
        "content_encoding": "utf-8",
        "delivery_mode": amqpio.DeliveryMode.PERSISTENT,
        "priority": 3,
        "correlation_id": "corr-1",
        "reply_to": "reply.queue",
        "expiration": 60,
        "message_id": "msg-1",
        "timestamp": datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc),
        "type": "event.created",
        "user_id": "guest",  # RabbitMQ checks it against the login
        "app_id": "amqpio-tests",
    }
    properties.update(overrides)
    return amqpio.Message(b'{"ok": true}', **properties)


# -- confirms ------------------------------------------------------------------


async def test_publish_returns_the_ack_with_confirms(
    channel: amqpio.Channel, queue: amqpio.Queue
) -> None:
    first = await channel.default_exchange.publish(amqpio.Message(b"1"), queue.name)
    second = await channel.default_exchange.publish(
        amqpio.Message(b"2"), queue.name, timeout=5
    )
    assert is_ack(first) and is_ack(second)
    assert first  # truthy, as aio-pika's pamqp frame
    assert (first.delivery_tag, second.delivery_tag) == (1, 2)
    assert await message_count(channel, queue.name) == 2


async def test_publish_returns_none_without_confirms(
    connection: amqpio.Connection, queue: amqpio.Queue
) -> None:
    channel = await connection.channel(publisher_confirms=False)
    result = await channel.default_exchange.publish(amqpio.Message(b"x"), queue.name)
    assert result is None
    # it did go (a Basic.Get is ordered after the publish; a passive declare's
    # message_count is not: RabbitMQ answers that query out of turn)
    same_queue = await channel.get_queue(queue.name, ensure=False)
    assert (await same_queue.get(no_ack=True)).body == b"x"


async def test_concurrent_publishers_on_one_channel(
    channel: amqpio.Channel, queue: amqpio.Queue
) -> None:
    async def publisher(index: int) -> list[Any]:
        return [
            await channel.default_exchange.publish(
                amqpio.Message(b"%d-%d" % (index, n)), queue.name
            )
            for n in range(50)
        ]

    results = await within(asyncio.gather(*(publisher(i) for i in range(10))))
    acks = [ack for batch in results for ack in batch]
    assert all(is_ack(ack) for ack in acks)
    assert sorted(ack.delivery_tag for ack in acks) == list(range(1, 501))
    # and pipelined without awaiting each one
    pipelined = await within(
        asyncio.gather(
            *(
                channel.default_exchange.publish(amqpio.Message(b"p"), queue.name)
                for _ in range(500)
            )
        )
    )
    assert [ack.delivery_tag for ack in pipelined] == list(range(501, 1001))
    assert await message_count(channel, queue.name) == 1000


async def test_nack_raises_delivery_error(channel: amqpio.Channel) -> None:
    """A full queue with ``x-overflow=reject-publish`` makes the broker nack."""
    queue = await channel.declare_queue(
        exclusive=True,
        arguments={"x-max-length": 1, "x-overflow": "reject-publish"},
    )
    assert is_ack(
        await channel.default_exchange.publish(amqpio.Message(b"fits"), queue.name)
    )
    with pytest.raises(exc.DeliveryError) as info:
        await channel.default_exchange.publish(amqpio.Message(b"nacked"), queue.name)
    assert not isinstance(info.value, exc.PublishError)
    assert type(info.value.frame).__name__ == "Nack"
    assert info.value.message is None
    assert not channel.is_closed  # a nack does not close the channel
    assert [m.body for m in [await queue.get(no_ack=True)]] == [b"fits"]


async def test_close_sends_everything_published_before(rabbitmq: Broker) -> None:
    """Unconfirmed publishes (30 MB, so writes pause) all arrive before the close."""
    name = unique("q-flush")
    connection = await amqpio.connect(rabbitmq.url)
    channel = await connection.channel(publisher_confirms=False)
    await channel.declare_queue(name)
    body = b"x" * 100_000
    for _ in range(300):
        await channel.default_exchange.publish(amqpio.Message(body), name)
    await connection.close()
    async with await amqpio.connect(rabbitmq.url) as other:
        other_channel = await other.channel()
        try:
            queue = await other_channel.get_queue(name)
            purged = await queue.purge()  # counted in turn, unlike message_count
            assert purged.message_count == 300
        finally:
            await other_channel.queue_delete(name)


# -- returns -------------------------------------------------------------------


async def test_unroutable_mandatory_message_goes_to_return_callbacks(
    channel: amqpio.Channel,
) -> None:
    returned: asyncio.Queue[tuple[Any, Any]] = asyncio.Queue()
    channel.return_callbacks.add(lambda ch, message: returned.put_nowait((ch, message)))
    routing_key = unique("nowhere")
    result = await channel.default_exchange.publish(
        amqpio.Message(b"lost", headers={"h": 1}, message_id="mine"), routing_key
    )
    ch, message = await within(returned.get())
    assert ch is channel
    assert isinstance(message, amqpio.message.ReturnedMessage)
    assert result is message  # publish() returns it, as aio-pika's confirmation
    assert message.body == b"lost"
    assert (message.routing_key, message.exchange) == (routing_key, "")
    assert (message.headers, message.message_id) == ({"h": 1}, "mine")
    assert message.processed and message.delivery_tag is None
    with pytest.raises(TypeError):
        await message.ack()  # nothing to acknowledge

    # not mandatory: silently dropped by the broker, confirmed
    result = await channel.default_exchange.publish(
        amqpio.Message(b"dropped"), routing_key, mandatory=False
    )
    assert is_ack(result)
    assert returned.empty()


async def test_on_return_raises(connection: amqpio.Connection) -> None:
    channel = await connection.channel(on_return_raises=True)
    returned: list[Any] = []
    channel.return_callbacks.add(lambda ch, message: returned.append(message))
    with pytest.raises(exc.PublishError) as info:
        await channel.default_exchange.publish(amqpio.Message(b"x"), unique("nowhere"))
    error = info.value
    assert isinstance(error, exc.DeliveryError)
    assert error.message.body == b"x"
    assert type(error.frame).__name__ == "Return"
    assert (error.frame.reply_code, error.frame.reply_text) == (312, "NO_ROUTE")
    assert "NO_ROUTE" in str(error)
    assert returned == []  # raised instead, as aio-pika
    assert not channel.is_closed
    queue = await channel.declare_queue(exclusive=True)
    assert is_ack(
        await channel.default_exchange.publish(amqpio.Message(b"ok"), queue.name)
    )


async def test_returns_without_confirms_still_reach_the_callbacks(
    connection: amqpio.Connection,
) -> None:
    """An amqpio extension: aio-pika logs these and drops them."""
    channel = await connection.channel(publisher_confirms=False)
    returned: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    channel.return_callbacks.add(lambda ch, message: returned.set_result(message))
    result = await channel.default_exchange.publish(
        amqpio.Message(b"back"), unique("nowhere")
    )
    assert result is None
    assert (await within(returned)).body == b"back"


# -- broker-closed channels ------------------------------------------------------


async def test_publish_with_a_forged_user_id_closes_the_channel(
    channel: amqpio.Channel, queue: amqpio.Queue
) -> None:
    later = [
        asyncio.ensure_future(
            channel.default_exchange.publish(amqpio.Message(b"after"), queue.name)
        )
        for _ in range(3)
    ]
    forged = channel.default_exchange.publish(
        amqpio.Message(b"x", user_id="mallory"), queue.name
    )
    with pytest.raises(exc.ChannelPreconditionFailed) as info:
        await within(forged)
    assert "mallory" in info.value.reply_text
    assert channel.is_closed
    # those before it were confirmed or failed with it; nothing hangs
    for result in await within(asyncio.gather(*later, return_exceptions=True)):
        assert is_ack(result) or isinstance(result, exc.ChannelPreconditionFailed)
    with pytest.raises(exc.ChannelInvalidStateError):
        await channel.default_exchange.publish(amqpio.Message(b"x"), queue.name)


async def test_publish_to_a_missing_exchange(channel: amqpio.Channel) -> None:
    exchange = await channel.get_exchange(unique("missing"), ensure=False)
    pending = [
        asyncio.ensure_future(exchange.publish(amqpio.Message(b"x"), "rk"))
        for _ in range(3)
    ]
    results = await within(asyncio.gather(*pending, return_exceptions=True))
    for result in results:
        assert isinstance(result, exc.ChannelNotFoundEntity), repr(result)
        assert result.reply_code == 404
    assert channel.is_closed


# -- properties ------------------------------------------------------------------


async def test_every_property_round_trips(
    channel: amqpio.Channel, queue: amqpio.Queue
) -> None:
    await channel.default_exchange.publish(every_property(), queue.name)
    message = await queue.get()
    assert message.body == b'{"ok": true}'
    assert message.headers == EVERY_HEADER_TYPE
    assert {k: type(v) for k, v in message.headers.items()} == {
        k: type(v) for k, v in EVERY_HEADER_TYPE.items()
    }
    assert message.content_type == "application/json"
    assert message.content_encoding == "utf-8"
    assert message.delivery_mode == amqpio.DeliveryMode.PERSISTENT
    assert message.priority == 3
    assert message.correlation_id == "corr-1"
    assert message.reply_to == "reply.queue"
    assert message.expiration == 60.0
    assert message.message_id == "msg-1"
    assert message.timestamp == datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    assert message.type == "event.created"
    assert message.user_id == "guest"
    assert message.app_id == "amqpio-tests"
    assert (message.exchange, message.routing_key) == ("", queue.name)
    assert message.redelivered is False
    assert message.delivery_tag == 1
    assert message.message_count == 0
    info = message.info()
    assert info["body_size"] == len(b'{"ok": true}')
    assert info["headers"] == EVERY_HEADER_TYPE
    assert info["type"] == "event.created"
    await message.ack()


@needs_aio_pika_10  # 9.6 (pamqp 3) cannot publish this property set
async def test_info_matches_aio_pika(rabbitmq: Broker, channel: amqpio.Channel) -> None:
    """The same message received by aio-pika and by amqpio: the same info()."""
    aio_pika = pytest.importorskip("aio_pika")
    # pamqp cannot encode bytes header values
    headers = {k: v for k, v in EVERY_HEADER_TYPE.items() if k != "bytes"}
    headers["list"] = [1, "a", [2.5, None], {"k": "v"}]
    properties: dict[str, Any] = {
        "headers": headers,
        "content_type": "text/plain",
        "content_encoding": "utf-8",
        "delivery_mode": 2,
        "priority": 4,
        "correlation_id": "c",
        "reply_to": "r",
        "expiration": timedelta(seconds=30),
        "message_id": "m",
        "timestamp": datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc),
        "type": "t",
        "user_id": "guest",
        "app_id": "a",
    }
    assert set(amqpio.Message(b"", **properties).info()) == set(
        aio_pika.Message(b"", **properties).info()
    )
    queue = await channel.declare_queue(unique("q-info"))
    connection = await aio_pika.connect(rabbitmq.url)
    try:
        their_channel = await connection.channel()
        theirs_queue = await their_channel.declare_queue(queue.name, passive=True)
        for _ in range(2):
            await their_channel.default_exchange.publish(
                aio_pika.Message(b"same", **properties), queue.name
            )
        theirs = await theirs_queue.get(no_ack=True)
        ours = await queue.get(no_ack=True)
        theirs_info, ours_info = theirs.info(), ours.info()
        assert theirs_info.pop("delivery_tag") == 1
        assert ours_info.pop("delivery_tag") == 1
        assert ours_info == theirs_info
    finally:
        await connection.close()
        await queue.delete(if_unused=False, if_empty=False)


async def test_message_id_is_filled_in(
    channel: amqpio.Channel, queue: amqpio.Queue
) -> None:
    await channel.default_exchange.publish(amqpio.Message(b"a"), queue.name)
    await channel.default_exchange.publish(
        amqpio.Message(b"b", message_id="given"), queue.name
    )
    first = await queue.get(no_ack=True)
    second = await queue.get(no_ack=True)
    assert first.message_id is not None and len(first.message_id) == 32
    int(first.message_id, 16)  # uuid4 hex, as aio-pika
    assert second.message_id == "given"


class _StampedMessage(amqpio.Message):
    """Overrides ``properties``: the publish must send what it returns."""

    @property
    def properties(self) -> BasicProperties:
        properties = super().properties
        properties.app_id = "stamped"
        return properties


async def test_a_message_subclass_overriding_properties_is_honoured(
    channel: amqpio.Channel, queue: amqpio.Queue
) -> None:
    await channel.default_exchange.publish(_StampedMessage(b"s"), queue.name)
    await channel.default_exchange.publish(
        amqpio.Message(b"p", app_id="plain"), queue.name
    )
    stamped = await queue.get(no_ack=True)
    plain = await queue.get(no_ack=True)
    assert (stamped.body, stamped.app_id) == (b"s", "stamped")
    assert stamped.message_id is not None and len(stamped.message_id) == 32
    assert (plain.body, plain.app_id) == (b"p", "plain")


@pytest.mark.parametrize(
    ("expiration", "low", "high"),
    [
        (10, 10.0, 10.0),
        (1.5, 1.5, 1.5),
        (timedelta(seconds=3), 3.0, 3.0),
        (timedelta(milliseconds=250), 0.25, 0.25),
        ("deadline", 25.0, 30.0),
    ],
    ids=["int", "float", "timedelta", "timedelta-ms", "datetime"],
)
async def test_expiration_forms(
    channel: amqpio.Channel,
    queue: amqpio.Queue,
    expiration: Any,
    low: float,
    high: float,
) -> None:
    if expiration == "deadline":
        expiration = datetime.now(timezone.utc) + timedelta(seconds=30)
    await channel.default_exchange.publish(
        amqpio.Message(b"x", expiration=expiration), queue.name
    )
    message = await queue.get(no_ack=True)
    assert message.expiration is not None
    assert low <= message.expiration <= high


async def test_expired_messages_are_dead_lettered(channel: amqpio.Channel) -> None:
    dead = await channel.declare_queue(exclusive=True)
    ttl = await channel.declare_queue(
        exclusive=True,
        arguments={
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": dead.name,
        },
    )
    await channel.default_exchange.publish(
        amqpio.Message(b"short-lived", expiration=0.05), ttl.name
    )
    await channel.default_exchange.publish(
        amqpio.Message(b"long-lived", expiration=timedelta(minutes=5)), ttl.name
    )
    async with dead.iterator(timeout=WAIT) as iterator:
        message = await within(anext(iterator))
        await message.ack()
    assert message.body == b"short-lived"
    assert message.expiration is None  # removed by the broker on dead-lettering
    (death,) = message.headers["x-death"]
    assert death["reason"] == "expired"
    assert death["queue"] == ttl.name
    assert death["count"] == 1
    assert death["original-expiration"] == "50"
    assert await message_count(channel, ttl.name) == 1


async def test_priority_queue(channel: amqpio.Channel) -> None:
    queue = await channel.declare_queue(
        exclusive=True, arguments={"x-max-priority": 10}
    )
    for priority in (1, 9, 0, 5):
        await channel.default_exchange.publish(
            amqpio.Message(b"p%d" % priority, priority=priority), queue.name
        )
    received = [await queue.get(no_ack=True) for _ in range(4)]
    assert [m.body for m in received] == [b"p9", b"p5", b"p1", b"p0"]
    assert [m.priority for m in received] == [9, 5, 1, 0]


async def test_republishing_an_incoming_message(
    channel: amqpio.Channel, queue: amqpio.Queue
) -> None:
    """A received message published again keeps its body and properties."""
    await channel.default_exchange.publish(every_property(), queue.name)
    incoming = await queue.get()
    other = await channel.declare_queue(exclusive=True)
    await channel.default_exchange.publish(incoming, other.name)
    await incoming.ack()
    copy = await other.get(no_ack=True)
    assert copy.body == incoming.body
    assert copy.headers == incoming.headers
    assert copy.message_id == incoming.message_id
    assert copy.timestamp == incoming.timestamp
    assert copy.expiration == incoming.expiration


async def test_unencodable_values_fail_before_anything_is_sent(
    channel: amqpio.Channel, queue: amqpio.Queue
) -> None:
    """ValueError on the client; the channel and its confirm tags stay in sync."""
    publish = channel.default_exchange.publish
    with pytest.raises(ValueError):
        await publish(amqpio.Message(b"x", correlation_id="c" * 256), queue.name)
    with pytest.raises(ValueError):
        await publish(amqpio.Message(b"x", headers={"k": object()}), queue.name)
    with pytest.raises(ValueError):
        await publish(amqpio.Message(b"x"), "k" * 256)
    with pytest.raises(ValueError):
        await channel.declare_queue("q" * 256)
    with pytest.raises(ValueError):
        await channel.declare_queue(exclusive=True, arguments={"x": object()})
    assert not channel.is_closed
    ack = await publish(amqpio.Message(b"ok"), queue.name)
    assert ack.delivery_tag == 1
    assert (await queue.get(no_ack=True)).body == b"ok"


# -- large bodies ----------------------------------------------------------------


async def test_bodies_around_frame_boundaries(rabbitmq: Broker) -> None:
    """frame_max=4096: a body frame carries up to 4088 bytes."""
    async with await amqpio.connect(rabbitmq.url + "?frame_max=4096") as connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True)
        sizes = [0, 1, 4087, 4088, 4089, 8176, 8177]
        bodies = [os.urandom(size) for size in sizes]
        for body in bodies:
            await channel.default_exchange.publish(amqpio.Message(body), queue.name)
        received = [(await queue.get(no_ack=True)).body for _ in sizes]
        assert [len(b) for b in received] == sizes
        assert received == bodies


async def test_large_bodies_on_several_channels_at_once(
    connection: amqpio.Connection, queue: amqpio.Queue
) -> None:
    """Frames of concurrent publishes on different channels never mix up."""
    channels = [await connection.channel() for _ in range(4)]
    bodies = {bytes([n]) * (2 << 20): n for n in range(4)} | {
        b"small-%d" % n: n for n in range(4)
    }
    await within(
        asyncio.gather(
            *(
                channels[n].default_exchange.publish(amqpio.Message(body), queue.name)
                for body, n in bodies.items()
            )
        )
    )
    received = {(await queue.get(no_ack=True)).body for _ in bodies}
    assert received == set(bodies)


# -------------------------------------------------------------


@pytest.mark.parametrize(
    "size", [1 << 20, 10 << 20, 50 << 20], ids=["1M", "10M", "50M"]
)
async def test_large_bodies_round_trip(
    channel: amqpio.Channel, queue: amqpio.Queue, size: int
) -> None:
    body = os.urandom(size)
    assert is_ack(
        await within(
            channel.default_exchange.publish(amqpio.Message(body), queue.name), 60
        )
    )
    consumed: asyncio.Future[amqpio.IncomingMessage] = (
        asyncio.get_running_loop().create_future()
    )
    await queue.consume(consumed.set_result)
    message = await within(consumed, 60)
    assert message.body_size == size
    assert message.body == body
    await message.ack()
