"""Channels, requests, confirms and deliveries through the transport."""

from __future__ import annotations

import asyncio
from typing import TypeVar

import pytest

from amqpio import exceptions as exc
from amqpio import spec
from amqpio.sansio import DeliveryReceived, MessageReturned
from amqpio.spec import BasicProperties
from helpers.broker import Splitter

from .fakes import Harness, RecordingChannelListener, connect, settle

B = spec.Basic
Q = spec.Queue
T = TypeVar("T")


def declare_ok(h: Harness) -> None:
    """Let the broker answer every Queue.Declare."""

    def reply(channel: int, method: spec.Method) -> list[bytes]:
        assert isinstance(method, Q.Declare)
        return [h.broker.method(channel, Q.DeclareOk(method.queue, 7, channel))]

    h.broker.handlers[Q.Declare] = reply


async def test_open_channel_resolves_on_open_ok(harness: Harness) -> None:
    listener = RecordingChannelListener()
    one, first = harness.protocol.open_channel(listener)
    two, second = harness.protocol.open_channel(listener, 5)
    assert (one, two) == (1, 5)
    assert not first.done() and not second.done()
    await first
    await second
    assert harness.broker.methods()[-2:] == [
        (1, spec.Channel.Open()),
        (5, spec.Channel.Open()),
    ]


async def test_open_channel_before_the_handshake_is_refused() -> None:
    h = connect()
    with pytest.raises(exc.ChannelInvalidStateError):
        h.protocol.open_channel(RecordingChannelListener())
    await h.protocol.opened
    h.transport.lose()


async def test_replies_resolve_their_own_request(harness: Harness) -> None:
    one = await harness.open_channel()
    two = await harness.open_channel()
    a = harness.protocol.request(one, Q.Declare("a"))
    b = harness.protocol.request(two, Q.Declare("b"))
    c = harness.protocol.request(one, Q.Declare("c"))  # held behind "a"
    await settle()
    # the broker answers channel 2 first
    harness.broker.send(harness.broker.method(two, Q.DeclareOk("b", 2, 0)))
    assert b.result() == Q.DeclareOk("b", 2, 0)
    assert not a.done()
    harness.broker.send(harness.broker.method(one, Q.DeclareOk("a", 1, 0)))
    assert a.result() == Q.DeclareOk("a", 1, 0)
    assert not c.done()
    await settle()  # "c" leaves only now
    assert harness.broker.methods()[-1] == (one, Q.Declare("c"))
    harness.broker.send(harness.broker.method(one, Q.DeclareOk("c", 3, 0)))
    assert c.result() == Q.DeclareOk("c", 3, 0)
    assert harness.protocol._replies == {}
    assert harness.protocol._reply_channel == {}


async def test_request_with_scripted_broker(
    harness: Harness, splitter: Splitter
) -> None:
    harness.broker.split = splitter
    declare_ok(harness)
    channel = await harness.open_channel()
    replies = await asyncio.gather(
        *(harness.protocol.request(channel, Q.Declare(name)) for name in "xyz")
    )
    assert replies == [Q.DeclareOk(name, 7, channel) for name in "xyz"]


async def test_no_wait_request_resolves_at_once(harness: Harness) -> None:
    channel = await harness.open_channel()
    future = harness.protocol.request(channel, Q.Declare("q", no_wait=True))
    assert future.result() is None
    await settle()
    assert harness.broker.methods()[-1] == (channel, Q.Declare("q", no_wait=True))


async def test_request_on_unknown_channel_is_invalid_state(harness: Harness) -> None:
    with pytest.raises(exc.ChannelInvalidStateError):
        harness.protocol.request(9, Q.Declare("q"))
    with pytest.raises(exc.ChannelInvalidStateError):
        harness.protocol.send(9, B.Recover())
    with pytest.raises(exc.ChannelInvalidStateError):
        harness.protocol.ack(9, 1, False)


async def test_publish_without_confirms_returns_none(harness: Harness) -> None:
    channel = await harness.open_channel()
    props = BasicProperties(content_type="text/plain")
    assert (
        harness.protocol.publish(channel, "ex", "rk", b"hello", props, False, False)
        is None
    )
    await settle()
    [published] = harness.broker.published()
    assert published.channel == channel
    assert published.method == B.Publish("ex", "rk", False, False)
    assert published.properties == props
    assert published.body == b"hello"


async def test_publish_confirms_resolve_with_ack_and_nack(
    harness: Harness, splitter: Splitter
) -> None:
    harness.broker.split = splitter
    channel = await harness.confirming_channel()
    futures = [
        harness.protocol.publish(
            channel, "", "q", b"%d" % i, BasicProperties(), False, False
        )
        for i in range(3)
    ]
    await settle()
    assert len(harness.broker.published()) == 3
    harness.broker.send(
        harness.broker.method(channel, B.Nack(2, False, False)),
        harness.broker.method(channel, B.Ack(1, False)),
    )
    first, second, third = futures
    assert first is not None and second is not None and third is not None
    assert first.result() == B.Ack(1, False)
    assert second.result() == B.Nack(2, False, False)
    assert not third.done()
    harness.broker.send(harness.broker.method(channel, B.Ack(3, False)))
    assert third.result() == B.Ack(3, False)
    assert harness.protocol._confirms == {channel: {}}


async def test_multiple_acks_resolve_every_covered_publish(harness: Harness) -> None:
    channel = await harness.confirming_channel()
    futures = []
    for i in range(6):
        future = harness.protocol.publish(
            channel, "", "q", b"%d" % i, BasicProperties(), False, False
        )
        assert future is not None
        futures.append(future)
    await settle()
    harness.broker.send(harness.broker.method(channel, B.Ack(3, True)))
    assert [f.result() for f in futures[:3]] == [B.Ack(t, False) for t in (1, 2, 3)]
    assert not any(f.done() for f in futures[3:])
    harness.broker.send(harness.broker.method(channel, B.Nack(5, True, False)))
    assert [f.result() for f in futures[3:5]] == [
        B.Nack(t, False, False) for t in (4, 5)
    ]
    harness.broker.send(harness.broker.method(channel, B.Ack(0, True)))
    assert futures[5].result() == B.Ack(6, False)
    assert harness.protocol._confirms == {channel: {}}


async def test_deliveries_go_to_their_channel_listener(
    harness: Harness, splitter: Splitter
) -> None:
    harness.broker.split = splitter
    harness.broker.handlers[B.Consume] = lambda ch, m: [
        harness.broker.method(ch, B.ConsumeOk(f"ctag-{ch}"))
    ]
    one = await harness.open_channel()
    two = await harness.open_channel()
    for channel in (one, two):
        ok = await harness.protocol.request(channel, B.Consume("q"))
        assert ok == B.ConsumeOk(f"ctag-{channel}")
    props = BasicProperties(message_id="m1")
    deliver = B.Deliver("ctag-2", 1, False, "ex", "rk")
    returned = B.Return(312, "NO_ROUTE", "ex", "nowhere")
    harness.broker.send(
        harness.broker.content(two, deliver, b"to two", props),
        harness.broker.content(one, B.Deliver("ctag-1", 1), b"to one"),
        harness.broker.content(two, returned, b"back"),
        harness.broker.method(one, B.Cancel("ctag-1")),
        harness.broker.method(two, spec.Channel.Flow(False)),
        harness.broker.method(0, spec.Connection.Blocked("low on memory")),
        harness.broker.method(0, spec.Connection.Unblocked()),
    )
    assert harness.channels[two].calls == [
        ("delivery", DeliveryReceived(two, deliver, props, b"to two")),
        ("return", MessageReturned(two, returned, BasicProperties(), b"back")),
        ("flow", False),
    ]
    assert harness.channels[one].calls == [
        (
            "delivery",
            DeliveryReceived(one, B.Deliver("ctag-1", 1), BasicProperties(), b"to one"),
        ),
        ("cancelled", "ctag-1"),
    ]
    assert harness.listener.calls == [("blocked", "low on memory"), ("unblocked", None)]
    await settle()
    # the core answered the broker's Cancel and Flow
    assert harness.broker.methods()[-2:] == [
        (one, B.CancelOk("ctag-1")),
        (two, spec.Channel.FlowOk(False)),
    ]


async def test_basic_get_resolves_with_the_delivery_event(
    harness: Harness, splitter: Splitter
) -> None:
    harness.broker.split = splitter
    channel = await harness.open_channel()
    get_ok = B.GetOk(4, False, "", "q", 2)
    props = BasicProperties(correlation_id="c")
    harness.broker.handlers[B.Get] = lambda ch, m: [
        harness.broker.content(ch, get_ok, b"x" * 10000, props)
    ]
    event = await harness.protocol.request(channel, B.Get("q"))
    assert event == DeliveryReceived(channel, get_ok, props, b"x" * 10000, 1)
    assert harness.channels[channel].calls == []
    harness.broker.handlers[B.Get] = lambda ch, m: [
        harness.broker.method(ch, B.GetEmpty())
    ]
    assert await harness.protocol.request(channel, B.Get("q")) == B.GetEmpty()
    assert harness.protocol._replies == {}


async def test_acks_and_rejects_reach_the_broker(harness: Harness) -> None:
    channel = await harness.open_channel()
    harness.protocol.ack(channel, 1, False)
    harness.protocol.nack(channel, 3, True, False)
    harness.protocol.reject(channel, 4, True)
    harness.protocol.send(channel, B.RecoverAsync(True))
    await settle()
    assert harness.broker.methods()[-4:] == [
        (channel, B.Ack(1, False)),
        (channel, B.Nack(3, True, False)),
        (channel, B.Reject(4, True)),
        (channel, B.RecoverAsync(True)),
    ]


async def test_update_secret_resolves_on_update_secret_ok(harness: Harness) -> None:
    first = harness.protocol.update_secret(b"token-1", "refresh")
    second = harness.protocol.update_secret(b"token-2", "refresh")
    await first
    await second
    assert harness.broker.methods()[-2:] == [
        (0, spec.Connection.UpdateSecret(b"token-1", "refresh")),
        (0, spec.Connection.UpdateSecret(b"token-2", "refresh")),
    ]


async def test_close_channel_resolves_and_tells_the_listener(harness: Harness) -> None:
    channel = await harness.open_channel()
    future = harness.protocol.close_channel(channel)
    await future
    [(kind, error)] = harness.channels[channel].calls
    assert kind == "closed"
    assert type(error) is exc.ChannelClosed
    assert harness.protocol._listeners == {}
    assert harness.protocol._confirms == {}
    # closing twice, or an unknown channel, is already done
    assert harness.protocol.close_channel(channel).result() is None
    with pytest.raises(exc.ChannelInvalidStateError):
        harness.protocol.request(channel, Q.Declare("q"))
    # the number is free again
    assert await harness.open_channel() == channel


async def test_client_close(harness: Harness) -> None:
    channel = await harness.open_channel()
    closing = harness.protocol.close(200, "bye")
    assert harness.protocol.close() is closing
    await closing
    await settle()
    assert harness.broker.methods()[-1] == (0, spec.Connection.Close(200, "bye", 0, 0))
    error = harness.protocol.closed.result()
    assert type(error) is exc.ConnectionClosed
    assert harness.channels[channel].kinds() == ["closed"]
    assert harness.listener.calls == [("closed", error)]
    assert harness.transport.lost and not harness.transport.aborted
    assert not harness.protocol.is_open
    with pytest.raises(exc.ConnectionClosed):
        harness.protocol.publish(channel, "", "q", b"", BasicProperties(), False, False)
    # closing a closed connection is done at once
    assert harness.protocol.close().done()


# -- cancellation --------------------------------------------------------------


async def wait(future: asyncio.Future[T]) -> T:
    return await future


async def test_cancelled_request_does_not_break_later_replies(harness: Harness) -> None:
    channel = await harness.open_channel()
    request = harness.protocol.request(channel, Q.Declare("a"))
    task = asyncio.create_task(wait(request))
    await settle()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert request.cancelled()
    later = harness.protocol.request(channel, Q.Declare("b"))
    harness.broker.send(harness.broker.method(channel, Q.DeclareOk("a", 0, 0)))
    assert not later.done()
    await settle()
    harness.broker.send(harness.broker.method(channel, Q.DeclareOk("b", 0, 0)))
    assert later.result() == Q.DeclareOk("b", 0, 0)
    assert harness.protocol._replies == {}


async def test_cancelled_get_does_not_break_later_replies(harness: Harness) -> None:
    channel = await harness.open_channel()
    get = harness.protocol.request(channel, B.Get("q"))
    get.cancel()
    declare = harness.protocol.request(channel, Q.Declare("q"))
    harness.broker.send(
        harness.broker.content(channel, B.GetOk(1, False, "", "q", 0), b"lost")
    )
    await settle()
    harness.broker.send(harness.broker.method(channel, Q.DeclareOk("q", 0, 0)))
    assert declare.result() == Q.DeclareOk("q", 0, 0)
    # the message of the abandoned Get is not handed to the consumer path
    assert harness.channels[channel].calls == []


async def test_cancelled_confirm_does_not_break_later_confirms(
    harness: Harness,
) -> None:
    channel = await harness.confirming_channel()
    first = harness.protocol.publish(
        channel, "", "q", b"1", BasicProperties(), False, False
    )
    second = harness.protocol.publish(
        channel, "", "q", b"2", BasicProperties(), False, False
    )
    assert first is not None and second is not None
    first.cancel()
    await settle()
    harness.broker.send(harness.broker.method(channel, B.Ack(2, True)))
    assert second.result() == B.Ack(2, False)
    assert harness.protocol._confirms == {channel: {}}


async def test_cancelled_channel_open_and_update_secret(harness: Harness) -> None:
    listener = RecordingChannelListener()
    number, opening = harness.protocol.open_channel(listener)
    opening.cancel()
    secret = harness.protocol.update_secret(b"s1", "r")
    secret.cancel()
    later = harness.protocol.update_secret(b"s2", "r")
    await later
    # the channel opened anyway and works
    harness.broker.handlers[Q.Declare] = lambda ch, m: [
        harness.broker.method(ch, Q.DeclareOk("q", 0, 0))
    ]
    assert await harness.protocol.request(number, Q.Declare("q")) == Q.DeclareOk(
        "q", 0, 0
    )
