"""Broker closes, lost connections, protocol violations and heartbeat timeouts:
every pending future fails with a typed amqpio exception, nothing is left."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from amqpio import exceptions as exc
from amqpio import spec
from amqpio.sansio.errors import RemoteProtocolError
from amqpio.spec import BasicProperties

from .fakes import (
    Harness,
    RecordingChannelListener,
    assert_nothing_pending,
    failure,
    pending_futures,
    settle,
)

B = spec.Basic
C = spec.Connection
Q = spec.Queue

# The exception each reply code must surface as, written out per code (not
# asked of amqpio): the spec's reply codes (amqp0-9-1.xml <constant>s) with
# aio-pika's names for them. aio-pika raises aiormq's exceptions, mapped by
# ``aiormq.connection.EXCEPTION_MAPPING`` and ``aiormq.channel.EXCEPTION_MAPPING``;
# a code missing from those gives the plain ConnectionClosed / ChannelClosed. ``test_expected_classes_are_aio_pikas`` checks these lists
# against aiormq itself.
CONNECTION_CLOSE_KINDS: list[tuple[int, type[exc.ConnectionClosed]]] = [
    (320, exc.ConnectionClosed),  # connection-forced
    (402, exc.ConnectionClosed),  # invalid-path
    (501, exc.ConnectionFrameError),  # frame-error
    (502, exc.ConnectionSyntaxError),  # syntax-error
    (503, exc.ConnectionCommandInvalid),  # command-invalid
    (504, exc.ConnectionChannelError),  # channel-error
    (505, exc.ConnectionUnexpectedFrame),  # unexpected-frame
    (506, exc.ConnectionResourceError),  # resource-error
    (530, exc.ConnectionNotAllowed),  # not-allowed
    (540, exc.ConnectionNotImplemented),  # not-implemented
    (541, exc.ConnectionInternalError),  # internal-error
]
CHANNEL_CLOSE_KINDS: list[tuple[int, type[exc.ChannelClosed]]] = [
    (403, exc.ChannelAccessRefused),  # access-refused
    (404, exc.ChannelNotFoundEntity),  # not-found
    (405, exc.ChannelLockedResource),  # resource-locked
    (406, exc.ChannelPreconditionFailed),  # precondition-failed
    (311, exc.ChannelClosed),  # content-too-large
    (312, exc.ChannelClosed),  # no-route
    (313, exc.ChannelClosed),  # no-consumers
]


def test_expected_classes_are_aio_pikas() -> None:
    """The lists above name the classes aio-pika (aiormq) raises per code."""
    from aiormq import channel as aiormq_channel
    from aiormq import connection as aiormq_connection
    from aiormq import exceptions as aiormq_exceptions

    for code, kind in CONNECTION_CLOSE_KINDS:
        theirs = aiormq_connection.EXCEPTION_MAPPING.get(
            code, aiormq_exceptions.ConnectionClosed
        )
        assert kind.__name__ == theirs.__name__, code
    for code, kind in CHANNEL_CLOSE_KINDS:
        theirs = aiormq_channel.EXCEPTION_MAPPING.get(
            code, aiormq_exceptions.ChannelClosed
        )
        assert kind.__name__ == theirs.__name__, code
    # every code aiormq maps is covered
    assert set(aiormq_connection.EXCEPTION_MAPPING) <= {
        c for c, _ in CONNECTION_CLOSE_KINDS
    }
    assert set(aiormq_channel.EXCEPTION_MAPPING) <= {c for c, _ in CHANNEL_CLOSE_KINDS}


def no_reply(channel: int, method: spec.Method) -> list[bytes]:
    return []


@dataclass
class Load:
    """Futures of every kind, all pending."""

    channel: int
    other: int
    requests: list[asyncio.Future[Any]]
    confirms: list[asyncio.Future[Any]]
    opening: asyncio.Future[None]
    closing: asyncio.Future[None]
    secret: asyncio.Future[None]
    drain: asyncio.Task[None]

    def futures(self) -> list[asyncio.Future[Any]]:
        return [
            *self.requests,
            *self.confirms,
            self.opening,
            self.closing,
            self.secret,
            self.drain,
        ]


async def load(h: Harness) -> Load:
    p = h.protocol
    channel = await h.confirming_channel()
    other = await h.open_channel()
    to_close = await h.open_channel()
    confirms = []
    for body in (b"1", b"2"):
        future = p.publish(channel, "", "q", body, BasicProperties(), False, False)
        assert future is not None
        confirms.append(future)
    requests = [
        p.request(channel, Q.Declare("outstanding")),
        p.request(channel, Q.Declare("held")),
        p.request(other, B.Get("q")),
    ]
    h.broker.handlers[spec.Channel.Close] = no_reply
    closing = p.close_channel(to_close)
    h.broker.handlers[spec.Channel.Open] = no_reply
    _, opening = p.open_channel(RecordingChannelListener())
    h.broker.handlers[C.UpdateSecret] = no_reply
    secret = p.update_secret(b"new", "rotate")
    h.transport.pause()
    drain = asyncio.create_task(p.drain())
    await settle()
    loaded = Load(channel, other, requests, confirms, opening, closing, secret, drain)
    assert not any(f.done() for f in loaded.futures())
    assert len(pending_futures(p)) == len(loaded.futures())
    return loaded


async def check_all_failed(
    h: Harness, loaded: Load, kind: type[BaseException]
) -> BaseException:
    await settle()
    error = h.protocol.closed.result()
    assert type(error) is kind
    for future in [*loaded.requests, *loaded.confirms, loaded.opening, loaded.secret]:
        assert failure(future) is error
    # a channel being closed is closed once the connection is gone
    assert loaded.closing.result() is None
    # drain waiters are released and see the error
    assert failure(loaded.drain) is error
    assert_nothing_pending(h.protocol)
    assert h.transport.lost
    assert not h.protocol.is_open
    assert h.listener.calls == [("closed", error)]
    for listener in h.channels.values():
        assert listener.calls[-1] == ("closed", error)
    # later commands raise the same error
    with pytest.raises(kind):
        h.protocol.check_open()
    with pytest.raises(kind):
        h.protocol.request(loaded.channel, Q.Declare("late"))
    with pytest.raises(kind):
        h.protocol.publish(
            loaded.channel, "", "q", b"", BasicProperties(), False, False
        )
    with pytest.raises(kind):
        h.protocol.update_secret(b"x", "y")
    # writing was paused when the connection ended: drain must not wait forever
    await asyncio.wait_for(h.protocol.drain(), 1)
    await h.protocol.close()
    assert h.protocol.close_channel(loaded.other).result() is None
    assert h.clock.armed() == []
    return error


async def test_broker_connection_close_fails_everything(harness: Harness) -> None:
    loaded = await load(harness)
    text = "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'"
    harness.broker.send(harness.broker.method(0, C.Close(320, text, 0, 0)))
    error = await check_all_failed(harness, loaded, exc.ConnectionClosed)
    assert isinstance(error, exc.ConnectionClosed)
    assert (error.reply_code, error.reply_text) == (320, text)
    assert harness.broker.methods()[-1] == (0, C.CloseOk())
    assert not harness.transport.aborted  # CloseOk goes out, then a clean close


@pytest.mark.parametrize(("code", "kind"), CONNECTION_CLOSE_KINDS)
async def test_broker_connection_close_is_mapped_by_code(
    harness: Harness, code: int, kind: type[exc.ConnectionClosed]
) -> None:
    loaded = await load(harness)
    harness.broker.send(harness.broker.method(0, C.Close(code, "why", 60, 40)))
    error = await check_all_failed(harness, loaded, kind)
    assert isinstance(error, exc.ConnectionClosed)
    assert (error.reply_code, error.reply_text) == (code, "why")
    assert (error.class_id, error.method_id) == (60, 40)


async def test_connection_lost_fails_everything(harness: Harness) -> None:
    loaded = await load(harness)
    reset = ConnectionResetError(104, "Connection reset by peer")
    harness.transport.lose(reset)
    error = await check_all_failed(harness, loaded, exc.AMQPConnectionError)
    assert error.__cause__ is reset


async def test_eof_fails_everything(harness: Harness) -> None:
    loaded = await load(harness)
    assert harness.protocol.eof_received() is None
    harness.transport.lose()
    await check_all_failed(harness, loaded, exc.AMQPConnectionError)


@pytest.mark.parametrize(
    ("frames", "code", "kind"),
    [
        # a heartbeat on a channel other than 0: FRAME_ERROR
        (lambda b: [b.heartbeat(1)], 501, exc.ConnectionFrameError),
        # a frame on a channel that is not open: CHANNEL_ERROR
        (
            lambda b: [b.method(9, Q.DeclareOk("q", 0, 0))],
            504,
            exc.ConnectionChannelError,
        ),
        # a reply nobody asked for: COMMAND_INVALID
        (lambda b: [b.method(1, B.QosOk())], 503, exc.ConnectionCommandInvalid),
        # a frame with a bad end octet: FRAME_ERROR
        (
            lambda b: [b.method(1, Q.DeclareOk("q", 0, 0))[:-1] + b"\x00"],
            501,
            exc.ConnectionFrameError,
        ),
    ],
    ids=["heartbeat-on-channel", "unknown-channel", "unexpected-reply", "frame-end"],
)
async def test_remote_protocol_error_fails_everything(
    harness: Harness,
    frames: Callable[[Any], list[bytes]],
    code: int,
    kind: type[exc.ConnectionClosed],
) -> None:
    loaded = await load(harness)
    # a delivery before the violation, in the same bytes, is still handed over
    deliver = harness.broker.content(loaded.other, B.Deliver("t", 1), b"first")
    harness.broker.send(deliver, *frames(harness.broker))
    assert harness.channels[loaded.other].kinds()[0] == "delivery"
    # the violation is reported under its reply code's class, e.g. 501 ->
    # ConnectionFrameError, with the core's RemoteProtocolError chained
    error = await check_all_failed(harness, loaded, kind)
    assert isinstance(error, exc.ConnectionClosed)
    assert error.reply_code == code
    assert isinstance(error.__cause__, RemoteProtocolError)
    close = harness.broker.methods()[-1]
    assert isinstance(close[1], C.Close)
    assert close[1].reply_code == code


async def test_heartbeat_timeout_fails_everything(harness: Harness) -> None:
    loaded = await load(harness)
    # heartbeats go out every 30 s; nothing comes back for 120 s
    harness.clock.advance(119)
    assert not loaded.secret.done()
    harness.clock.advance(1)
    error = await check_all_failed(harness, loaded, exc.AMQPConnectionError)
    assert error.args == ("no traffic from the broker for two heartbeat intervals",)
    assert harness.transport.aborted


@pytest.mark.parametrize(("code", "kind"), CHANNEL_CLOSE_KINDS)
async def test_broker_channel_close_fails_that_channel(
    harness: Harness, code: int, kind: type[exc.ChannelClosed]
) -> None:
    p = harness.protocol
    loaded = await load(harness)
    harness.transport.resume()
    await loaded.drain
    text = "NOT_FOUND - no queue 'outstanding' in vhost '/'"
    harness.broker.send(
        harness.broker.method(loaded.channel, spec.Channel.Close(code, text, 50, 10))
    )
    errors = {id(failure(f)) for f in [*loaded.requests[:2], *loaded.confirms]}
    assert len(errors) == 1
    error = failure(loaded.requests[0])
    assert type(error) is kind
    assert isinstance(error, exc.ChannelClosed)
    assert (error.reply_code, error.reply_text) == (code, text)
    assert (error.class_id, error.method_id) == (50, 10)
    assert harness.channels[loaded.channel].calls[-1] == ("closed", error)
    await settle()
    assert harness.broker.methods()[-1] == (loaded.channel, spec.Channel.CloseOk())
    # the connection and the other channels go on
    assert p.is_open
    assert harness.listener.calls == []
    assert harness.channels[loaded.other].kinds() == []
    assert not loaded.requests[2].done()
    assert not loaded.opening.done() and not loaded.secret.done()
    harness.broker.send(
        harness.broker.method(loaded.other, B.GetEmpty()),
        harness.broker.method(0, C.UpdateSecretOk()),
    )
    assert loaded.requests[2].result() == B.GetEmpty()
    assert loaded.secret.result() is None
    # nothing of the closed channel is kept; it cannot be used any more
    assert loaded.channel not in p._listeners
    assert loaded.channel not in p._confirms
    assert loaded.channel not in p._reply_channel.values()
    with pytest.raises(exc.ChannelInvalidStateError):
        p.publish(loaded.channel, "", "q", b"", BasicProperties(), False, False)
    with pytest.raises(exc.ChannelInvalidStateError):
        p.request(loaded.channel, Q.Declare("q"))
    # what is still pending fails when the connection ends
    harness.transport.lose()
    await settle()
    assert type(failure(loaded.opening)) is exc.AMQPConnectionError
    assert loaded.closing.result() is None
    assert_nothing_pending(p)


async def test_broker_channel_close_while_opening(harness: Harness) -> None:
    harness.broker.handlers[spec.Channel.Open] = lambda ch, m: [
        harness.broker.method(ch, spec.Channel.Close(530, "NOT_ALLOWED - no", 20, 10))
    ]
    listener = RecordingChannelListener()
    _, opening = harness.protocol.open_channel(listener)
    with pytest.raises(exc.ChannelClosed) as info:
        await opening
    # 530 is no channel code in aio-pika's mapping: the plain ChannelClosed
    assert type(info.value) is exc.ChannelClosed
    assert info.value.reply_code == 530
    assert listener.calls == [("closed", info.value)]
    assert_nothing_pending(harness.protocol)


@pytest.mark.parametrize("how", ["lost", "heartbeat-timeout"])
async def test_pending_close_completes_when_the_connection_ends(
    harness: Harness, how: str
) -> None:
    channel = await harness.open_channel()
    harness.broker.handlers[C.Close] = no_reply
    closing = harness.protocol.close()
    await settle()
    assert not closing.done()
    if how == "lost":
        harness.transport.lose()
    else:
        harness.clock.advance(120)
    await settle()
    assert closing.result() is None
    assert type(harness.protocol.closed.result()) is exc.AMQPConnectionError
    assert harness.channels[channel].kinds() == ["closed"]
    assert_nothing_pending(harness.protocol)


async def test_closed_client_close_crossing_a_broker_close(harness: Harness) -> None:
    harness.broker.handlers[C.Close] = lambda ch, m: [
        harness.broker.method(0, C.Close(320, "CONNECTION_FORCED", 0, 0))
    ]
    await harness.protocol.close()
    error = harness.protocol.closed.result()
    assert isinstance(error, exc.ConnectionClosed)
    assert error.reply_code == 320
    await settle()
    assert harness.transport.lost
    assert_nothing_pending(harness.protocol)


async def test_broker_close_crossing_a_client_channel_close(harness: Harness) -> None:
    channel = await harness.open_channel()
    request = harness.protocol.request(channel, Q.Declare("q", passive=True))
    harness.broker.handlers[spec.Channel.Close] = lambda ch, m: [
        harness.broker.method(ch, spec.Channel.Close(404, "NOT_FOUND - q", 50, 10)),
        harness.broker.method(ch, spec.Channel.CloseOk()),
    ]
    await harness.protocol.close_channel(channel)
    # the broker's reason wins: it says why the request failed
    error = failure(request)
    assert type(error) is exc.ChannelNotFoundEntity
    assert harness.channels[channel].calls == [("closed", error)]
    assert harness.protocol.is_open
    assert_nothing_pending_on(harness, channel)


def assert_nothing_pending_on(harness: Harness, channel: int) -> None:
    p = harness.protocol
    assert channel not in p._listeners
    assert channel not in p._confirms
    assert channel not in p._channel_opens
    assert channel not in p._channel_closes
    assert channel not in p._reply_channel.values()


async def test_raising_the_error_again_does_not_grow_its_traceback(
    harness: Harness,
) -> None:
    harness.transport.lose()
    error = harness.protocol.closed.result()
    for _ in range(50):
        with pytest.raises(exc.AMQPConnectionError):
            harness.protocol.check_open()
        with pytest.raises(exc.AMQPConnectionError):
            harness.protocol.publish(1, "", "q", b"", BasicProperties(), False, False)
    depth, tb = 0, error.__traceback__
    while tb is not None:
        depth, tb = depth + 1, tb.tb_next
    assert depth < 5
