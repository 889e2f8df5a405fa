"""amqpio on any conforming asyncio event loop: uvloop, as many aio-pika users run.

uvloop's transports are not subclasses of ``asyncio.Transport``; amqpio uses
only the transport interface. These tests run whole programs on uvloop from a
plain (synchronous) test, the way applications start it (``uvloop.run``), and
the same program on the standard loop, so both loops are checked in every run.
The integration suite also runs on uvloop as a whole: ``make test-uvloop``
(``AMQPIO_TEST_LOOP=uvloop``, see ``tests/conftest.py``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

import amqpio
from amqpio.testing.rabbitmq import Broker

pytestmark = pytest.mark.integration

uvloop = pytest.importorskip("uvloop")

LOOPS: dict[str, Callable[[Coroutine[Any, Any, Any]], Any]] = {
    "asyncio": asyncio.run,
    "uvloop": uvloop.run,
}


async def round_trip(url: str, robust: bool) -> dict[str, Any]:
    """Connect, declare, publish with confirms, consume, RPC: what a user does."""
    connect = amqpio.connect_robust if robust else amqpio.connect
    loop_module = type(asyncio.get_running_loop()).__module__.partition(".")[0]
    async with await connect(url) as connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True)
        confirmed = await channel.default_exchange.publish(
            amqpio.Message(b"one"), routing_key=queue.name
        )
        received: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

        async def on_message(message: amqpio.abc.AbstractIncomingMessage) -> None:
            async with message.process():
                if not received.done():
                    received.set_result(message.body)

        await queue.consume(on_message)
        body = await asyncio.wait_for(received, 10)
        rpc = await amqpio.patterns.RPC.create(channel)

        async def double(*, x: int) -> int:
            return 2 * x

        await rpc.register("event-loops-double", double, auto_delete=True)
        result = await asyncio.wait_for(rpc.call("event-loops-double", {"x": 21}), 10)
        await rpc.close()
    return {
        "loop": loop_module,
        "confirmed": type(confirmed).__name__,
        "body": body,
        "rpc": result,
        "closed": connection.is_closed,
    }


@pytest.mark.parametrize("robust", [False, True], ids=["plain", "robust"])
@pytest.mark.parametrize("loop", sorted(LOOPS))
def test_a_program_runs_on_both_loops(
    rabbitmq: Broker, loop: str, robust: bool
) -> None:
    result = LOOPS[loop](round_trip(rabbitmq.url, robust))
    assert result == {
        "loop": loop,
        "confirmed": "Ack",
        "body": b"one",
        "rpc": 42,
        "closed": True,
    }


def test_tls_on_uvloop(rabbitmq_tls: Broker) -> None:
    async def main() -> str:
        url = rabbitmq_tls.tls_url
        connection = await amqpio.connect(
            url, ssl_options={"cafile": str(rabbitmq_tls.ca_file)}
        )
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(exclusive=True)
            await channel.default_exchange.publish(amqpio.Message(b"tls"), queue.name)
            message = await queue.get(timeout=5)
            await message.ack()
            return message.body.decode()

    assert uvloop.run(main()) == "tls"


def test_the_suite_runs_on_the_loop_it_was_asked_for() -> None:
    """``AMQPIO_TEST_LOOP`` selects the loop of every async test."""

    async def which() -> str:
        return type(asyncio.get_running_loop()).__module__.partition(".")[0]

    expected = os.environ.get("AMQPIO_TEST_LOOP", "asyncio")
    assert LOOPS["asyncio"](which()) == "asyncio"  # asyncio.run: the default loop
    assert expected in ("asyncio", "uvloop")


async def test_async_tests_run_on_the_selected_loop() -> None:
    running = type(asyncio.get_running_loop()).__module__.partition(".")[0]
    assert running == os.environ.get("AMQPIO_TEST_LOOP", "asyncio")
