"""The robust API surface: aio-pika's names and signatures, parameters, exceptions."""

from __future__ import annotations

import asyncio
import inspect

import aio_pika
import aio_pika.robust_channel
import aio_pika.robust_connection
import aio_pika.robust_exchange
import aio_pika.robust_queue
import pytest

import amqpio
from amqpio import abc
from amqpio import exceptions as exc
from amqpio.robust_channel import RobustChannel
from amqpio.robust_connection import RobustConnection, connect_robust
from amqpio.robust_exchange import RobustExchange
from amqpio.robust_queue import RobustQueue

PAIRS = [
    (RobustConnection, aio_pika.robust_connection.RobustConnection),
    (RobustChannel, aio_pika.robust_channel.RobustChannel),
    (RobustExchange, aio_pika.robust_exchange.RobustExchange),
    (RobustQueue, aio_pika.robust_queue.RobustQueue),
]


def test_names_are_exported() -> None:
    for name in (
        "connect_robust",
        "RobustConnection",
        "RobustChannel",
        "RobustExchange",
        "RobustQueue",
    ):
        assert name in amqpio.__all__
        assert hasattr(aio_pika, name)
        assert getattr(amqpio, name).__name__ == getattr(aio_pika, name).__name__
    assert amqpio.connect_robust is connect_robust


@pytest.mark.parametrize(("ours", "theirs"), PAIRS, ids=lambda c: c.__name__)
def test_robust_classes_implement_the_abstract_ones(ours: type, theirs: type) -> None:
    abstract = getattr(abc, "Abstract" + ours.__name__)
    assert issubclass(ours, abstract)
    assert not inspect.isabstract(ours)


@pytest.mark.parametrize(("ours", "theirs"), PAIRS, ids=lambda c: c.__name__)
def test_public_methods_take_aio_pikas_arguments(ours: type, theirs: type) -> None:
    for name, member in inspect.getmembers(theirs, inspect.isfunction):
        if name.startswith("_") or name not in vars(theirs):
            continue
        mine = getattr(ours, name, None)
        assert mine is not None, f"{ours.__name__}.{name} is missing"
        expected = inspect.signature(member).parameters
        actual = inspect.signature(mine).parameters
        positional = [
            p.name
            for p in actual.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        for index, (param, spec) in enumerate(expected.items()):
            if param in ("self", "channel") and name in ("restore",):
                continue
            assert param in actual, f"{ours.__name__}.{name} lacks {param!r}"
            if spec.kind == spec.POSITIONAL_OR_KEYWORD:
                # aio-pika callers may pass it by position
                assert positional[index : index + 1] == [param], (
                    f"{ours.__name__}.{name}: {param!r} is not positional {index}"
                )
            if spec.default is not inspect.Parameter.empty and param != "exc":
                assert actual[param].default == spec.default, (
                    f"{ours.__name__}.{name}({param}=...) default differs"
                )


def test_connect_robust_takes_connects_arguments() -> None:
    ours = inspect.signature(connect_robust).parameters
    theirs = inspect.signature(aio_pika.connect_robust).parameters
    assert list(ours) == list(theirs)
    plain = inspect.signature(amqpio.connect).parameters
    assert set(plain) <= set(ours)


async def test_defaults_are_aio_pikas() -> None:
    connection = RobustConnection("amqp://guest:guest@localhost/")
    assert connection.reconnect_interval == 5
    assert connection.fail_fast is True
    assert connection.recovery_timeout == 60
    assert connection.reconnect_max_interval == 30
    assert not connection.reconnecting
    assert not connection.is_closed
    assert connection.connection_attempt == 0
    assert len(connection.reconnect_callbacks) == 0


async def test_parameters_from_the_url_and_keywords() -> None:
    connection = RobustConnection(
        "amqp://u:p@h:1234/v?reconnect_interval=0.5&fail_fast=0&recovery_timeout=3"
        "&reconnect_max_interval=9"
    )
    assert connection.reconnect_interval == 0.5
    assert connection.reconnect_max_interval == 9
    assert connection.fail_fast is False
    assert connection.recovery_timeout == 3
    keywords = RobustConnection(
        "amqp://h/?reconnect_interval=9", reconnect_interval=2, fail_fast=False
    )
    assert keywords.reconnect_interval == 2  # keywords win over the query
    assert keywords.fail_fast is False
    assert keywords.reconnect_max_interval == 30
    assert (
        RobustConnection("amqp://h/", recovery_timeout="inf").recovery_timeout is None
    )


@pytest.mark.parametrize(
    "query",
    ["reconnect_interval=soon", "fail_fast=maybe", "recovery_timeout=-1"],
)
async def test_bad_parameters_are_value_errors(query: str) -> None:
    with pytest.raises(ValueError):
        RobustConnection(f"amqp://h/?{query}")


async def test_several_brokers_from_a_list_or_one_url() -> None:
    listed = RobustConnection(
        ["amqp://a:1@n1:5701/", "amqp://b:2@n2:5702/vh"], reconnect_interval=1
    )
    hosts = {(h.host, h.port, h.config.username) for h in listed.hosts}
    assert hosts == {("n1", 5701, "a"), ("n2", 5702, "b")}
    assert listed.reconnect_interval == 1
    several = RobustConnection("amqp://u:p@n1,n2:5673,[::1]/v?heartbeat=7")
    assert {(h.host, h.port) for h in several.hosts} == {
        ("n1", 5672),
        ("n2", 5673),
        ("::1", 5672),
    }
    for host in several.hosts:
        assert host.config.heartbeat == 7
        assert host.config.virtualhost == "v"
        assert "version" in host.config.client_properties
    assert str(several) in {h.safe_url for h in several.hosts}


async def test_plain_connect_still_refuses_several_hosts() -> None:
    with pytest.raises(ValueError):
        await amqpio.connect("amqp://n1,n2/")


async def test_anonymous_robust_queues_get_a_client_made_name() -> None:
    queue = RobustQueue(
        None,  # type: ignore[arg-type]
        None,
    )
    assert queue.name.startswith("amq_")
    assert len(queue.name) == len("amq_") + 32
    assert RobustQueue(None, "", durable=True).name.startswith("amq_")  # type: ignore[arg-type]
    assert RobustQueue(None, "named").name == "named"  # type: ignore[arg-type]


def test_unknown_outcome_is_caught_by_aio_pika_style_handlers() -> None:
    error = exc.PublishOutcomeUnknownError("lost", None, "ex", "rk")
    for base in (
        exc.AMQPConnectionError,
        exc.AMQPError,
        exc.ChannelInvalidStateError,
        ConnectionError,
        RuntimeError,
    ):
        assert isinstance(error, base)
    assert not isinstance(error, exc.DeliveryError)  # never a nack
    assert exc.PublishOutcomeUnknown is exc.PublishOutcomeUnknownError
    assert (error.exchange, error.routing_key) == ("ex", "rk")
    assert isinstance(error, exc.CONNECTION_EXCEPTIONS)


def test_recovery_timeout_is_a_connection_error_and_a_timeout() -> None:
    error = exc.RecoveryTimeoutError("not back")
    assert isinstance(error, exc.AMQPConnectionError)
    assert isinstance(error, asyncio.TimeoutError)


async def test_close_before_connect() -> None:
    connection = RobustConnection("amqp://h/")
    await connection.close()
    assert connection.is_closed
    with pytest.raises(RuntimeError):
        await connection.connect()


async def test_add_reconnect_callback_is_aio_pika_6s_spelling() -> None:
    connection = RobustConnection("amqp://guest:guest@localhost/")

    def on_reconnect(*args: object) -> None:
        raise AssertionError("not called here")

    connection.add_reconnect_callback(on_reconnect)
    assert on_reconnect in connection.reconnect_callbacks
    connection.reconnect_callbacks.discard(on_reconnect)
    assert on_reconnect not in connection.reconnect_callbacks
