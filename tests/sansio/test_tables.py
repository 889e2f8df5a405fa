"""Exhaustive state-machine tests whose expectations come from the spec.

Every (state, input) pair of the three machines of ``sansio/states.py`` is
driven through a real ``Connection`` (h2's test_state_machines), and what
happens is compared with an expected ``Outcome``: the next state, the error
(none, ``LocalProtocolError``, or ``RemoteProtocolError`` with its reply code),
the frames the client writes in answer (read back by the pamqp-based fake
broker) and the events it emits.

The expectations are not read from the tables under test. They are derived
here from ``amqp0-9-1.xml``, parsed with ``xml.etree``: the class grammars
(``open-connection = C:protocol-header S:START C:START-OK ...``), the
``<response>`` lists, the ``<chassis>`` of each method, ``content="1"``, the
reply-code constants and the ``stability`` rules of the two Close methods; and
from the rules of the spec's prose (sections 4.2.2 protocol header, 4.2.6
content framing, 4.2.7 heartbeats) written out below. Where neither says what
a client must do, the row is marked as amqpio's own decision.
"""

from __future__ import annotations

import enum
import itertools
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from amqpio import spec
from amqpio.sansio import (
    ChannelClosed,
    ChannelFlowChanged,
    ChannelOpened,
    ConnectionBlocked,
    ConnectionClosed,
    ConnectionLost,
    ConnectionOpened,
    ConnectionUnblocked,
    ConsumerCancelled,
    DeliveryReceived,
    Event,
    HandshakeFailed,
    HeartbeatTimedOut,
    LocalProtocolError,
    MessageReturned,
    RemoteProtocolError,
    SecretUpdated,
)
from amqpio.sansio.states import (
    CONNECTION_METHOD_INPUTS,
    ChannelInput,
    ChannelState,
    ConnectionInput,
    ConnectionState,
    ContentInput,
    ContentState,
)
from helpers.broker import FRAME_BODY, FRAME_HEADER, FakeBroker, Heartbeat, Pair

m = FakeBroker.method
K = spec.Connection
CS = ConnectionState
CI = ConnectionInput

# -- the spec, read from the XML -------------------------------------------------

XML = ET.parse(Path(__file__).parents[2] / "amqp0-9-1.xml").getroot()


def xml_class(name: str) -> ET.Element:
    found = XML.find(f"class[@name='{name}']")
    assert found is not None, name
    return found


def xml_method(class_name: str, method: str) -> ET.Element:
    found = xml_class(class_name).find(f"method[@name='{method}']")
    assert found is not None, (class_name, method)
    return found


def reply_code(name: str) -> int:
    """The value of an XML constant, e.g. ``command-invalid`` -> 503."""
    found = XML.find(f"constant[@name='{name}']")
    assert found is not None, name
    return int(found.attrib["value"])


def rule_text(class_name: str, method: str, rule: str) -> str:
    doc = xml_method(class_name, method).find(f"rule[@name='{rule}']/doc")
    assert doc is not None and doc.text is not None
    return " ".join(doc.text.split())


def grammar(class_name: str) -> dict[str, list[list[str]]]:
    """The class grammar: rule name -> alternatives, each a list of tokens."""
    doc = xml_class(class_name).find("doc[@type='grammar']")
    assert doc is not None and doc.text is not None
    rules: dict[str, list[list[str]]] = {}
    name = ""
    for line in doc.text.splitlines():
        if not line.strip():
            continue
        if "=" in line:
            name, _, line = line.partition("=")
            name = name.strip()
            rules[name] = [[]]
        for index, part in enumerate(line.split("/")):
            if index:
                rules[name].append([])
            rules[name][-1].extend(part.split())
    return rules


def method_name(class_name: str, token: str) -> str:
    """A grammar token or XML name as amqpio's ``NAME``.

    ``method_name("connection", "START-OK") == "Connection.StartOk"``.
    """
    words = token.lower().split("-")
    return f"{class_name.capitalize()}.{''.join(w.capitalize() for w in words)}"


def answers(class_name: str) -> dict[str, tuple[str, ...]]:
    """``S:X C:Y ...`` in any grammar alternative: what the client answers to X."""
    out: dict[str, tuple[str, ...]] = {}
    for alternatives in grammar(class_name).values():
        for tokens in alternatives:
            for i, token in enumerate(tokens):
                if token.startswith("S:"):
                    follow = itertools.takewhile(
                        lambda t: t.startswith("C:"), tokens[i + 1 :]
                    )
                    out[token[2:].lower()] = tuple(
                        method_name(class_name, t[2:]) for t in follow
                    )
    return out


@dataclass(frozen=True)
class Step:
    """One server method of the handshake and the client's answer to it."""

    server: str
    answer: tuple[str, ...]
    repeatable: bool


def handshake_steps() -> list[Step]:
    """open-connection, expanded: ``*challenge`` is a repeatable step."""
    rules = grammar("connection")
    [sequence] = rules["open-connection"]
    said = answers("connection")
    steps = []
    for token in sequence:
        if token.startswith("*"):
            [[server, *_]] = rules[token[1:]]
            steps.append(Step(server[2:].lower(), said[server[2:].lower()], True))
        elif token.startswith("S:"):
            steps.append(Step(token[2:].lower(), said[token[2:].lower()], False))
    return steps


#: amqpio's names for the handshake states, in the order of open-connection:
#: each waits for the next non-repeatable server method of the grammar (and
#: any repeatable ones before it).
HANDSHAKE_STATES = [CS.START_WAIT, CS.TUNE_WAIT, CS.OPEN_WAIT]


def handshake_waits() -> dict[ConnectionState, list[Step]]:
    waits: dict[ConnectionState, list[Step]] = {}
    states = iter(HANDSHAKE_STATES)
    current: list[Step] = []
    for step in handshake_steps():
        current.append(step)
        if not step.repeatable:
            waits[next(states)] = current
            current = []
    assert not current and len(waits) == len(HANDSHAKE_STATES)
    return waits


WAITS = handshake_waits()
CONNECTION_ANSWERS = answers("connection")
CHANNEL_ANSWERS = answers("channel")

# The reply codes, with the words of their XML <doc> that fit the case.
FRAME_ERROR = reply_code("frame-error")  # "a malformed frame"
COMMAND_INVALID = reply_code("command-invalid")  # "an invalid sequence of frames"
CHANNEL_ERROR = reply_code("channel-error")  # "not been correctly opened"
UNEXPECTED_FRAME = reply_code("unexpected-frame")  # "a content header and body"

#: What each peer input is on the wire: the XML method of class connection.
SERVER_METHODS: dict[ConnectionInput, str] = {
    CI.START: "start",
    CI.START_REJECTED: "start",
    CI.SECURE: "secure",
    CI.TUNE: "tune",
    CI.OPEN_OK: "open-ok",
    CI.CLOSE_RECEIVED: "close",
    CI.CLOSE_OK: "close-ok",
    CI.BLOCKED: "blocked",
    CI.UNBLOCKED: "unblocked",
    CI.UPDATE_SECRET_OK: "update-secret-ok",
}
COMMANDS = frozenset((CI.INITIATE, CI.CLOSE, CI.CHANNEL_COMMAND, CI.UPDATE_SECRET))


def test_the_rules_cited_here_are_in_the_xml() -> None:
    for class_name in ("connection", "channel"):
        assert rule_text(class_name, "close", "stability") == (
            "After sending this method, any received methods except Close and "
            "Close-OK MUST be discarded. The response to receiving a Close after "
            "sending Close must be to send Close-Ok."
        )
    assert "without sending any further data" in rule_text(
        "connection", "start", "client-support"
    )
    assert [s.server for s in handshake_steps()] == [
        "start",
        "secure",
        "tune",
        "open-ok",
    ]
    # every answer the grammar gives is one of the XML's <response>s
    for class_name, said in (
        ("connection", CONNECTION_ANSWERS),
        ("channel", CHANNEL_ANSWERS),
    ):
        for server, answer in said.items():
            responses = [
                method_name(class_name, r.attrib["name"])
                for r in xml_method(class_name, server).findall("response")
            ]
            # an answer is a <response>; a method the grammar leaves
            # unanswered (open-ok, close-ok, flow-ok) has none
            assert (answer[0] in responses) if answer else not responses, server


def receives(class_name: str) -> set[str]:
    """Methods of a class the XML says the client implements (receives)."""
    return {
        method_name(class_name, method.attrib["name"])
        for method in xml_class(class_name).findall("method")
        if method.find("chassis[@name='client']") is not None
    }


def test_channel_0_inputs_are_the_connection_methods_a_client_receives() -> None:
    # The XML gives update-secret's chassis the wrong way round: the client
    # sends Connection.UpdateSecret (RabbitMQ's extension) and receives the Ok.
    expected = receives("connection") - {"Connection.UpdateSecret"}
    expected |= {"Connection.UpdateSecretOk"}
    assert {cls.NAME for cls in CONNECTION_METHOD_INPUTS} == expected
    # and the inputs this test drives are those methods
    for cls, input_ in CONNECTION_METHOD_INPUTS.items():
        assert method_name("connection", SERVER_METHODS[input_]) == cls.NAME


# -- outcomes ----------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    state: enum.Enum
    #: ``"protocol-header"`` or amqpio method names, in order.
    sends: tuple[str, ...] = ()
    events: tuple[type[Event], ...] = ()
    error: type[Exception] | None = None
    #: The reply code of a RemoteProtocolError (and of the Close it queues).
    code: int | None = None


def violation(code: int, state: enum.Enum = CS.CLOSING) -> Outcome:
    """A remote protocol error: the client closes the connection with
    ``code`` (a hard error: every reply code above 500 is class hard-error)."""
    return Outcome(state, ("Connection.Close",), (), RemoteProtocolError, code)


def refused(state: enum.Enum) -> Outcome:
    """A command that is illegal now: nothing changes, nothing is sent."""
    return Outcome(state, error=LocalProtocolError)


def method_names(items: Sequence[object]) -> tuple[str, ...]:
    out = []
    for item in items:
        if isinstance(item, tuple):
            out.append(item[1].NAME)
        else:
            assert isinstance(item, Heartbeat), item  # no publishes here
    return tuple(out)


def observe(
    pair: Pair, act: Callable[[], Sequence[Event]], state: Callable[[], enum.Enum]
) -> Outcome:
    had_header = pair.broker.header is not None
    events: Sequence[Event] = ()
    error: type[Exception] | None = None
    code = None
    try:
        events = act()
    except LocalProtocolError:
        error = LocalProtocolError
    except RemoteProtocolError as exc:
        error, code, events = RemoteProtocolError, exc.reply_code, exc.events
    sent = pair.sent()
    sends = method_names(sent)
    if not had_header and pair.broker.header is not None:
        sends = ("protocol-header", *sends)
    closes = [item[1] for item in sent if isinstance(item, tuple)]
    if code is not None and closes:
        # the Close that goes out carries the same reply code
        assert isinstance(closes[-1], K.Close) and closes[-1].reply_code == code
    elif not closes:
        code = None  # the outcome's code is the one a Close carries on the wire
    return Outcome(state(), sends, tuple(type(e) for e in events), error, code)


# -- the connection machine -----------------------------------------------------------


def expected_connection(state: ConnectionState, input_: ConnectionInput) -> Outcome:
    # Commands. Channels, Close and UpdateSecret belong to an open connection
    # (connection = open-connection *use-connection close-connection).
    if input_ in COMMANDS:
        if input_ is CI.INITIATE and state is CS.INITIAL:
            # open-connection = C:protocol-header S:START ...
            return Outcome(CS.START_WAIT, ("protocol-header",))
        if input_ is CI.CLOSE and state in (CS.OPEN, CS.OPEN_WAIT):
            # close-connection = C:CLOSE S:CLOSE-OK. amqpio's decision, not the
            # grammar's: Close is also allowed once Connection.Open is out.
            return Outcome(CS.CLOSING, ("Connection.Close",))
        if input_ is CI.CHANNEL_COMMAND and state is CS.OPEN:
            return Outcome(CS.OPEN, ("Channel.Open",))  # open-channel = C:OPEN ...
        if input_ is CI.UPDATE_SECRET and state is CS.OPEN:
            return Outcome(CS.OPEN, ("Connection.UpdateSecret",))
        return refused(state)

    # The transport and the clock.
    if input_ is CI.EOF:
        # the socket is gone: nothing can be sent, the connection is over
        if state is CS.CLOSED:
            return Outcome(CS.CLOSED)
        return Outcome(CS.CLOSED, events=(ConnectionLost,))
    if input_ is CI.HEARTBEAT_TIMEOUT:
        # 4.2.7: heartbeats are negotiated by Tune/Tune-Ok; a peer silent for
        # two intervals is dead, "close the connection without following the
        # Connection.Close/Close-Ok handshaking". Before Tune no timer runs.
        if state in (CS.OPEN_WAIT, CS.OPEN, CS.CLOSING):
            return Outcome(CS.CLOSED, events=(HeartbeatTimedOut,))
        return Outcome(state)

    # Peer input.
    if state is CS.INITIAL:
        # 4.2.2: the client speaks first, with the protocol header; a server
        # byte before it is a fault, and no frame may precede the header, so
        # the client can only drop the connection.
        return Outcome(CS.CLOSED, error=RemoteProtocolError)
    if state is CS.CLOSED:
        return Outcome(CS.CLOSED)  # the connection is over: ignored
    if state is CS.CLOSING:
        # Connection.Close rule "stability": after sending Close, discard all
        # but Close and Close-Ok; answer a Close with Close-Ok.
        if input_ is CI.CLOSE_RECEIVED:
            return Outcome(
                CS.CLOSED, CONNECTION_ANSWERS["close"], events=(ConnectionClosed,)
            )
        if input_ is CI.CLOSE_OK:
            return Outcome(CS.CLOSED, events=(ConnectionClosed,))
        return Outcome(CS.CLOSING)

    if input_ is CI.VIOLATION:  # eight zero octets: frame type 0
        return violation(FRAME_ERROR)
    if input_ is CI.PROTOCOL_HEADER:
        if state is CS.START_WAIT:
            # 4.2.2: a server that refuses the protocol version sends its own
            # header and closes the socket: the handshake failed.
            return Outcome(CS.CLOSED, events=(HandshakeFailed,))
        return violation(FRAME_ERROR)  # not a frame
    if input_ is CI.START_REJECTED:
        if state is CS.START_WAIT:
            # Connection.Start rule "client-support": a client that cannot
            # handle what Start offers "MUST close the socket connection
            # without sending any further data".
            return Outcome(CS.CLOSED, events=(HandshakeFailed,))
        return violation(COMMAND_INVALID)
    if input_ is CI.HEARTBEAT:
        # 4.2.7: a heartbeat needs no answer. amqpio's decision: accepted from
        # the moment the protocol header is out.
        return Outcome(state)
    if input_ is CI.CHANNEL_FRAME:
        # use-connection = *channel: channels exist once the connection is open
        if state is CS.OPEN:
            return Outcome(CS.OPEN, events=(ChannelOpened,))
        return violation(CHANNEL_ERROR)
    if input_ is CI.CLOSE_RECEIVED:
        # close-connection = S:CLOSE C:CLOSE-OK; RabbitMQ closes this way
        # during the handshake too (403 after Start-Ok, 530 after Open).
        return Outcome(
            CS.CLOSED, CONNECTION_ANSWERS["close"], events=(ConnectionClosed,)
        )

    server = SERVER_METHODS[input_]
    if state in WAITS:
        steps = WAITS[state]
        for step in steps:
            if step.server == server:
                if step.repeatable:
                    return Outcome(state, step.answer)
                index = HANDSHAKE_STATES.index(state) + 1
                if index == len(HANDSHAKE_STATES):
                    return Outcome(CS.OPEN, step.answer, (ConnectionOpened,))
                return Outcome(HANDSHAKE_STATES[index], step.answer)
        # a connection method the handshake does not expect now
        return violation(COMMAND_INVALID)

    assert state is CS.OPEN
    # Asynchronous methods the client receives (no synchronous="1", no
    # <response>): accepted, never answered.
    asynchronous = {
        CI.BLOCKED: ConnectionBlocked,
        CI.UNBLOCKED: ConnectionUnblocked,
    }
    if input_ in asynchronous:
        method = xml_method("connection", server)
        assert method.get("synchronous") is None and method.find("response") is None
        return Outcome(CS.OPEN, events=(asynchronous[input_],))
    if input_ is CI.UPDATE_SECRET_OK:
        # the <response> of update-secret, which the test sent before
        return Outcome(CS.OPEN, events=(SecretUpdated,))
    # Start, Secure, Tune, OpenOk, CloseOk: handshake or close methods out of
    # their sequence
    return violation(COMMAND_INVALID)


def build_connection(state: ConnectionState) -> Pair:
    pair = Pair()
    steps: list[Callable[[], object]] = [
        pair.conn.initiate,
        lambda: pair.recv(m(0, K.Start())),
        lambda: pair.recv(m(0, K.Tune(0, 0, 60))),
        lambda: pair.recv(m(0, K.OpenOk())),
    ]
    order = [CS.INITIAL, *HANDSHAKE_STATES, CS.OPEN]
    if state is CS.CLOSING:
        run(steps)
        pair.conn.close()
    elif state is CS.CLOSED:
        run(steps)
        pair.recv(m(0, K.Close(320, "bye")))
    else:
        run(steps[: order.index(state)])
    assert pair.conn.state is state
    pair.sent()
    return pair


def run(steps: Sequence[Callable[[], object]]) -> None:
    for step in steps:
        step()


def prepare_connection(pair: Pair, input_: ConnectionInput) -> None:
    """What an input needs first, when the connection is open: a reply needs
    its request, a channel frame an open channel."""
    if pair.conn.state is CS.OPEN:
        if input_ is CI.UPDATE_SECRET_OK:
            pair.conn.update_secret(b"s", "r")
        elif input_ is CI.CHANNEL_FRAME:
            pair.conn.open_channel(1)
    pair.sent()


def drive_connection(pair: Pair, input_: ConnectionInput) -> Sequence[Event]:
    conn = pair.conn
    if input_ is CI.INITIATE:
        conn.initiate()
    elif input_ is CI.CLOSE:
        conn.close()
    elif input_ is CI.CHANNEL_COMMAND:
        conn.open_channel()
    elif input_ is CI.UPDATE_SECRET:
        conn.update_secret(b"s", "r")
    elif input_ is CI.PROTOCOL_HEADER:
        return pair.recv(b"AMQP\x00\x00\x09\x01")
    elif input_ is CI.START:
        return pair.recv(m(0, K.Start()))
    elif input_ is CI.START_REJECTED:
        return pair.recv(m(0, K.Start(mechanisms=b"CRAM-MD5")))
    elif input_ is CI.SECURE:
        return pair.recv(m(0, K.Secure(b"")))
    elif input_ is CI.TUNE:
        return pair.recv(m(0, K.Tune(0, 0, 60)))
    elif input_ is CI.OPEN_OK:
        return pair.recv(m(0, K.OpenOk()))
    elif input_ is CI.CLOSE_RECEIVED:
        return pair.recv(m(0, K.Close(320, "x")))
    elif input_ is CI.CLOSE_OK:
        return pair.recv(m(0, K.CloseOk()))
    elif input_ is CI.BLOCKED:
        return pair.recv(m(0, K.Blocked("r")))
    elif input_ is CI.UNBLOCKED:
        return pair.recv(m(0, K.Unblocked()))
    elif input_ is CI.UPDATE_SECRET_OK:
        return pair.recv(m(0, K.UpdateSecretOk()))
    elif input_ is CI.HEARTBEAT:
        return pair.recv(FakeBroker.heartbeat())
    elif input_ is CI.CHANNEL_FRAME:
        return pair.recv(m(1, spec.Channel.OpenOk()))
    elif input_ is CI.VIOLATION:
        return pair.recv(b"\x00" * 8)
    elif input_ is CI.EOF:
        return conn.receive_eof()
    elif input_ is CI.HEARTBEAT_TIMEOUT:
        return conn.handle_timer(1e9)
    else:  # pragma: no cover
        raise AssertionError(input_)
    return []


def connection_cases() -> list[object]:
    cases: list[object] = []
    for state, input_ in itertools.product(ConnectionState, ConnectionInput):
        cases.append(pytest.param(state, input_))
    return cases


@pytest.mark.parametrize(("state", "input_"), connection_cases())
def test_connection_machine(state: ConnectionState, input_: ConnectionInput) -> None:
    pair = build_connection(state)
    prepare_connection(pair, input_)
    outcome = observe(
        pair, lambda: drive_connection(pair, input_), lambda: pair.conn.state
    )
    assert outcome == expected_connection(state, input_)


# -- the channel machine ---------------------------------------------------------------

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


def content_frames(size: int, body: bytes, channel: int = 1) -> bytes:
    """A content header of class basic (XML index 60) announcing ``size``
    body octets, without properties (spec 4.2.6.1), then ``body`` if any."""
    header = FakeBroker.frame(
        FRAME_HEADER,
        channel,
        (60).to_bytes(2, "big") + bytes(2) + size.to_bytes(8, "big") + bytes(2),
    )
    return header + (FakeBroker.frame(FRAME_BODY, channel, body) if body else b"")


def drive_channel(pair: Pair, input_: ChannelInput) -> Sequence[Event]:
    conn = pair.conn
    if input_ is H.OPEN:
        conn.open_channel(1)
    elif input_ is H.CLOSE:
        conn.close_channel(1)
    elif input_ is H.SEND:
        conn.send_method(1, spec.Basic.Qos())
    elif input_ is H.OPEN_OK:
        return pair.recv(m(1, spec.Channel.OpenOk()))
    elif input_ is H.CLOSE_RECEIVED:
        return pair.recv(m(1, spec.Channel.Close(406, "x")))
    elif input_ is H.CLOSE_OK:
        return pair.recv(m(1, spec.Channel.CloseOk()))
    elif input_ is H.FLOW:
        return pair.recv(m(1, spec.Channel.Flow(False)))
    elif input_ is H.METHOD:
        # a server-sent cancel (RabbitMQ's consumer_cancel_notify), no-wait off
        return pair.recv(m(1, spec.Basic.Cancel("tag")))
    elif input_ is H.CONTENT:
        return pair.recv(content_frames(1, b"x"))
    else:  # pragma: no cover
        raise AssertionError(input_)
    return []


def xml_answer(class_name: str, method: str) -> tuple[str, ...]:
    """The XML <response> of a synchronous method (the client's answer)."""
    return tuple(
        method_name(class_name, r.attrib["name"])
        for r in xml_method(class_name, method).findall("response")
    )


def expected_channel(state: ChannelState, input_: ChannelInput) -> Outcome:
    # Commands: open-channel = C:OPEN S:OPEN-OK; close-channel = C:CLOSE
    # S:CLOSE-OK; use-channel (Basic.Qos here) only on an open channel.
    if input_ is H.OPEN:
        if state is CH.CLOSED:
            return Outcome(CH.OPENING, ("Channel.Open",))
        return refused(state)
    if input_ is H.CLOSE:
        # amqpio's decision: a channel may be closed before its OpenOk
        if state in (CH.OPENING, CH.OPEN):
            return Outcome(CH.CLOSING, ("Channel.Close",))
        return refused(state)
    if input_ is H.SEND:
        if state is CH.OPEN:
            return Outcome(CH.OPEN, ("Basic.Qos",))
        return refused(state)

    # Peer input. A connection exception ends every channel on it, so after a
    # violation the channel is gone too.
    if state is CH.CLOSING:
        # Channel.Close rule "stability": discard all but Close and Close-Ok,
        # answer a Close with Close-Ok (our own Close still awaits its Ok).
        if input_ is H.CLOSE_RECEIVED:
            return Outcome(CH.CLOSING, CHANNEL_ANSWERS["close"])
        if input_ is H.CLOSE_OK:
            return Outcome(CH.CLOSED, events=(ChannelClosed,))
        return Outcome(CH.CLOSING)
    if state is CH.OPENING:
        if input_ is H.OPEN_OK:
            return Outcome(CH.OPEN, events=(ChannelOpened,))
        if input_ is H.CLOSE_RECEIVED:  # close-channel = S:CLOSE C:CLOSE-OK
            return Outcome(CH.CLOSED, CHANNEL_ANSWERS["close"], (ChannelClosed,))
        # channel-error: "work with a channel that had not been correctly opened"
        return violation(CHANNEL_ERROR, CH.CLOSED)
    if state is CH.CLOSED:
        return violation(CHANNEL_ERROR, CH.CLOSED)
    assert state is CH.OPEN
    if input_ is H.CLOSE_RECEIVED:
        return Outcome(CH.CLOSED, CHANNEL_ANSWERS["close"], (ChannelClosed,))
    if input_ is H.FLOW:  # use-channel = S:FLOW C:FLOW-OK
        return Outcome(CH.OPEN, CHANNEL_ANSWERS["flow"], (ChannelFlowChanged,))
    if input_ is H.METHOD:
        # Basic.Cancel is synchronous; without no-wait its <response> is due
        return Outcome(CH.OPEN, xml_answer("basic", "cancel"), (ConsumerCancelled,))
    if input_ is H.CONTENT:
        # 4.2.6: content (header, bodies) only follows a content method
        return violation(UNEXPECTED_FRAME, CH.CLOSED)
    # OpenOk or CloseOk answering nothing: an invalid sequence
    return violation(COMMAND_INVALID, CH.CLOSED)


@pytest.mark.parametrize(
    ("state", "input_"), list(itertools.product(ChannelState, ChannelInput))
)
def test_channel_machine(state: ChannelState, input_: ChannelInput) -> None:
    pair = build_channel(state)
    outcome = observe(
        pair, lambda: drive_channel(pair, input_), lambda: channel_state(pair)
    )
    assert outcome == expected_channel(state, input_)
    # the connection is closing exactly when the peer broke the spec
    expected_conn = CS.CLOSING if outcome.error is RemoteProtocolError else CS.OPEN
    assert pair.conn.state is expected_conn


# -- the content machine -------------------------------------------------------------

T = ContentInput
TS = ContentState


def content_methods() -> list[str]:
    """XML: methods with content="1" that the client receives."""
    return sorted(
        method_name("basic", method.attrib["name"])
        for method in xml_class("basic").findall("method")
        if method.get("content") == "1"
        and method.find("chassis[@name='client']") is not None
    )


#: A server frame of each content method; GetOk needs a Basic.Get sent first.
CONTENT_METHODS: dict[str, spec.Method] = {
    "Basic.Deliver": spec.Basic.Deliver("t", 2),
    "Basic.GetOk": spec.Basic.GetOk(2, False, "ex", "rk", 0),
    "Basic.Return": spec.Basic.Return(312, "NO_ROUTE", "ex", "rk"),
}
#: The event that hands over a complete content, by method.
COMPLETED: dict[str, type[Event]] = {
    "Basic.Deliver": DeliveryReceived,
    "Basic.GetOk": DeliveryReceived,
    "Basic.Return": MessageReturned,
}


def test_content_methods_are_the_xml_ones() -> None:
    assert content_methods() == sorted(CONTENT_METHODS) == sorted(COMPLETED)


#: Every input, named: one per content method, then the other frames. The
#: content under way (from build_content) is a Deliver with a 10-byte body.
CONTENT_INPUTS: dict[str, tuple[ContentInput, bytes]] = {
    **{
        name: (T.CONTENT_METHOD, m(1, method))
        for name, method in CONTENT_METHODS.items()
    },
    # no-wait: ConsumerCancelled, and no answer
    "method": (T.METHOD, m(1, spec.Basic.Cancel("tag", no_wait=True))),
    "header": (T.HEADER, content_frames(10, b"")),
    "header-empty-body": (T.HEADER_LAST, content_frames(0, b"")),
    "body": (T.BODY, FakeBroker.frame(FRAME_BODY, 1, b"x" * 5)),
    "body-last": (T.BODY_LAST, FakeBroker.frame(FRAME_BODY, 1, b"x" * 10)),
}


def build_content(state: ContentState) -> Pair:
    pair = build_channel(CH.OPEN)
    if state is not TS.IDLE:
        pair.recv(m(1, spec.Basic.Deliver("t", 1)))
    if state is TS.BODY_WAIT:
        pair.recv(content_frames(10, b""))
    return pair


def expected_content(state: ContentState, name: str) -> Outcome:
    input_, _ = CONTENT_INPUTS[name]
    # 4.2.6: a content method is followed by one content header frame, then
    # body frames up to the header's body size (none when it is zero); on a
    # channel, content frames may not be mixed with method frames.
    # unexpected-frame (505): "usually in the context of a content header and
    # body".
    if state is TS.IDLE:
        if input_ is T.CONTENT_METHOD:
            return Outcome(TS.HEADER_WAIT)
        if input_ is T.METHOD:
            return Outcome(TS.IDLE, events=(ConsumerCancelled,))
    elif state is TS.HEADER_WAIT:
        if input_ is T.HEADER:
            return Outcome(TS.BODY_WAIT)
        if input_ is T.HEADER_LAST:
            return Outcome(TS.IDLE, events=(DeliveryReceived,))
    elif input_ is T.BODY:
        return Outcome(TS.BODY_WAIT)
    elif input_ is T.BODY_LAST:
        return Outcome(TS.IDLE, events=(DeliveryReceived,))
    return violation(UNEXPECTED_FRAME, state)


@pytest.mark.parametrize(
    ("state", "name"), list(itertools.product(ContentState, CONTENT_INPUTS))
)
def test_content_machine(state: ContentState, name: str) -> None:
    pair = build_content(state)
    if name == "Basic.GetOk":
        pair.conn.send_method(1, spec.Basic.Get("q"))  # GetOk answers a Get
        pair.sent()
    channel = pair.conn.channel(1)
    assert channel is not None
    outcome = observe(
        pair,
        lambda: pair.recv(CONTENT_INPUTS[name][1]),
        lambda: channel.content.machine.state,
    )
    assert outcome == expected_content(state, name)


@pytest.mark.parametrize("name", sorted(CONTENT_METHODS))
def test_each_content_method_completes_with_its_event(name: str) -> None:
    # the whole sequence of 4.2.6 for every content method the XML lists
    for size, body in ((0, b""), (3, b"abc")):
        pair = build_content(TS.IDLE)
        if name == "Basic.GetOk":
            pair.conn.send_method(1, spec.Basic.Get("q"))
            pair.sent()
        events = pair.recv(m(1, CONTENT_METHODS[name]), content_frames(size, body))
        assert [type(e) for e in events] == [COMPLETED[name]]
        assert pair.sent() == []
