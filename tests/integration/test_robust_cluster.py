"""Cluster failover: a publisher and a consumer on a quorum queue keep running
while the node the client is connected to is stopped."""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.parse
from typing import Any

import pytest

import amqpio
from amqpio import exceptions as exc
from amqpio import spec
from amqpio.abc import AbstractIncomingMessage
from amqpio.testing.rabbitmq import RabbitCluster

from .robust_support import Recoveries, eventually, unique

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


def _list_queues(cluster: RabbitCluster, node: int) -> list[dict[str, Any]]:
    """Quorum queue state as ``node`` sees it: leader, members, online."""
    out = cluster.nodes[node].rabbitmqctl(
        "list_queues",
        "name",
        "type",
        "leader",
        "members",
        "online",
        "--formatter",
        "json",
    )
    queues: list[dict[str, Any]] = json.loads(out)
    return queues


def _queue_members(cluster: RabbitCluster, node: int, name: str) -> list[str]:
    for queue in _list_queues(cluster, node):
        if queue["name"] == name:
            return list(queue["members"])
    raise AssertionError(f"queue {name} not listed by node {node}")


async def test_failover_to_another_node_keeps_publishing_and_consuming(
    rabbitmq_cluster: RabbitCluster,
) -> None:
    cluster = rabbitmq_cluster
    ports = [urllib.parse.urlsplit(url).port for url in cluster.urls]
    # A reconnect 0.1 s after the node began shutting down could land while
    # it still led the quorum queue: twice in about fifteen full-suite runs
    # RabbitMQ 3.10.8 then nacked every publish to it for the whole 120 s (see
    # the report below), never on a later reconnect. Applications reconnect
    # after seconds (aio-pika's default: 5 s); 1 s keeps the test quick.
    connection = await amqpio.connect_robust(
        cluster.urls, reconnect_interval=1, reconnect_max_interval=2
    )
    recoveries = Recoveries(connection)
    name = unique("quorum")
    confirmed: set[str] = set()
    consumed: set[str] = set()
    deliveries = 0
    unknown = retried_timeouts = nacked = returned = 0
    stop = asyncio.Event()

    async def on_message(message: AbstractIncomingMessage) -> None:
        nonlocal deliveries
        deliveries += 1
        assert message.message_id is not None
        consumed.add(message.message_id)
        with contextlib.suppress(exc.ChannelInvalidStateError):
            await message.ack()  # refused for deliveries from before the loss

    async def publisher(channel: amqpio.RobustChannel, prefix: str) -> None:
        nonlocal unknown, retried_timeouts, nacked, returned
        i = 0
        while not stop.is_set():
            message_id = f"{prefix}{i}"
            try:
                result = await channel.default_exchange.publish(
                    amqpio.Message(b"q", message_id=message_id, delivery_mode=2),
                    name,
                    timeout=15,
                )
            except exc.PublishOutcomeUnknownError:
                unknown += 1
                continue  # publish again: at least once
            except asyncio.TimeoutError:
                retried_timeouts += 1
                continue
            except exc.DeliveryError:
                # a quorum queue without a leader (election) may nack
                nacked += 1
                await asyncio.sleep(0.05)
                continue
            if not isinstance(result, spec.Basic.Ack):
                returned += 1  # unroutable: not stored, publish again
                await asyncio.sleep(0.05)
                continue
            confirmed.add(message_id)
            i += 1

    stopped = None
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=50)
        queue = await channel.declare_queue(
            name, durable=True, arguments={"x-queue-type": "quorum"}
        )
        await queue.consume(on_message)
        channels = [await connection.channel() for _ in range(3)]
        publishing = asyncio.gather(
            *(publisher(ch, prefix) for ch, prefix in zip(channels, "abc", strict=True))
        )
        await eventually(lambda: len(confirmed) >= 300, timeout=30)
        # the queue must have a member on every node: stopping one then leaves
        # a majority, so a new leader can take over
        members = await asyncio.to_thread(_queue_members, cluster, 0, name)
        assert len(members) == len(ports), members

        port = connection.url.port
        stopped = ports.index(port)
        await asyncio.to_thread(cluster.stop_node, stopped)
        await recoveries.wait(1, timeout=60)
        assert connection.url.port != port, connection.url
        before = len(confirmed)
        try:
            # a quorum queue whose leader was on the stopped node elects a new
            # one first; on a loaded 2-core machine that can take a while
            await eventually(lambda: len(confirmed) >= before + 300, timeout=120)
        except AssertionError:
            survivor = next(i for i in range(len(ports)) if i != stopped)
            queues = await asyncio.to_thread(_list_queues, cluster, survivor)
            raise AssertionError(
                f"publishing did not resume after failover to {connection.url}: "
                f"confirmed {before} -> {len(confirmed)}, unknown={unknown} "
                f"timeouts={retried_timeouts} nacked={nacked} returned={returned} "
                f"reconnecting={connection.reconnecting} "
                f"last_error={connection.last_error!r}; running nodes "
                f"{cluster.running_nodes(survivor)}; queues {queues}"
            ) from None
        stop.set()
        await asyncio.wait_for(publishing, 30)
        # every confirmed message is consumed at least once
        await eventually(lambda: confirmed <= consumed, timeout=60)
        print(
            f"\ncluster: stopped node {stopped + 1}, failed over to port "
            f"{connection.url.port}; confirmed={len(confirmed)} "
            f"unknown-outcome (republished)={unknown} timeouts={retried_timeouts} "
            f"nacked={nacked} returned={returned} "
            f"consumed={len(consumed)} deliveries={deliveries} "
            f"duplicates={deliveries - len(consumed)}"
        )
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            cleanup = await connection.channel()
            await asyncio.wait_for(cleanup.queue_delete(name), 15)
        await connection.close()
        if stopped is not None:  # leave the session's cluster as it was
            await asyncio.to_thread(cluster.start_node, stopped)
