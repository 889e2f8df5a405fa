"""Exhaustive state-table tests (h2's test_state_machines).

Every (state, input) pair of every machine is driven through the real
``Connection``: a pair in the table must make exactly the listed transition;
a missing pair must raise ``LocalProtocolError`` and change nothing (commands)
or raise ``RemoteProtocolError`` and land in the table's VIOLATION state
(peer input).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from amqpio import spec
from amqpio.codec.frames import FRAME_BODY, FRAME_HEADER, encode_frame
from amqpio.sansio import LocalProtocolError, RemoteProtocolError
from amqpio.sansio.states import (
    CHANNEL_TRANSITIONS,
    CHANNEL_VIOLATION_CODES,
    CONNECTION_TRANSITIONS,
    CONTENT_TRANSITIONS,
    CONTENT_VIOLATION_CODE,
    HEARTBEAT_STATES,
    LOCAL_CHANNEL_INPUTS,
    LOCAL_CONNECTION_INPUTS,
    ChannelInput,
    ChannelState,
    ConnectionAction,
    ConnectionInput,
    ConnectionState,
    ContentInput,
    ContentState,
)
from helpers.broker import FakeBroker, Pair

K = spec.Connection
CS = ConnectionState
CI = ConnectionInput
m = FakeBroker.method


def build_connection(state: ConnectionState) -> Pair:
    pair = Pair()
    steps: list[Callable[[], object]] = [
        pair.conn.initiate,
        lambda: pair.recv(m(0, K.Start())),
        lambda: pair.recv(m(0, K.Tune(0, 0, 60))),
        lambda: pair.recv(m(0, K.OpenOk())),
    ]
    order = [CS.INITIAL, CS.START_WAIT, CS.TUNE_WAIT, CS.OPEN_WAIT, CS.OPEN]
    if state is CS.CLOSING:
        build_connection_steps(steps, len(steps))
        pair.conn.close()
    elif state is CS.CLOSED:
        build_connection_steps(steps, len(steps))
        pair.recv(m(0, K.Close(320, "bye")))
    else:
        build_connection_steps(steps, order.index(state))
    assert pair.conn.state is state
    pair.sent()
    return pair


def build_connection_steps(steps: list[Callable[[], object]], count: int) -> None:
    for step in steps[:count]:
        step()


def drive_connection(pair: Pair, input_: ConnectionInput) -> None:
    conn = pair.conn
    open_ = conn.state is CS.OPEN
    if input_ is CI.INITIATE:
        conn.initiate()
    elif input_ is CI.CLOSE:
        conn.close()
    elif input_ is CI.CHANNEL_COMMAND:
        conn.open_channel()
    elif input_ is CI.UPDATE_SECRET:
        conn.update_secret(b"s", "r")
    elif input_ is CI.PROTOCOL_HEADER:
        pair.recv(b"AMQP\x00\x00\x09\x01")
    elif input_ is CI.START:
        pair.recv(m(0, K.Start()))
    elif input_ is CI.START_REJECTED:
        pair.recv(m(0, K.Start(mechanisms=b"CRAM-MD5")))
    elif input_ is CI.SECURE:
        pair.recv(m(0, K.Secure(b"")))
    elif input_ is CI.TUNE:
        pair.recv(m(0, K.Tune(0, 0, 60)))
    elif input_ is CI.OPEN_OK:
        pair.recv(m(0, K.OpenOk()))
    elif input_ is CI.CLOSE_RECEIVED:
        pair.recv(m(0, K.Close(320, "x")))
    elif input_ is CI.CLOSE_OK:
        pair.recv(m(0, K.CloseOk()))
    elif input_ is CI.BLOCKED:
        pair.recv(m(0, K.Blocked("r")))
    elif input_ is CI.UNBLOCKED:
        pair.recv(m(0, K.Unblocked()))
    elif input_ is CI.UPDATE_SECRET_OK:
        if open_:
            conn.update_secret(b"s", "r")
        pair.recv(m(0, K.UpdateSecretOk()))
    elif input_ is CI.HEARTBEAT:
        pair.recv(FakeBroker.heartbeat())
    elif input_ is CI.CHANNEL_FRAME:
        if open_:
            conn.open_channel(1)
        pair.recv(m(1, spec.Channel.OpenOk()))
    elif input_ is CI.VIOLATION:
        pair.recv(b"\x00" * 8)
    elif input_ is CI.EOF:
        conn.receive_eof()
    elif input_ is CI.HEARTBEAT_TIMEOUT:
        conn.handle_timer(1e9)
    else:  # pragma: no cover
        raise AssertionError(input_)


@pytest.mark.parametrize(
    ("state", "input_"), list(itertools.product(ConnectionState, ConnectionInput))
)
def test_connection_table(state: ConnectionState, input_: ConnectionInput) -> None:
    pair = build_connection(state)
    key = (state, input_)
    if input_ is CI.HEARTBEAT_TIMEOUT and state not in HEARTBEAT_STATES:
        # no timer runs here: handle_timer is a no-op
        drive_connection(pair, input_)
        assert pair.conn.state is state
        return
    if key in CONNECTION_TRANSITIONS:
        target, action = CONNECTION_TRANSITIONS[key]
        if input_ is CI.VIOLATION and action is ConnectionAction.SEND_CLOSE:
            with pytest.raises(RemoteProtocolError):
                drive_connection(pair, input_)
        else:
            drive_connection(pair, input_)
        assert pair.conn.state is target
    elif input_ in LOCAL_CONNECTION_INPUTS:
        with pytest.raises(LocalProtocolError):
            drive_connection(pair, input_)
        assert pair.conn.state is state
        assert pair.sent() == []
    else:
        target, action = CONNECTION_TRANSITIONS[(state, CI.VIOLATION)]
        assert action is ConnectionAction.SEND_CLOSE
        with pytest.raises(RemoteProtocolError):
            drive_connection(pair, input_)
        assert pair.conn.state is target


def test_every_connection_state_defines_violation_and_eof() -> None:
    for state in ConnectionState:
        assert (state, CI.VIOLATION) in CONNECTION_TRANSITIONS or state is CS.CLOSED
        assert (state, CI.EOF) in CONNECTION_TRANSITIONS
    for state in HEARTBEAT_STATES:
        assert (state, CI.HEARTBEAT_TIMEOUT) in CONNECTION_TRANSITIONS


# -- channels -----------------------------------------------------------------


def header(size: int) -> bytes:
    payload = b"\x00\x3c\x00\x00" + size.to_bytes(8, "big") + b"\x00\x00"
    return encode_frame(FRAME_HEADER, 1, payload)


H = ChannelInput
CH = ChannelState


def build_channel(state: ChannelState) -> Pair:
    pair = Pair()
    pair.handshake()
    if state is not CH.CLOSED:
        pair.conn.open_channel(1)
        if state is not CH.OPENING:
            pair.recv(m(1, spec.Channel.OpenOk()))
        if state is CH.CLOSING:
            pair.conn.close_channel(1)
    pair.sent()
    return pair


def channel_state(pair: Pair) -> ChannelState:
    channel = pair.conn.channel(1)
    return CH.CLOSED if channel is None else channel.state


def drive_channel(pair: Pair, input_: ChannelInput) -> None:
    conn = pair.conn
    if input_ is H.OPEN:
        conn.open_channel(1)
    elif input_ is H.CLOSE:
        conn.close_channel(1)
    elif input_ is H.SEND:
        conn.send_method(1, spec.Basic.Qos())
    elif input_ is H.OPEN_OK:
        pair.recv(m(1, spec.Channel.OpenOk()))
    elif input_ is H.CLOSE_RECEIVED:
        pair.recv(m(1, spec.Channel.Close(406, "x")))
    elif input_ is H.CLOSE_OK:
        pair.recv(m(1, spec.Channel.CloseOk()))
    elif input_ is H.FLOW:
        pair.recv(m(1, spec.Channel.Flow(True)))
    elif input_ is H.METHOD:
        pair.recv(m(1, spec.Basic.Cancel("tag")))
    elif input_ is H.CONTENT:
        pair.recv(header(1), encode_frame(FRAME_BODY, 1, b"x"))
    else:  # pragma: no cover
        raise AssertionError(input_)


@pytest.mark.parametrize(
    ("state", "input_"), list(itertools.product(ChannelState, ChannelInput))
)
def test_channel_table(state: ChannelState, input_: ChannelInput) -> None:
    pair = build_channel(state)
    key = (state, input_)
    if key in CHANNEL_TRANSITIONS:
        target, _ = CHANNEL_TRANSITIONS[key]
        if input_ is H.CONTENT and state is CH.OPEN:
            # content frames reach the content machine, which wants a method
            with pytest.raises(RemoteProtocolError) as info:
                drive_channel(pair, input_)
            assert info.value.reply_code == CONTENT_VIOLATION_CODE
            return
        drive_channel(pair, input_)
        assert channel_state(pair) is target
    elif input_ in LOCAL_CHANNEL_INPUTS:
        with pytest.raises(LocalProtocolError):
            drive_channel(pair, input_)
        assert channel_state(pair) is state
        assert pair.sent() == []
    else:
        with pytest.raises(RemoteProtocolError) as info:
            drive_channel(pair, input_)
        assert info.value.reply_code == CHANNEL_VIOLATION_CODES[state]
        assert pair.conn.state is CS.CLOSING


# -- content ------------------------------------------------------------------

T = ContentInput
TS = ContentState


def build_content(state: ContentState) -> Pair:
    pair = build_channel(CH.OPEN)
    if state is not TS.IDLE:
        pair.recv(m(1, spec.Basic.Deliver("t", 1)))
    if state is TS.BODY_WAIT:
        pair.recv(header(10))
    return pair


CONTENT_INPUTS: dict[ContentInput, bytes] = {
    T.CONTENT_METHOD: m(1, spec.Basic.Deliver("t", 2)),
    T.METHOD: m(1, spec.Basic.Cancel("tag", no_wait=True)),
    T.HEADER: header(10),
    T.HEADER_LAST: header(0),
    T.BODY: encode_frame(FRAME_BODY, 1, b"x" * 5),
    T.BODY_LAST: encode_frame(FRAME_BODY, 1, b"x" * 10),
}


@pytest.mark.parametrize(
    ("state", "input_"), list(itertools.product(ContentState, ContentInput))
)
def test_content_table(state: ContentState, input_: ContentInput) -> None:
    pair = build_content(state)
    channel = pair.conn.channel(1)
    assert channel is not None
    key = (state, input_)
    if key in CONTENT_TRANSITIONS:
        pair.recv(CONTENT_INPUTS[input_])
        assert channel.content.machine.state is CONTENT_TRANSITIONS[key][0]
    else:
        with pytest.raises(RemoteProtocolError) as info:
            pair.recv(CONTENT_INPUTS[input_])
        assert info.value.reply_code == CONTENT_VIOLATION_CODE
