"""Exchanges and queues: declare, get, bind/unbind (routing verified), purge, delete."""

from __future__ import annotations

import asyncio

import pytest

import amqpio
from amqpio import exceptions as exc
from amqpio.testing.rabbitmq import Broker

from .api_support import management, message_count, quote, unique, within

pytestmark = pytest.mark.integration


async def routed(
    channel: amqpio.Channel, exchange: amqpio.Exchange, routing_key: str
) -> bool:
    """Publish a mandatory message: True when the broker routed it somewhere."""
    result = await exchange.publish(
        amqpio.Message(b"probe"), routing_key, mandatory=True
    )
    return type(result).__name__ == "Ack"


async def drain(queue: amqpio.Queue) -> list[bytes]:
    bodies = []
    while (message := await queue.get(no_ack=True, fail=False)) is not None:
        bodies.append(message.body)
    return bodies


# -- exchanges -----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["direct", "fanout", "topic", "headers"])
async def test_declare_every_exchange_type(
    rabbitmq: Broker, channel: amqpio.Channel, kind: str
) -> None:
    name = unique(f"ex-{kind}")
    exchange = await channel.declare_exchange(
        name, amqpio.ExchangeType(kind), auto_delete=True
    )
    try:
        assert exchange.name == name
        if rabbitmq.management_url is not None:
            view = await asyncio.to_thread(
                management, rabbitmq, "GET", f"exchanges/%2F/{quote(name)}"
            )
            assert view["type"] == kind
            assert (view["durable"], view["auto_delete"]) == (False, True)
    finally:
        await exchange.delete()


async def test_exchange_flags_and_arguments(
    rabbitmq: Broker, channel: amqpio.Channel
) -> None:
    name = unique("ex-flags")
    alternate = await channel.declare_exchange(
        unique("ex-alt"), amqpio.ExchangeType.FANOUT, auto_delete=True
    )
    exchange = await channel.declare_exchange(
        name,
        amqpio.ExchangeType.TOPIC,
        durable=True,
        arguments={"alternate-exchange": alternate.name},
        timeout=5,
    )
    sink = await channel.declare_queue(exclusive=True)
    await sink.bind(alternate)
    try:
        if rabbitmq.management_url is not None:
            view = await asyncio.to_thread(
                management, rabbitmq, "GET", f"exchanges/%2F/{quote(name)}"
            )
            assert (view["durable"], view["auto_delete"], view["internal"]) == (
                True,
                False,
                False,
            )
            assert view["arguments"] == {"alternate-exchange": alternate.name}
        # the argument works: unroutable messages go to the alternate exchange
        assert await routed(channel, exchange, "no.binding")
        assert await drain(sink) == [b"probe"]
        # redeclaring with other properties is refused, and closes the channel
        with pytest.raises(exc.ChannelPreconditionFailed) as info:
            await channel.declare_exchange(name, amqpio.ExchangeType.TOPIC)
        assert info.value.reply_code == 406
        assert channel.is_closed
    finally:
        async with channel.connection.channel() as cleanup:
            await cleanup.exchange_delete(name)
            await cleanup.exchange_delete(alternate.name)


async def test_passive_exchange_declare_and_get_exchange(
    channel: amqpio.Channel,
) -> None:
    name = unique("ex-passive")
    declared = await channel.declare_exchange(name, auto_delete=True)
    try:
        found = await channel.get_exchange(name)
        assert found.name == name
        assert (await channel.declare_exchange(name, passive=True)).name == name
        unchecked = await channel.get_exchange(unique("nowhere"), ensure=False)
        assert unchecked.name.startswith("amqpio-test-nowhere")
        with pytest.raises(exc.ChannelNotFoundEntity) as info:
            await channel.get_exchange(unique("missing"))
        assert info.value.reply_code == 404
        assert "NOT_FOUND" in info.value.reply_text
        assert channel.is_closed
    finally:
        async with channel.connection.channel() as cleanup:
            await cleanup.exchange_delete(declared.name)


async def test_internal_exchange(channel: amqpio.Channel) -> None:
    """Only exchange-to-exchange bindings can route into an internal exchange."""
    front = await channel.declare_exchange(
        unique("ex-front"), amqpio.ExchangeType.FANOUT, auto_delete=True
    )
    internal = await channel.declare_exchange(
        unique("ex-internal"), amqpio.ExchangeType.FANOUT, internal=True
    )
    queue = await channel.declare_queue(exclusive=True)
    try:
        await queue.bind(internal)
        await internal.bind(front)
        assert await routed(channel, front, "")
        assert await drain(queue) == [b"probe"]
        with pytest.raises(ValueError):  # aio-pika refuses it on the client side
            await internal.publish(amqpio.Message(b"x"), "")
        assert not channel.is_closed
    finally:
        await internal.delete()
        await front.delete()


async def test_exchange_to_exchange_bind_and_unbind(channel: amqpio.Channel) -> None:
    # not auto_delete: unbinding would delete them
    source = await channel.declare_exchange(unique("ex-src"), "topic")
    destination = await channel.declare_exchange(unique("ex-dst"), "fanout")
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(destination, "")
    try:
        assert not await routed(channel, source, "stock.nyse")
        bound = await destination.bind(source, "stock.*", arguments={"x": 1})
        assert type(bound).__name__ == "BindOk"
        assert await routed(channel, source, "stock.nyse")
        assert not await routed(channel, source, "bond.nyse")  # topic filter
        assert await drain(queue) == [b"probe"]
        # bind by name works too
        await destination.bind(source.name, "bond.#")
        assert await routed(channel, source, "bond.nyse")
        assert await drain(queue) == [b"probe"]
        await destination.unbind(source, "stock.*", arguments={"x": 1})
        await destination.unbind(source.name, "bond.#")
        assert not await routed(channel, source, "stock.nyse")
        assert not await routed(channel, source, "bond.nyse")
        assert await drain(queue) == []
    finally:
        await queue.unbind(destination, "")
        await destination.delete()
        await source.delete()


async def test_exchange_delete_if_unused(channel: amqpio.Channel) -> None:
    exchange = await channel.declare_exchange(unique("ex-used"))
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, "rk")
    with pytest.raises(exc.ChannelPreconditionFailed):
        await exchange.delete(if_unused=True)
    assert channel.is_closed
    async with channel.connection.channel() as other:
        await other.exchange_delete(exchange.name)
        with pytest.raises(exc.ChannelNotFoundEntity):
            await other.get_exchange(exchange.name)


# -- queues --------------------------------------------------------------------


async def test_server_named_queue(channel: amqpio.Channel) -> None:
    queue = await channel.declare_queue()
    try:
        assert queue.name.startswith("amq.gen-")
        result = queue.declaration_result
        assert result.queue == queue.name
        assert (result.message_count, result.consumer_count) == (0, 0)
        again = await channel.declare_queue("", exclusive=True)
        assert again.name.startswith("amq.gen-") and again.name != queue.name
    finally:
        await queue.delete()


async def test_queue_flags_and_arguments(
    rabbitmq: Broker, channel: amqpio.Channel
) -> None:
    name = unique("q-flags")
    queue = await channel.declare_queue(
        name,
        durable=True,
        auto_delete=False,
        arguments={"x-max-length": 2, "x-queue-mode": "default"},
        timeout=5,
    )
    try:
        assert queue.name == name and queue.durable
        if rabbitmq.management_url is not None:
            view = await asyncio.to_thread(
                management, rabbitmq, "GET", f"queues/%2F/{quote(name)}"
            )
            assert (view["durable"], view["auto_delete"], view["exclusive"]) == (
                True,
                False,
                False,
            )
            assert view["arguments"] == {"x-max-length": 2, "x-queue-mode": "default"}
        for body in (b"1", b"2", b"3"):
            await channel.default_exchange.publish(amqpio.Message(body), name)
        assert await drain(queue) == [b"2", b"3"]  # x-max-length dropped the head
        # get_queue checks with a passive declare
        found = await channel.get_queue(name)
        assert found.name == name
        assert found.declaration_result.message_count == 0
        with pytest.raises(exc.ChannelPreconditionFailed):
            await channel.declare_queue(name, durable=False)
    finally:
        async with channel.connection.channel() as cleanup:
            await cleanup.queue_delete(name)


async def test_passive_declare_of_a_missing_queue_closes_the_channel(
    channel: amqpio.Channel,
) -> None:
    name = unique("q-missing")
    closed: list[BaseException | None] = []
    channel.close_callbacks.add(lambda _ch, reason: closed.append(reason))
    with pytest.raises(exc.ChannelNotFoundEntity) as info:
        await channel.declare_queue(name, passive=True)
    error = info.value
    assert isinstance(error, exc.ChannelClosed)
    assert error.reply_code == 404
    assert name in error.reply_text
    assert channel.is_closed
    assert closed == [error]
    with pytest.raises(exc.ChannelInvalidStateError):
        await channel.declare_queue(exclusive=True)
    with pytest.raises(exc.ChannelInvalidStateError):
        await channel.default_exchange.publish(amqpio.Message(b"x"), name)
    # the connection is fine, and the channel number is free again
    assert not channel.connection.is_closed
    async with channel.connection.channel() as other:
        assert other.number == channel.number
        await other.declare_queue(exclusive=True)
    # get_queue(ensure=False) makes no request
    async with channel.connection.channel() as other:
        queue = await other.get_queue(name, ensure=False)
        assert queue.name == name
        assert not other.is_closed


async def test_aio_pika_agrees_on_passive_declare(rabbitmq: Broker) -> None:
    aio_pika = pytest.importorskip("aio_pika")
    connection = await aio_pika.connect(rabbitmq.url)
    try:
        channel = await connection.channel()
        with pytest.raises(aio_pika.exceptions.ChannelNotFoundEntity):
            await channel.declare_queue(unique("q-missing"), passive=True)
        assert channel.is_closed
        with pytest.raises(aio_pika.exceptions.ChannelInvalidStateError):
            await channel.declare_queue(exclusive=True)
    finally:
        await connection.close()


async def test_exclusive_queue_is_locked_for_other_connections(
    rabbitmq: Broker, channel: amqpio.Channel
) -> None:
    queue = await channel.declare_queue(unique("q-excl"), exclusive=True)
    async with await amqpio.connect(rabbitmq.url) as other:
        other_channel = await other.channel()
        with pytest.raises(exc.ChannelLockedResource) as info:
            await other_channel.declare_queue(queue.name, passive=True)
        assert info.value.reply_code == 405
        assert other_channel.is_closed
    # gone with its connection
    await channel.connection.close()
    async with await amqpio.connect(rabbitmq.url) as third:
        with pytest.raises(exc.ChannelNotFoundEntity):
            await (await third.channel()).get_queue(queue.name)


async def test_auto_delete_queue_goes_with_its_last_consumer(
    channel: amqpio.Channel,
) -> None:
    queue = await channel.declare_queue(unique("q-auto"), auto_delete=True)
    tag = await queue.consume(lambda message: None, no_ack=True)
    await queue.cancel(tag)
    with pytest.raises(exc.ChannelNotFoundEntity):
        await channel.get_queue(queue.name)


async def test_queue_bind_and_unbind(channel: amqpio.Channel) -> None:
    exchange = await channel.declare_exchange(unique("ex-direct"))
    queue = await channel.declare_queue(exclusive=True)
    other = await channel.declare_queue(exclusive=True)
    try:
        bound = await queue.bind(exchange, "red")
        assert type(bound).__name__ == "BindOk"
        await other.bind(exchange.name)  # by name; the key defaults to the queue name
        assert await routed(channel, exchange, "red")
        assert await routed(channel, exchange, other.name)
        assert not await routed(channel, exchange, "blue")
        assert await drain(queue) == [b"probe"]
        assert await drain(other) == [b"probe"]
        unbound = await queue.unbind(exchange, "red")
        assert type(unbound).__name__ == "UnbindOk"
        assert not await routed(channel, exchange, "red")
        await other.unbind(exchange)
        assert not await routed(channel, exchange, other.name)
        assert await drain(queue) == []
    finally:
        await exchange.delete()


async def test_non_ascii_names_and_routing_keys(channel: amqpio.Channel) -> None:
    exchange = await channel.declare_exchange(unique("échange-交换"), "topic")
    queue = await channel.declare_queue(unique("file-очередь"), exclusive=True)
    try:
        await queue.bind(exchange, "ключ.*")
        assert await routed(channel, exchange, "ключ.ü")
        message = await queue.get(no_ack=True)
        assert (message.exchange, message.routing_key) == (exchange.name, "ключ.ü")
        assert queue.name.startswith("amqpio-test-file-очередь")
    finally:
        await exchange.delete()


async def test_headers_exchange_binding_arguments(channel: amqpio.Channel) -> None:
    exchange = await channel.declare_exchange(
        unique("ex-headers"), amqpio.ExchangeType.HEADERS, auto_delete=True
    )
    queue = await channel.declare_queue(exclusive=True)
    try:
        await queue.bind(exchange, arguments={"x-match": "all", "kind": "a", "n": 1})
        for headers in ({"kind": "a", "n": 1}, {"kind": "a", "n": 2}, {"kind": "b"}):
            await exchange.publish(
                amqpio.Message(repr(headers).encode(), headers=headers),
                "",
                mandatory=False,
            )
        assert await drain(queue) == [repr({"kind": "a", "n": 1}).encode()]
    finally:
        await exchange.delete()


async def test_purge(channel: amqpio.Channel) -> None:
    queue = await channel.declare_queue(exclusive=True)
    for index in range(5):
        await channel.default_exchange.publish(
            amqpio.Message(b"%d" % index), queue.name
        )
    unacked = await queue.get()  # held unacked: purge leaves it alone
    result = await queue.purge()
    assert type(result).__name__ == "PurgeOk"
    assert result.message_count == 4
    assert await message_count(channel, queue.name) == 0
    await unacked.reject(requeue=True)
    assert await drain(queue) == [b"0"]


async def test_queue_delete_if_unused_and_if_empty(channel: amqpio.Channel) -> None:
    connection = channel.connection
    queue = await channel.declare_queue(unique("q-del"))
    try:
        await channel.default_exchange.publish(amqpio.Message(b"x"), queue.name)
        # the defaults are aio-pika's: if_unused=True, if_empty=True
        with pytest.raises(exc.ChannelPreconditionFailed) as info:
            await queue.delete()
        assert "not empty" in info.value.reply_text
        assert channel.is_closed

        channel = await connection.channel()
        queue = await channel.get_queue(queue.name)
        with pytest.raises(exc.ChannelPreconditionFailed):
            await queue.delete(if_unused=False, if_empty=True)

        channel = await connection.channel()
        queue = await channel.get_queue(queue.name)
        await queue.purge()
        tag = await queue.consume(lambda message: None)
        with pytest.raises(exc.ChannelPreconditionFailed) as info:
            await channel.queue_delete(queue.name, if_unused=True)
        assert "in use" in info.value.reply_text
        assert tag  # the consumer went with the channel

        channel = await connection.channel()
        queue = await channel.get_queue(queue.name)
        await channel.default_exchange.publish(amqpio.Message(b"y"), queue.name)
        deleted = await queue.delete(if_unused=False, if_empty=False)
        assert type(deleted).__name__ == "DeleteOk"
        assert deleted.message_count == 1
        with pytest.raises(exc.ChannelNotFoundEntity):
            await channel.get_queue(queue.name)
    finally:
        async with connection.channel() as cleanup:
            await cleanup.queue_delete(queue.name)


async def test_timeout_of_a_request_leaves_the_channel_usable(
    channel: amqpio.Channel,
) -> None:
    """``timeout=0`` cannot be met: TimeoutError, and the late reply is dropped."""
    name = unique("q-timeout")
    try:
        with pytest.raises(asyncio.TimeoutError):
            await channel.declare_queue(name, timeout=0)
        queue = await within(channel.declare_queue(exclusive=True, timeout=5))
        await channel.default_exchange.publish(amqpio.Message(b"after"), queue.name)
        assert await drain(queue) == [b"after"]
        assert not channel.is_closed
    finally:
        await channel.queue_delete(name)  # the broker did declare it
