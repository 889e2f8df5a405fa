"""amqpio.patterns.RPC / JsonRPC against a real broker (and beside aio-pika).

Every test runs twice: with a reply queue (aio-pika's design) and with
RabbitMQ's direct reply-to (amqpio's opt-in mode); tests of one mode only say so.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import pickle
import uuid
from typing import Any

import pytest

import amqpio
from amqpio.abc import AbstractIncomingMessage, DeliveryMode
from amqpio.exceptions import MessageProcessError
from amqpio.patterns import RPC, JsonRPC
from amqpio.patterns.rpc import (
    DIRECT_REPLY_TO_QUEUE,
    JsonRPCError,
    RPCException,
    RPCMessageType,
)
from amqpio.testing.rabbitmq import Broker

pytestmark = pytest.mark.integration

TIMEOUT = 10


def name(prefix: str = "method") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=[False, True], ids=["reply-queue", "direct-reply-to"])
def direct(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
async def server(connection: amqpio.Connection) -> RPC:
    """The callee: an RPC on its own channel."""
    return await RPC.create(await connection.channel())


@pytest.fixture
async def client(connection: amqpio.Connection, direct: bool) -> RPC:
    """The caller, in the mode of the ``direct`` parameter."""
    return await RPC.create(await connection.channel(), direct_reply_to=direct)


async def multiply(*, x: int, y: int) -> int:
    return x * y


class Boom(Exception):
    pass


async def boom(*, text: str) -> None:
    raise Boom(text, 42)


# -- calls --------------------------------------------------------------------------


async def test_call_and_proxy(server: RPC, client: RPC) -> None:
    method = name()
    await server.register(method, multiply, auto_delete=True)
    assert await client.call(method, kwargs=dict(x=6, y=7)) == 42
    assert await client.call(method, {"x": 2, "y": 3}) == 6
    assert await getattr(client.proxy, method)(x=3, y=3) == 9
    assert client.futures == {}


async def test_dotted_proxy_names(server: RPC, client: RPC) -> None:
    await server.register("images.resize", multiply, auto_delete=True)
    assert await client.proxy.images.resize(x=2, y=5) == 10


async def test_remote_exception_is_raised_at_the_caller(
    server: RPC, client: RPC
) -> None:
    method = name()
    await server.register(method, boom, auto_delete=True)
    with pytest.raises(Boom) as info:
        await client.call(method, {"text": "remote"})
    assert info.value.args == ("remote", 42)
    # a missing or unexpected kwarg fails remotely, as a TypeError
    with pytest.raises(TypeError):
        await client.call(method, {"nope": 1})
    with pytest.raises(TypeError):
        await client.call(method)


async def test_host_exceptions_logs_on_the_callee(
    connection: amqpio.Connection, client: RPC, caplog: pytest.LogCaptureFixture
) -> None:
    server = await RPC.create(await connection.channel(), host_exceptions=True)
    assert server.host_exceptions is True
    method = name()
    await server.register(method, boom, auto_delete=True)
    with (
        caplog.at_level(logging.ERROR, logger="amqpio.patterns"),
        pytest.raises(Boom),
    ):
        await client.call(method, {"text": "logged"})
    assert "logged" in caplog.text


async def test_non_exception_error_payload_is_wrapped(server: RPC, client: RPC) -> None:
    class Custom(RPC):
        def serialize_exception(self, exception: Exception) -> Any:
            return {"error": str(exception)}

    custom = await Custom.create(server.channel)
    method = name()
    await custom.register(method, boom, auto_delete=True)
    with pytest.raises(RPCException) as info:
        await client.call(method, {"text": "x"})
    assert info.value.args[1] == {"error": "('x', 42)"}


async def test_unroutable_call_fails_fast(client: RPC) -> None:
    with pytest.raises(MessageProcessError) as info:
        await asyncio.wait_for(client.call(name("nobody")), TIMEOUT)
    assert info.value.args[0] == "Message has been returned"
    assert client.futures == {}


async def test_unroutable_call_fails_fast_without_confirms(
    connection: amqpio.Connection, direct: bool
) -> None:
    client = await RPC.create(
        await connection.channel(publisher_confirms=False), direct_reply_to=direct
    )
    with pytest.raises(MessageProcessError):
        await asyncio.wait_for(client.call(name("nobody")), TIMEOUT)


async def test_expired_call_raises_timeout(
    connection: amqpio.Connection, client: RPC
) -> None:
    # a method queue (with the dead-letter exchange register() sets) nobody serves
    channel = await connection.channel()
    method = name()
    queue = await channel.declare_queue(
        method, arguments={"x-dead-letter-exchange": RPC.DLX_NAME}
    )
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(client.call(method, {"a": 1}, expiration=1), TIMEOUT)
    assert client.futures == {}
    await queue.delete(if_unused=False, if_empty=False)


async def test_expiration_with_a_fast_server_returns_the_result(
    server: RPC, client: RPC
) -> None:
    method = name()
    await server.register(method, multiply, auto_delete=True)
    assert await client.call(method, {"x": 1, "y": 2}, expiration=5) == 2


async def test_direct_reply_to_expiration_counts_processing_time(
    server: RPC, connection: amqpio.Connection
) -> None:
    """Direct reply-to only: the local timer also covers a slow callee."""
    client = await RPC.create(await connection.channel(), direct_reply_to=True)
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow() -> str:
        started.set()
        await release.wait()
        return "late"

    method = name()
    await server.register(method, slow, auto_delete=True)
    with pytest.raises(asyncio.TimeoutError):
        await client.call(method, expiration=0.3)
    assert started.is_set()
    release.set()
    # the late reply is discarded; the RPC keeps working
    assert await client.call(method, expiration=5) == "late"


async def test_call_properties_and_wire_format(
    connection: amqpio.Connection, client: RPC, direct: bool
) -> None:
    """A hand-written callee sees aio-pika's call format and can answer it."""
    channel = await connection.channel()
    method = name()
    queue = await channel.declare_queue(method, auto_delete=True)
    received: asyncio.Future[AbstractIncomingMessage] = (
        asyncio.get_running_loop().create_future()
    )
    await queue.consume(received.set_result)  # type: ignore[arg-type]
    call = asyncio.ensure_future(
        client.call(
            method,
            {"q": 1},
            priority=7,
            delivery_mode=DeliveryMode.PERSISTENT,
            expiration=30,
        )
    )
    message = await asyncio.wait_for(received, TIMEOUT)
    assert message.type == "call"
    assert message.content_type == "application/python-pickle"
    assert pickle.loads(message.body) == {"q": 1}
    assert message.priority == 7
    assert message.delivery_mode == DeliveryMode.PERSISTENT
    assert message.expiration == 30
    assert message.correlation_id in client.futures
    if direct:
        assert message.reply_to.startswith(DIRECT_REPLY_TO_QUEUE + ".")  # type: ignore[union-attr]
        assert "From" not in message.headers
    else:
        assert message.reply_to == client.result_queue.name
        assert message.headers["From"] == client.result_queue.name
    await channel.default_exchange.publish(
        amqpio.Message(
            pickle.dumps("handmade"),
            correlation_id=message.correlation_id,
            type=RPCMessageType.RESULT.value,
        ),
        message.reply_to,  # type: ignore[arg-type]
    )
    await message.ack()
    assert await asyncio.wait_for(call, TIMEOUT) == "handmade"


async def test_reply_with_unknown_type_fails_the_call(
    connection: amqpio.Connection, client: RPC
) -> None:
    channel = await connection.channel()
    method = name()
    queue = await channel.declare_queue(method, auto_delete=True)

    async def answer(message: AbstractIncomingMessage) -> None:
        await channel.default_exchange.publish(
            amqpio.Message(
                pickle.dumps(1), correlation_id=message.correlation_id, type="odd"
            ),
            message.reply_to,  # type: ignore[arg-type]
        )
        await message.ack()

    await queue.consume(answer)
    with pytest.raises(RuntimeError, match="Unknown message type"):
        await asyncio.wait_for(client.call(method), TIMEOUT)


async def test_execute_and_serialize_message_can_be_overridden(
    connection: amqpio.Connection, client: RPC
) -> None:
    class Audited(RPC):
        seen: list[tuple[str, Any]] = []

        async def execute(self, func: Any, payload: dict[str, Any]) -> Any:
            self.seen.append(("execute", payload))
            return await super().execute(func, payload)

    server = await Audited.create(await connection.channel())
    method = name()
    await server.register(method, multiply, auto_delete=True)
    assert await client.call(method, {"x": 4, "y": 4}) == 16
    assert Audited.seen == [("execute", {"x": 4, "y": 4})]


# -- register / unregister / close ------------------------------------------------------


async def test_register_twice_raises(server: RPC) -> None:
    method = name()
    await server.register(method, multiply, auto_delete=True)
    with pytest.raises(RuntimeError, match="Function already registered"):
        await server.register(name(), multiply, auto_delete=True)
    with pytest.raises(RuntimeError, match="Method name already used"):
        await server.register(method, boom, auto_delete=True)


async def test_register_passes_queue_kwargs_and_sets_the_dlx(
    server: RPC, client: RPC
) -> None:
    method = name()
    user_arguments = {"x-max-priority": 10}
    await server.register(
        method, multiply, durable=False, auto_delete=True, arguments=user_arguments
    )
    queue = server.queues[multiply]
    assert queue.name == method
    assert queue.auto_delete is True
    assert queue.arguments == {
        "x-max-priority": 10,
        "x-dead-letter-exchange": "rpc.dlx",
    }
    assert user_arguments == {"x-max-priority": 10}  # not modified
    assert await client.call(method, {"x": 1, "y": 1}, priority=9) == 1


async def test_unregister_stops_serving(server: RPC, client: RPC) -> None:
    method = name()
    await server.register(method, multiply, auto_delete=True)
    assert await client.call(method, {"x": 1, "y": 5}) == 5
    await server.unregister(multiply)
    assert server.routes == {} and server.queues == {}
    await server.unregister(multiply)  # not registered: nothing happens
    # the auto-delete queue went with its consumer: the call is unroutable
    with pytest.raises(MessageProcessError):
        await asyncio.wait_for(client.call(method, {"x": 1, "y": 5}), TIMEOUT)
    await server.register(method, multiply, auto_delete=True)  # free again
    assert await client.call(method, {"x": 2, "y": 5}) == 10


async def test_close_cancels_pending_calls(server: RPC, client: RPC) -> None:
    started = asyncio.Event()

    async def hang() -> None:
        started.set()
        await asyncio.Event().wait()

    method = name()
    await server.register(method, hang, auto_delete=True)
    pending = [asyncio.ensure_future(client.call(method)) for _ in range(3)]
    await asyncio.wait_for(started.wait(), TIMEOUT)
    await client.close()
    for task in pending:
        with pytest.raises(asyncio.CancelledError):
            await task
    assert client.futures == {}
    with pytest.raises(RuntimeError, match="not initialized"):
        await client.call(method)


async def test_close_removes_the_reply_queue(
    connection: amqpio.Connection, direct: bool, caplog: pytest.LogCaptureFixture
) -> None:
    channel = await connection.channel()
    client = await RPC.create(channel, direct_reply_to=direct)
    assert client.direct_reply_to is direct
    queue_name = client.result_queue.name
    await client.close()
    with caplog.at_level(logging.WARNING, logger="amqpio.patterns"):
        await client.close()
    assert "RPC already closed" in caplog.text
    if direct:
        assert queue_name == DIRECT_REPLY_TO_QUEUE
    else:
        with pytest.raises(amqpio.exceptions.ChannelNotFoundEntity):
            await (await connection.channel()).declare_queue(queue_name, passive=True)
    assert client.on_close not in channel.close_callbacks


async def test_channel_close_fails_pending_calls(
    server: RPC, connection: amqpio.Connection, direct: bool
) -> None:
    started = asyncio.Event()

    async def hang() -> None:
        started.set()
        await asyncio.Event().wait()

    method = name()
    await server.register(method, hang, auto_delete=True)
    channel = await connection.channel()
    client = await RPC.create(channel, direct_reply_to=direct)
    pending = asyncio.ensure_future(client.call(method))
    await asyncio.wait_for(started.wait(), TIMEOUT)
    await channel.close()
    # the channel's close reason, as aio-pika (ChannelClosed)
    done, _ = await asyncio.wait([pending], timeout=TIMEOUT)
    assert done
    with pytest.raises(amqpio.exceptions.ChannelClosed):
        pending.result()
    assert client.futures == {}
    await client.close()  # after its channel: nothing to undo, no error


async def test_rpc_exchange(connection: amqpio.Connection, direct: bool) -> None:
    exchange = name("rpcx")
    server = await RPC.create(await connection.channel(), exchange=exchange)
    client = await RPC.create(
        await connection.channel(), exchange=exchange, direct_reply_to=direct
    )
    await server.register("mul", multiply, auto_delete=True)
    assert server.queues[multiply].name == f"{exchange}::mul"
    assert await client.proxy.mul(x=5, y=5) == 25
    with pytest.raises(MessageProcessError):
        await asyncio.wait_for(client.call("other"), TIMEOUT)


# -- concurrency ---------------------------------------------------------------------------


async def test_1000_calls_in_flight(server: RPC, client: RPC) -> None:
    in_flight = 0
    peak = 0
    gate = asyncio.Event()

    async def echo(*, i: int) -> int:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        if in_flight >= 100:
            gate.set()
        await asyncio.wait_for(gate.wait(), TIMEOUT)
        in_flight -= 1
        return i

    method = name()
    await server.register(method, echo, auto_delete=True)
    results = await asyncio.wait_for(
        asyncio.gather(*(client.call(method, {"i": i}) for i in range(1000))), 30
    )
    assert results == list(range(1000))
    assert peak >= 100  # the calls really were concurrent
    assert client.futures == {}


# -- serializers -----------------------------------------------------------------------------


class JsonGZipRPC(JsonRPC):
    """The seed's JsonGZipRPC, over amqpio's JsonRPC."""

    CONTENT_TYPE = "application/octet-stream"

    def serialize(self, data: Any) -> bytes:
        return gzip.compress(super().serialize(data))

    def deserialize(self, data: Any) -> bytes:
        return super().deserialize(gzip.decompress(data))  # type: ignore[no-any-return]


class SeedJsonRPC(RPC):
    """aio-pika 6.8's "Extending" JsonRPC, verbatim (serialize returns str)."""

    SERIALIZER = json
    CONTENT_TYPE = "application/json"

    def serialize(self, data: Any) -> bytes:
        return self.SERIALIZER.dumps(data, ensure_ascii=False, default=repr)  # type: ignore[no-any-return]

    def serialize_exception(self, exception: Exception) -> bytes:
        return self.serialize(
            {
                "error": {
                    "type": exception.__class__.__name__,
                    "message": repr(exception),
                    "args": exception.args,
                }
            }
        )


async def test_json_rpc(connection: amqpio.Connection, direct: bool) -> None:
    server = await JsonRPC.create(await connection.channel())
    client = await JsonRPC.create(await connection.channel(), direct_reply_to=direct)
    method, failing = name(), name()

    async def describe(*, value: Any) -> Any:
        return {"value": value, "object": object}

    await server.register(method, describe, auto_delete=True)
    await server.register(failing, boom, auto_delete=True)
    result = await client.call(method, {"value": ["é", 1, None]})
    assert result == {"value": ["é", 1, None], "object": repr(object)}
    with pytest.raises(JsonRPCError) as info:
        await client.call(failing, {"text": "json"})
    assert info.value.args[0] == "RPC exception"
    assert info.value.args[1] == {
        "error": {"type": "Boom", "message": "Boom('json', 42)", "args": ["json", 42]}
    }


@pytest.mark.parametrize("cls", [JsonGZipRPC, SeedJsonRPC])
async def test_seed_serializer_subclasses(
    connection: amqpio.Connection, direct: bool, cls: type[RPC]
) -> None:
    server = await cls.create(await connection.channel())
    client = await cls.create(await connection.channel(), direct_reply_to=direct)
    method, failing = name(), name()
    await server.register(method, multiply, auto_delete=True)
    await server.register(failing, boom, auto_delete=True)
    assert await client.proxy.__getattr__(method)(x=7, y=6) == 42
    with pytest.raises((JsonRPCError, RPCException)) as info:
        await client.call(failing, {"text": "seed"})
    assert "seed" in str(info.value.args[1])

    body = client.serialize({"x": "é"})
    if cls is JsonGZipRPC:
        assert json.loads(gzip.decompress(body)) == {"x": "é"}
    else:
        assert json.loads(body) == {"x": "é"}


async def test_direct_reply_to_class_attribute(
    server: RPC, connection: amqpio.Connection
) -> None:
    class DirectRPC(RPC):
        DIRECT_REPLY_TO = True

    method = name()
    await server.register(method, multiply, auto_delete=True)
    client = await DirectRPC.create(await connection.channel())
    assert client.direct_reply_to
    assert client.result_queue.name == DIRECT_REPLY_TO_QUEUE
    assert await client.call(method, {"x": 3, "y": 1}) == 3
    opted_out = await DirectRPC.create(
        await connection.channel(), direct_reply_to=False
    )
    assert not opted_out.direct_reply_to


# -- aio-pika interoperability ----------------------------------------------------------------


async def test_interoperates_with_aio_pika(
    rabbitmq: Broker, server: RPC, client: RPC
) -> None:
    aio_pika = pytest.importorskip("aio_pika")
    from aio_pika.patterns import RPC as PikaRPC

    pika_connection = await aio_pika.connect(rabbitmq.url)
    try:
        pika = await PikaRPC.create(await pika_connection.channel())
        ours, theirs = name(), name()
        await server.register(ours, multiply, auto_delete=True)
        await pika.register(theirs, multiply, auto_delete=True)
        # an aio-pika caller, an amqpio callee (and the other way round)
        assert await pika.call(ours, {"x": 2, "y": 21}) == 42
        assert await client.call(theirs, {"x": 3, "y": 14}) == 42
        failing = name()
        await pika.register(failing, boom, auto_delete=True)
        with pytest.raises(Boom):
            await client.call(failing, {"text": "from aio-pika"})
        await pika.close()
    finally:
        await pika_connection.close()


@pytest.mark.parametrize(
    "direct", [True, False], ids=["direct-reply-to", "reply-queue"]
)
async def test_a_direct_reply_to_caller_declares_no_queue(
    rabbitmq_ctl: Broker, direct: bool
) -> None:
    """The broker's queue list before and after a caller is created and
    makes calls: direct reply-to adds nothing; a reply queue (the control)
    adds exactly one queue, so the check can see a declaration."""

    def queues() -> set[str]:
        out = rabbitmq_ctl.rabbitmqctl("list_queues", "-s", "name")
        return {line.strip() for line in out.splitlines() if line.strip()}

    async with await amqpio.connect(rabbitmq_ctl.url) as connection:
        server = await RPC.create(await connection.channel())
        method = f"double-{uuid.uuid4().hex}"

        async def double(*, x: int) -> int:
            return 2 * x

        await server.register(method, double, auto_delete=True)
        before = await asyncio.to_thread(queues)
        client = await RPC.create(await connection.channel(), direct_reply_to=direct)
        assert [await client.call(method, {"x": i}) for i in range(3)] == [0, 2, 4]
        added = await asyncio.to_thread(queues) - before
        if direct:
            assert added == set()
        else:
            assert len(added) == 1
        await client.close()
        await server.close()
