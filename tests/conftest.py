"""Broker fixtures shared by every test directory (integration, compat).

``rabbitmq`` (session): the broker from :func:`amqpio.testing.rabbitmq.find_broker`:
``AMQP_URL`` when set, else a throwaway local node with TLS (EXTERNAL auth for
the client certificate's CN ``extuser``) and the management plugin, else Docker.
Tests that need TLS or rabbitmqctl take ``rabbitmq_tls`` / ``rabbitmq_ctl``,
which skip on a broker that lacks them (e.g. a plain ``AMQP_URL``).

``rabbitmq_cluster`` (session, started on first use): a local 3-node cluster.

``AMQPIO_TEST_LOOP=uvloop`` runs every async test and fixture on uvloop.

Ports, from ``AMQPIO_TEST_PORT_BASE`` (B, default 5680):
  node     AMQP B, TLS B+1, management B+10000, Erlang dist B+20000,
           its epmd B+20001, rabbitmqctl B+20002..B+20003
  cluster  AMQP B+4..B+6, dist B+20004..B+20006, epmd B+20007, ctl B+20008..9
  free for tests (e.g. TCP proxies): ``spare_ports`` = B+2, B+3, B+7, B+8, B+9
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator

import pytest

from amqpio.testing.rabbitmq import (
    Broker,
    BrokerNotFound,
    RabbitCluster,
    find_broker,
    find_rabbitmq_sbin,
)

#: The event loop of every async test and fixture: ``asyncio`` (the default)
#: or ``uvloop`` (``make test-uvloop``).
TEST_LOOP = os.environ.get("AMQPIO_TEST_LOOP", "asyncio")
if TEST_LOOP not in ("asyncio", "uvloop"):
    raise pytest.UsageError(
        f"AMQPIO_TEST_LOOP must be asyncio or uvloop, not {TEST_LOOP!r}"
    )

if TEST_LOOP == "uvloop":
    import uvloop

    def pytest_asyncio_loop_factories(
        config: pytest.Config, item: pytest.Item
    ) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
        return {"uvloop": uvloop.new_event_loop}


PORT_BASE = int(os.environ.get("AMQPIO_TEST_PORT_BASE", "5680"))
NODE_PORT = PORT_BASE
CLUSTER_PORT = PORT_BASE + 4
SPARE_PORTS = (
    PORT_BASE + 2,
    PORT_BASE + 3,
    PORT_BASE + 7,
    PORT_BASE + 8,
    PORT_BASE + 9,
)


@pytest.fixture(scope="session")
def rabbitmq() -> Iterator[Broker]:
    """One broker for the whole test session (see the module docstring)."""
    broker: Broker | None = None
    try:
        broker = find_broker(
            name="amqpio-test",
            port=NODE_PORT,
            tls_port=NODE_PORT + 1,
            management_port=NODE_PORT + 10000,
            dist_port=NODE_PORT + 20000,
        )
    except BrokerNotFound as exc:
        message = str(exc)
    if broker is None:
        pytest.fail(message, pytrace=False)
    with broker:
        yield broker


@pytest.fixture
def rabbitmq_tls(rabbitmq: Broker) -> Broker:
    """The session broker, when it has the harness's TLS listener and certificates."""
    if not rabbitmq.has_tls:
        pytest.skip(f"the {rabbitmq.kind} broker has no TLS listener from the harness")
    return rabbitmq


@pytest.fixture
def rabbitmq_ctl(rabbitmq: Broker) -> Broker:
    """The session broker, when the harness can run rabbitmqctl against it."""
    if not rabbitmq.can_control:
        pytest.skip(f"the {rabbitmq.kind} broker cannot be controlled by the harness")
    return rabbitmq


@pytest.fixture(scope="session")
def rabbitmq_cluster() -> Iterator[RabbitCluster]:
    """A local 3-node cluster (needs a local RabbitMQ install)."""
    if find_rabbitmq_sbin() is None:
        message = (
            "the cluster tests need a local RabbitMQ install "
            "(apt-get install -y rabbitmq-server); deselect them with -m 'not cluster'"
        )
        if os.environ.get("AMQP_URL"):
            pytest.skip(message)
        pytest.fail(message, pytrace=False)
    cluster = RabbitCluster(3, name="amqpio-test-c", port=CLUSTER_PORT)
    with cluster:
        yield cluster


@pytest.fixture(scope="session")
def spare_ports() -> tuple[int, ...]:
    """Loopback ports no broker of this session uses (for proxies and the like)."""
    return SPARE_PORTS
