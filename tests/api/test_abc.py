"""amqpio.abc mirrors aio_pika.abc: names, enums, typed dicts and signatures."""

from __future__ import annotations

import inspect
from typing import Any

import aio_pika.abc
import pytest

from amqpio import abc
from amqpio.message import IncomingMessage, Message, ReturnedMessage
from amqpio.tools import OneShotCallback
from helpers.reference import AIO_PIKA_10


def assert_reference(ours: set[str], theirs: set[str]) -> None:
    """Equal to aio-pika 10's; a superset of 9.6's (a subset of 10's API)."""
    if AIO_PIKA_10:
        assert ours == theirs
    else:
        assert theirs - ours == set()


ABSTRACT_CLASSES = sorted(
    name
    for name in aio_pika.abc.__all__
    if name.startswith("Abstract") and inspect.isclass(getattr(aio_pika.abc, name))
)


def test_every_aio_pika_name_exists() -> None:
    missing = [name for name in aio_pika.abc.__all__ if not hasattr(abc, name)]
    assert missing == []
    assert_reference(set(abc.__all__), set(aio_pika.abc.__all__))


@pytest.mark.parametrize("name", ["ExchangeType", "DeliveryMode", "TransactionState"])
def test_enums_match(name: str) -> None:
    ours, theirs = getattr(abc, name), getattr(aio_pika.abc, name)
    assert {m.name: m.value for m in ours} == {m.name: m.value for m in theirs}


def test_exchange_types_are_strings() -> None:
    assert abc.ExchangeType.X_CONSISTENT_HASH == "x-consistent-hash"
    assert abc.ExchangeType("topic") is abc.ExchangeType.TOPIC
    assert abc.DeliveryMode.PERSISTENT == 2


@pytest.mark.parametrize("name", ["MessageInfo", "SSLOptions"])
def test_typed_dict_keys_match(name: str) -> None:
    ours, theirs = getattr(abc, name), getattr(aio_pika.abc, name)
    assert set(ours.__annotations__) == set(theirs.__annotations__)
    assert ours.__total__ is theirs.__total__ is False


def test_constants() -> None:
    assert abc.MILLISECONDS == aio_pika.abc.MILLISECONDS == 1000
    assert abc.NoneType is type(None)
    assert abc.ConsumerTag is str


def test_declaration_result_and_connection_parameter() -> None:
    result = abc.DeclarationResult(message_count=1, consumer_count=2)
    assert (result.message_count, result.consumer_count) == (1, 2)
    parameter = abc.ConnectionParameter("interleave", int, default="5")
    assert parameter.parse("7") == 7
    assert parameter.parse(None) == "5"
    assert parameter.parse("x") == "5"


def test_get_exchange_name() -> None:
    assert abc.get_exchange_name("logs") == "logs"
    with pytest.raises(ValueError):
        abc.get_exchange_name(42)


def _abstract_methods(cls: type) -> set[str]:
    """Names abstract in ``cls`` (also for aio-pika's non-ABCMeta classes)."""
    return {
        name
        for name in dir(cls)
        if getattr(inspect.getattr_static(cls, name), "__isabstractmethod__", False)
    }


@pytest.mark.parametrize("name", ABSTRACT_CLASSES)
def test_abstract_methods_match(name: str) -> None:
    ours, theirs = getattr(abc, name), getattr(aio_pika.abc, name)
    assert_reference(_abstract_methods(ours), _abstract_methods(theirs))


def _signature(function: Any) -> list[tuple[str, Any, Any]]:
    if isinstance(function, property):
        function = function.fget
    signature = inspect.signature(function)
    return [
        (
            p.name,
            p.kind,
            p.default if p.default is inspect.Parameter.empty else repr(p.default),
        )
        for p in signature.parameters.values()
    ]


def _methods(cls: type) -> dict[str, Any]:
    return {
        name: value
        for name, value in vars(cls).items()
        if callable(value) or isinstance(value, property)
        if not name.startswith("_")
        or name
        in {
            "__init__",
            "__aenter__",
            "__aexit__",
            "__aiter__",
            "__anext__",
            "__await__",
            "__iter__",
            "__copy__",
        }
    }


@pytest.mark.parametrize("name", ABSTRACT_CLASSES)
def test_method_signatures_match(name: str) -> None:
    ours, theirs = getattr(abc, name), getattr(aio_pika.abc, name)
    our_methods, their_methods = _methods(ours), _methods(theirs)
    assert_reference(set(our_methods), set(their_methods))
    for method, value in their_methods.items():
        assert _signature(our_methods[method]) == _signature(value), method


@pytest.mark.parametrize("name", ABSTRACT_CLASSES)
def test_abstract_classes_cannot_be_instantiated(name: str) -> None:
    with pytest.raises(TypeError):
        getattr(abc, name)()


def test_class_hierarchy() -> None:
    assert issubclass(abc.AbstractIncomingMessage, abc.AbstractMessage)
    assert issubclass(abc.AbstractRobustChannel, abc.AbstractChannel)
    assert issubclass(abc.AbstractRobustConnection, abc.AbstractConnection)
    assert issubclass(abc.AbstractRobustQueue, abc.AbstractQueue)
    assert issubclass(abc.AbstractRobustExchange, abc.AbstractExchange)
    assert issubclass(abc.AbstractChannel, abc.PoolInstance)
    assert issubclass(abc.AbstractConnection, abc.PoolInstance)


def test_messages_implement_the_abstract_classes() -> None:
    assert issubclass(Message, abc.AbstractMessage)
    assert issubclass(IncomingMessage, abc.AbstractIncomingMessage)
    assert issubclass(ReturnedMessage, abc.AbstractIncomingMessage)
    assert not inspect.isabstract(Message)
    assert not inspect.isabstract(IncomingMessage)


async def test_underlay_channel_closes_once() -> None:
    closed: list[Any] = []

    class Channel:
        async def close(self, exc: Any) -> None:
            closed.append(exc)
            await callback()

    async def on_close() -> None:
        pass

    callback = OneShotCallback(on_close)
    underlay = abc.UnderlayChannel(channel=Channel(), close_callback=callback)
    await underlay.close()
    await underlay.close()
    assert closed == [None]
