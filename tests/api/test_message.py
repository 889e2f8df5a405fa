"""amqpio.message against aio-pika's Message/IncomingMessage (no broker needed)."""

from __future__ import annotations

import asyncio
import copy
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import aio_pika
import pytest
from aiormq.abc import DeliveredMessage
from pamqp import commands, header

from amqpio import spec
from amqpio.abc import (
    AbstractIncomingMessage,
    AbstractMessage,
    AbstractProcessContext,
    DeliveryMode,
)
from amqpio.exceptions import ChannelInvalidStateError, MessageProcessError
from amqpio.message import (
    IncomingMessage,
    Message,
    ReturnedMessage,
    decode_expiration,
    encode_expiration,
    log,
)

NOW = datetime(2024, 5, 17, 12, 30, 45, tzinfo=timezone.utc)

FULL: dict[str, Any] = {
    "headers": {"x": 1, "s": "text", "nested": {"a": [1, "b"]}},
    "content_type": "application/json",
    "content_encoding": "utf-8",
    "delivery_mode": DeliveryMode.PERSISTENT,
    "priority": 7,
    "correlation_id": "corr-1",
    "reply_to": "amq.rabbitmq.reply-to",
    "expiration": 30,
    "message_id": "mid-1",
    "timestamp": NOW,
    "type": "event.created",
    "user_id": "guest",
    "app_id": "tests",
}

CASES: list[dict[str, Any]] = [
    {},
    FULL,
    {"delivery_mode": 2, "priority": 0, "expiration": 1.5},
    {"correlation_id": "", "reply_to": "", "type": "", "headers": {}},
    {"timestamp": 1_700_000_000, "expiration": timedelta(seconds=2)},
    {"timestamp": 1_700_000_000.75},
]


@dataclass
class FakeChannel:
    """Implements the channel Protocol of amqpio.message and records calls."""

    is_closed: bool = False
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    async def _ack(self, delivery_tag: int, multiple: bool) -> None:
        self.calls.append(("ack", delivery_tag, multiple))

    async def _nack(self, delivery_tag: int, multiple: bool, requeue: bool) -> None:
        self.calls.append(("nack", delivery_tag, multiple, requeue))

    async def _reject(self, delivery_tag: int, requeue: bool) -> None:
        self.calls.append(("reject", delivery_tag, requeue))


def deliver(
    channel: FakeChannel | None = None,
    *,
    delivery_tag: int = 42,
    redelivered: bool = False,
    no_ack: bool = False,
    body: bytes = b"payload",
    **props: Any,
) -> IncomingMessage:
    method = spec.Basic.Deliver("ctag", delivery_tag, redelivered, "ex", "rk")
    return IncomingMessage._delivered(
        channel or FakeChannel(),
        method,
        spec.BasicProperties(**props),
        body,
        no_ack=no_ack,
    )


def wire_props(message: Message) -> spec.BasicProperties:
    """The properties as a consumer decodes them after a publish."""
    return spec.BasicProperties.decode(message.properties.encode())


# -- Message ------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", CASES)
def test_info_equals_aio_pika(kwargs: dict[str, Any]) -> None:
    ours = Message(b"body", **kwargs).info()
    theirs = aio_pika.Message(b"body", **kwargs).info()
    assert ours.keys() == theirs.keys()
    assert ours == theirs


def test_info_keys_equal_aio_pika_message_info() -> None:
    keys = Message(b"").info().keys()
    assert set(keys) == set(aio_pika.Message(b"").info().keys())
    assert set(keys) == set(aio_pika.abc.MessageInfo.__annotations__)


def test_defaults_match_aio_pika() -> None:
    message = Message(b"")
    assert message.delivery_mode is DeliveryMode.NOT_PERSISTENT
    assert message.priority == 0
    assert message.headers == {}
    assert message.body_size == 0
    assert message.info()["type"] == "None"  # aio-pika's str(None)
    assert not message.locked


@pytest.mark.parametrize("kwargs", CASES)
def test_properties_encode_like_aio_pika(kwargs: dict[str, Any]) -> None:
    # pamqp picks the smallest integer type in tables: compare decoded values
    ours = Message(b"body", **kwargs).properties.encode()
    theirs = aio_pika.Message(b"body", **kwargs).properties.marshal()
    assert spec.BasicProperties.decode(ours) == spec.BasicProperties.decode(theirs)
    if not kwargs.get("headers"):
        assert ours == theirs


@pytest.mark.parametrize("kwargs", CASES)
def test_publish_encoding_equals_the_properties_encoding(
    kwargs: dict[str, Any],
) -> None:
    # the publish path encodes from the slots; it must match .properties
    message = Message(b"body", **kwargs)
    properties = message.properties
    if properties.message_id is None:
        properties.message_id = "filled-in"
    assert message._encode_properties("filled-in") == properties.encode()


def test_properties_round_trip_through_incoming_message() -> None:
    sent = Message(b"hello", **FULL)
    received = IncomingMessage._delivered(
        FakeChannel(),
        spec.Basic.Deliver("ctag", 1, False, "ex", "rk"),
        wire_props(sent),
        b"hello",
    )
    for name in (
        "body",
        "body_size",
        "headers",
        "content_type",
        "content_encoding",
        "delivery_mode",
        "priority",
        "correlation_id",
        "reply_to",
        "message_id",
        "timestamp",
        "type",
        "user_id",
        "app_id",
    ):
        assert getattr(received, name) == getattr(sent, name), name
    assert received.expiration == 30.0
    assert received.properties.encode() == sent.properties.encode()


def test_properties_leave_out_empty_strings() -> None:
    message = Message(b"", content_type="", content_encoding="")
    message.correlation_id = ""
    props = message.properties
    assert props.content_type is None
    assert props.content_encoding is None
    assert props.correlation_id is None
    # aio-pika always sends these three
    assert props.headers == {}
    assert props.delivery_mode == 1
    assert props.priority == 0


@pytest.mark.parametrize(
    ("expiration", "wire"),
    [
        (None, None),
        (0, "0"),
        (10, "10000"),
        (1.5, "1500"),
        (0.0015, "1"),
        (timedelta(minutes=1), "60000"),
        (timedelta(milliseconds=250), "250"),
    ],
)
def test_expiration_durations(expiration: Any, wire: str | None) -> None:
    assert Message(b"", expiration=expiration).properties.expiration == wire
    assert aio_pika.Message(b"", expiration=expiration).properties.expiration == wire


def test_expiration_datetime_is_a_deadline() -> None:
    deadline = datetime.now(tz=timezone.utc) + timedelta(seconds=60)
    wire = Message(b"", expiration=deadline).properties.expiration
    assert wire is not None
    assert 55_000 < int(wire) <= 60_000
    naive = datetime.now() + timedelta(seconds=10)
    wire = Message(b"", expiration=naive).properties.expiration
    assert wire is not None
    assert 5_000 < int(wire) <= 10_000


def test_expiration_deadline_in_the_past_expires_at_once() -> None:
    past = datetime.now(tz=timezone.utc) - timedelta(seconds=5)
    assert Message(b"", expiration=past).properties.expiration == "0"


@pytest.mark.parametrize(
    "bad",
    [-1, -0.5, timedelta(seconds=-1), float("inf"), float("nan"), "1000", object()],
)
def test_bad_expiration_is_a_value_error(bad: Any) -> None:
    with pytest.raises(ValueError):
        Message(b"", expiration=bad)


def test_expiration_set_later_is_checked_on_encode() -> None:
    message = Message(b"")
    message.expiration = "soon"  # type: ignore[assignment]
    with pytest.raises(ValueError, match="expiration"):
        message.properties  # noqa: B018


def test_encode_decode_expiration_helpers() -> None:
    assert encode_expiration(2) == "2000"
    assert decode_expiration("2500") == 2.5
    assert decode_expiration(None) is None
    assert decode_expiration("junk") is None


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        (NOW, NOW),
        (1_700_000_000, datetime.fromtimestamp(1_700_000_000, tz=timezone.utc)),
        (1.5, datetime.fromtimestamp(1.5, tz=timezone.utc)),
        (None, None),
    ],
)
def test_timestamp_forms(timestamp: Any, expected: datetime | None) -> None:
    assert Message(b"", timestamp=timestamp).timestamp == expected
    assert aio_pika.Message(b"", timestamp=timestamp).timestamp == expected


def test_timestamp_timedelta_is_relative_to_now() -> None:
    before = datetime.now(tz=timezone.utc)
    stamp = Message(b"", timestamp=timedelta(hours=1)).timestamp
    assert stamp is not None
    assert (
        before + timedelta(hours=1)
        <= stamp
        <= datetime.now(tz=timezone.utc) + timedelta(hours=1)
    )


def test_bad_timestamp_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        Message(b"", timestamp="yesterday")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (None, DeliveryMode.NOT_PERSISTENT),
        (0, DeliveryMode.NOT_PERSISTENT),
        (1, DeliveryMode.NOT_PERSISTENT),
        (2, DeliveryMode.PERSISTENT),
        (DeliveryMode.PERSISTENT, DeliveryMode.PERSISTENT),
    ],
)
def test_delivery_mode(mode: Any, expected: DeliveryMode) -> None:
    assert Message(b"", delivery_mode=mode).delivery_mode is expected


def test_invalid_delivery_mode_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        Message(b"", delivery_mode=3)
    with pytest.raises(ValueError):
        aio_pika.Message(b"", delivery_mode=3)


def test_body_is_converted_to_bytes() -> None:
    message = Message(bytearray(b"abc"))  # type: ignore[arg-type]
    assert type(message.body) is bytes
    assert message.body == b"abc"
    assert message.body_size == 3
    assert list(message) == list(b"abc")


def test_lock_forbids_changes_like_aio_pika() -> None:
    for cls in (Message, aio_pika.Message):
        message = cls(b"x")
        message.content_type = "text/plain"
        message.lock()
        assert message.locked
        with pytest.raises(ValueError, match="Message is locked"):
            message.content_type = "other"
        with pytest.raises(ValueError, match="Message is locked"):
            message.body = b"y"
        assert message.content_type == "text/plain"


def test_message_is_slotted() -> None:
    message = Message(b"")
    assert not hasattr(message, "__dict__")
    with pytest.raises(AttributeError):
        message.no_such_attribute = 1  # type: ignore[attr-defined]


def test_copy_is_an_unlocked_message_with_the_same_properties() -> None:
    message = Message(b"x", **FULL)
    message.lock()
    clone = copy.copy(message)
    assert type(clone) is Message
    assert not clone.locked
    assert clone.info() == message.info()
    assert clone.headers is message.headers  # shared, as in aio-pika


def test_copy_of_incoming_message_is_a_message() -> None:
    incoming = deliver(content_type="text/plain", expiration="1500")
    clone = copy.copy(incoming)
    assert type(clone) is Message
    assert clone.expiration == 1.5
    assert clone.properties.expiration == "1500"


def test_repr_shows_info() -> None:
    text = repr(Message(b"abc", message_id="m1"))
    assert text.startswith("Message:{")
    assert "'message_id': 'm1'" in text


def test_headers_raw_is_deprecated() -> None:
    message = Message(b"", headers={"a": 1})
    with pytest.warns(DeprecationWarning, match="headers_raw"):
        assert message.headers_raw == {"a": 1}


def test_abstract_bases() -> None:
    assert isinstance(Message(b""), AbstractMessage)
    incoming = deliver()
    assert isinstance(incoming, AbstractIncomingMessage)
    assert isinstance(incoming.process(), AbstractProcessContext)


# -- IncomingMessage -------------------------------------------------------------------


def aio_pika_incoming(
    method: Any, props: dict[str, Any], body: bytes, no_ack: bool = False
) -> aio_pika.IncomingMessage:
    delivered = DeliveredMessage(
        delivery=method,
        header=header.ContentHeader(
            body_size=len(body), properties=commands.Basic.Properties(**props)
        ),
        body=body,
        channel=None,  # type: ignore[arg-type]
    )
    return aio_pika.IncomingMessage(delivered, no_ack=no_ack)


WIRE_CASES: list[dict[str, Any]] = [
    {},
    {
        "content_type": "text/plain",
        "content_encoding": "gzip",
        "headers": {"k": "v", "n": 5},
        "delivery_mode": 2,
        "priority": 3,
        "correlation_id": "c",
        "reply_to": "r",
        "expiration": "1500",
        "message_id": "m",
        "timestamp": NOW,
        "message_type": "t",
        "user_id": "u",
        "app_id": "a",
    },
    {"delivery_mode": 1, "priority": 0, "expiration": "60000"},
]


@pytest.mark.parametrize("props", WIRE_CASES)
def test_incoming_info_equals_aio_pika_for_deliver(props: dict[str, Any]) -> None:
    ours = IncomingMessage._delivered(
        FakeChannel(),
        spec.Basic.Deliver("ctag", 7, True, "ex", "rk"),
        spec.BasicProperties(**props),
        b"body",
    )
    theirs = aio_pika_incoming(
        commands.Basic.Deliver("ctag", 7, True, "ex", "rk"), props, b"body"
    )
    assert ours.info() == theirs.info()
    for name in ("consumer_tag", "delivery_tag", "redelivered", "message_count"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.expiration == theirs.expiration
    assert spec.BasicProperties.decode(
        ours.properties.encode()
    ) == spec.BasicProperties.decode(theirs.properties.marshal())


@pytest.mark.parametrize("props", WIRE_CASES)
def test_incoming_info_equals_aio_pika_for_get_ok(props: dict[str, Any]) -> None:
    ours = IncomingMessage._delivered(
        FakeChannel(),
        spec.Basic.GetOk(9, False, "ex", "rk", 12),
        spec.BasicProperties(**props),
        b"body",
    )
    theirs = aio_pika_incoming(
        commands.Basic.GetOk(9, False, "ex", "rk", 12), props, b"body"
    )
    assert ours.info() == theirs.info()
    assert ours.message_count == theirs.message_count == 12
    assert ours.consumer_tag is theirs.consumer_tag is None


# -- aio-pika's constructor: IncomingMessage(delivered_message, no_ack) ----------------


def delivered(
    method: Any, props: dict[str, Any], body: bytes, channel: Any
) -> DeliveredMessage:
    return DeliveredMessage(
        delivery=method,
        header=header.ContentHeader(
            body_size=len(body), properties=commands.Basic.Properties(**props)
        ),
        body=body,
        channel=channel,
    )


@pytest.mark.parametrize("props", WIRE_CASES)
@pytest.mark.parametrize(
    "method",
    [
        commands.Basic.Deliver("ctag", 7, True, "ex", "rk"),
        commands.Basic.GetOk(9, False, "ex", "rk", 12),
        commands.Basic.Return(312, "NO_ROUTE", "ex", "rk"),
        commands.Basic.Deliver(exchange="ex", routing_key="rk"),  # FastStream's
    ],
    ids=["deliver", "get-ok", "return", "deliver-without-tag"],
)
@pytest.mark.parametrize("no_ack", [False, True])
def test_aio_pika_constructor_reads_a_delivered_message_as_aio_pika_does(
    props: dict[str, Any], method: Any, no_ack: bool
) -> None:
    message = delivered(method, props, b"body", FakeChannel())
    ours = IncomingMessage(message, no_ack=no_ack)
    theirs = aio_pika.IncomingMessage(message, no_ack=no_ack)
    assert ours.info() == theirs.info()
    for name in (
        "body",
        "consumer_tag",
        "delivery_tag",
        "redelivered",
        "message_count",
        "exchange",
        "routing_key",
        "expiration",
        "timestamp",
        "processed",
        "locked",
    ):
        assert getattr(ours, name) == getattr(theirs, name), name


def test_aio_pika_constructor_takes_any_object_of_that_shape() -> None:
    """No aiormq needed: the argument is duck-typed."""
    from types import SimpleNamespace

    channel = FakeChannel()
    message = IncomingMessage(
        SimpleNamespace(
            delivery=SimpleNamespace(
                delivery_tag=3,
                redelivered=False,
                exchange="ex",
                routing_key="rk",
                consumer_tag="c1",
            ),
            header=SimpleNamespace(properties=spec.BasicProperties(message_id="m")),
            body=b"x",
            channel=channel,
        )
    )
    assert (message.delivery_tag, message.consumer_tag, message.message_id) == (
        3,
        "c1",
        "m",
    )
    assert message.message_count is None
    assert message.channel is channel


async def test_aio_pika_constructor_acks_through_an_amqpio_channel() -> None:
    channel = FakeChannel()
    message = IncomingMessage(
        delivered(commands.Basic.Deliver("c", 5, False, "", "q"), {}, b"", channel)
    )
    await message.nack(requeue=False)
    assert channel.calls == [("nack", 5, False, False)]


@pytest.mark.parametrize(
    ("settle", "method", "kwargs"),
    [
        (lambda m: m.ack(multiple=True), "basic_ack", {"multiple": True}),
        (
            lambda m: m.nack(requeue=False),
            "basic_nack",
            {"multiple": False, "requeue": False},
        ),
        (lambda m: m.reject(requeue=True), "basic_reject", {"requeue": True}),
    ],
)
async def test_aio_pika_constructor_acks_a_foreign_channel_through_its_aiormq_methods(
    settle: Any, method: str, kwargs: dict[str, Any]
) -> None:
    """A mocked aiormq channel sees the calls aio-pika would make."""
    from unittest.mock import AsyncMock

    channel = AsyncMock()
    channel.is_closed = False
    message = IncomingMessage(
        delivered(commands.Basic.Deliver("c", 5, False, "", "q"), {}, b"", channel)
    )
    await settle(message)
    getattr(channel, method).assert_awaited_once_with(delivery_tag=5, **kwargs)
    assert message.processed
    with pytest.raises(MessageProcessError):
        await message.ack()


def test_aio_pika_constructor_with_a_closed_foreign_channel() -> None:
    from unittest.mock import AsyncMock

    channel = AsyncMock()
    channel.is_closed = True
    message = IncomingMessage(
        delivered(commands.Basic.Deliver("c", 5, False, "", "q"), {}, b"", channel)
    )
    with pytest.raises(ChannelInvalidStateError):
        _ = message.channel


def test_returned_message_is_processed_and_locked() -> None:
    method = spec.Basic.Return(312, "NO_ROUTE", "ex", "rk")
    message = ReturnedMessage._delivered(
        FakeChannel(), method, spec.BasicProperties(message_id="m"), b"x"
    )
    theirs = aio_pika_incoming(
        commands.Basic.Return(312, "NO_ROUTE", "ex", "rk"),
        {"message_id": "m"},
        b"x",
    )
    assert isinstance(message, IncomingMessage)
    assert message.info() == theirs.info()
    assert message.delivery_tag is None
    assert message.redelivered is None
    assert message.processed
    assert message.locked
    assert message.exchange == "ex"
    assert message.routing_key == "rk"


def test_incoming_attributes() -> None:
    channel = FakeChannel()
    message = deliver(channel, delivery_tag=5, redelivered=True, content_type="a/b")
    assert message.channel is channel
    assert message.consumer_tag == "ctag"
    assert message.delivery_tag == 5
    assert message.redelivered is True
    assert message.exchange == "ex"
    assert message.routing_key == "rk"
    assert message.message_count is None
    assert message.cluster_id == ""  # as aio-pika (pamqp's default)
    assert message.content_type == "a/b"
    assert not message.processed
    assert not message.locked


def test_incoming_cluster_id_from_the_wire_is_kept() -> None:
    assert deliver(cluster_id="c1").cluster_id == "c1"


def test_incoming_headers_are_not_copied() -> None:
    headers = {"a": 1}
    props = spec.BasicProperties(headers=headers)
    message = IncomingMessage._delivered(
        FakeChannel(), spec.Basic.Deliver("c", 1, False, "", "q"), props, b""
    )
    assert message.headers is headers


def test_incoming_without_headers_gets_its_own_dict() -> None:
    first, second = deliver(), deliver()
    assert first.headers == {}
    assert first.headers is not second.headers


def test_incoming_message_accepts_a_memoryview_body() -> None:
    message = IncomingMessage._delivered(
        FakeChannel(),
        spec.Basic.Deliver("c", 1, False, "", "q"),
        spec.BasicProperties(),
        memoryview(b"abc"),  # type: ignore[arg-type]
    )
    assert message.body == b"abc"
    assert type(message.body) is bytes


async def test_ack_sends_once_then_message_process_error() -> None:
    channel = FakeChannel()
    message = deliver(channel, delivery_tag=3)
    await message.ack()
    assert channel.calls == [("ack", 3, False)]
    assert message.processed
    assert message.locked
    with pytest.raises(MessageProcessError) as info:
        await message.ack()
    assert info.value.args == ("Message already processed", message)
    with pytest.raises(MessageProcessError):
        await message.reject()
    with pytest.raises(MessageProcessError):
        await message.nack()
    assert channel.calls == [("ack", 3, False)]


async def test_ack_multiple() -> None:
    channel = FakeChannel()
    await deliver(channel, delivery_tag=8).ack(multiple=True)
    assert channel.calls == [("ack", 8, True)]


async def test_reject_and_nack_arguments() -> None:
    channel = FakeChannel()
    await deliver(channel, delivery_tag=1).reject()
    await deliver(channel, delivery_tag=2).reject(requeue=True)
    await deliver(channel, delivery_tag=3).nack()
    await deliver(channel, delivery_tag=4).nack(multiple=True, requeue=False)
    assert channel.calls == [
        ("reject", 1, False),
        ("reject", 2, True),
        ("nack", 3, False, True),
        ("nack", 4, True, False),
    ]


async def test_no_ack_message_raises_type_error() -> None:
    channel = FakeChannel()
    message = deliver(channel, no_ack=True)
    assert message.processed
    assert message.locked
    with pytest.raises(TypeError):
        await message.ack()
    with pytest.raises(TypeError):
        await message.reject()
    with pytest.raises(TypeError):
        await message.nack()
    assert channel.calls == []


async def test_closed_channel_raises_channel_invalid_state() -> None:
    channel = FakeChannel(is_closed=True)
    message = deliver(channel)
    with pytest.raises(ChannelInvalidStateError):
        message.channel  # noqa: B018
    with pytest.raises(ChannelInvalidStateError):
        await message.ack()
    assert not message.processed  # a failed ack leaves the message unprocessed


async def test_incoming_message_is_locked_after_ack() -> None:
    message = deliver()
    message.content_type = "changed"  # allowed before processing
    await message.ack()
    with pytest.raises(ValueError, match="locked"):
        message.content_type = "again"
    with pytest.raises(ValueError, match="locked"):
        message.delivery_tag = 1


# -- process() ---------------------------------------------------------------------------


async def test_process_acks_on_success() -> None:
    channel = FakeChannel()
    message = deliver(channel, delivery_tag=4)
    async with message.process() as entered:
        assert entered is message
    assert channel.calls == [("ack", 4, False)]


@pytest.mark.parametrize("requeue", [False, True])
async def test_process_rejects_on_exception(requeue: bool) -> None:
    channel = FakeChannel()
    message = deliver(channel, delivery_tag=4)
    with pytest.raises(ZeroDivisionError):
        async with message.process(requeue=requeue):
            raise ZeroDivisionError
    assert channel.calls == [("reject", 4, requeue)]


@pytest.mark.parametrize(("redelivered", "requeued"), [(True, False), (False, True)])
async def test_process_reject_on_redelivered(redelivered: bool, requeued: bool) -> None:
    channel = FakeChannel()
    message = deliver(channel, delivery_tag=4, redelivered=redelivered)
    with pytest.raises(RuntimeError):
        async with message.process(requeue=True, reject_on_redelivered=True):
            raise RuntimeError
    assert channel.calls == [("reject", 4, requeued)]


async def test_process_reject_on_redelivered_still_acks_on_success() -> None:
    channel = FakeChannel()
    message = deliver(channel, delivery_tag=4, redelivered=True)
    async with message.process(reject_on_redelivered=True):
        pass
    assert channel.calls == [("ack", 4, False)]


async def test_process_without_ignore_processed_fails_after_a_manual_ack() -> None:
    message = deliver()
    with pytest.raises(MessageProcessError):
        async with message.process():
            await message.ack()


@pytest.mark.parametrize("fail", [False, True])
async def test_process_ignore_processed(fail: bool) -> None:
    channel = FakeChannel()
    message = deliver(channel, delivery_tag=4)

    async def body() -> None:
        async with message.process(ignore_processed=True):
            await message.nack(requeue=False)
            if fail:
                raise KeyError("x")

    if fail:
        with pytest.raises(KeyError):
            await body()
    else:
        await body()
    assert channel.calls == [("nack", 4, False, False)]


async def test_process_on_closed_channel_keeps_the_original_exception(
    caplog: pytest.LogCaptureFixture,
) -> None:
    channel = FakeChannel()
    message = deliver(channel)
    with (
        caplog.at_level(logging.WARNING, logger="amqpio"),
        pytest.raises(LookupError),
    ):
        async with message.process():
            channel.is_closed = True
            raise LookupError
    assert "channel is closed" in caplog.text
    assert channel.calls == []


async def test_process_of_a_no_ack_message_raises_type_error() -> None:
    # as in aio-pika: process() is for messages that need acknowledging
    message = deliver(no_ack=True)
    with pytest.raises(TypeError):
        async with message.process():
            pass
    async with message.process(ignore_processed=True):
        pass


async def test_sync_process_acks_on_the_next_loop_iteration() -> None:
    # aio-pika 6.x's `with message.process():` (the seed's tutorials 4-6 use it)
    channel = FakeChannel()
    message = deliver(channel, delivery_tag=4)
    with message.process() as entered:
        assert entered is message
    assert channel.calls == []
    await asyncio.sleep(0)
    assert channel.calls == [("ack", 4, False)]
    assert message.processed


async def test_sync_process_rejects_on_exception() -> None:
    channel = FakeChannel()
    message = deliver(channel, delivery_tag=4)
    with pytest.raises(ZeroDivisionError), message.process(requeue=True):
        raise ZeroDivisionError
    await asyncio.sleep(0)
    assert channel.calls == [("reject", 4, True)]


async def test_sync_process_logs_a_failed_settlement(
    caplog: pytest.LogCaptureFixture,
) -> None:
    message = deliver(no_ack=True)  # ack() raises TypeError
    with message.process():
        pass
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert "Could not settle a message" in caplog.text


def test_module_logger() -> None:
    assert log.name == "amqpio.message"


def test_a_posix_timestamp_reads_as_a_datetime_and_publishes_its_seconds() -> None:
    message = Message(b"", timestamp=1_700_000_000.75)
    expected = datetime.fromtimestamp(1_700_000_000.75, tz=timezone.utc)
    assert message.timestamp == expected
    assert message.info()["timestamp"] == expected
    wire = spec.BasicProperties.decode(message._encode_properties("m"))
    assert wire.timestamp == datetime.fromtimestamp(1_700_000_000, tz=timezone.utc)
    assert message.properties.timestamp == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1_700_000_000, datetime.fromtimestamp(1_700_000_000, tz=timezone.utc)),
        (True, datetime.fromtimestamp(1, tz=timezone.utc)),
        (None, None),
    ],
)
def test_timestamp_assigned_later_reads_as_a_datetime(
    value: Any, expected: datetime | None
) -> None:
    message = Message(b"")
    message.timestamp = value
    assert message.timestamp == expected


def test_timestamp_relative_and_invalid_values() -> None:
    before = datetime.now(tz=timezone.utc)
    message = Message(b"", timestamp=timedelta(seconds=60))
    assert message.timestamp is not None
    assert message.timestamp - before >= timedelta(seconds=59)
    with pytest.raises(ValueError):
        Message(b"", timestamp="yesterday")  # type: ignore[arg-type]
    with pytest.raises((ValueError, OverflowError, OSError)):
        Message(b"", timestamp=float("nan"))
    locked = Message(b"")
    locked.lock()
    with pytest.raises(ValueError, match="locked"):
        locked.timestamp = 1
