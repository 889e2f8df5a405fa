"""Every state machine of the core, as data.

Theory of operation
-------------------
Three machines make up a client connection:

* ``ConnectionState``: the handshake (header, Start/StartOk, Secure/SecureOk,
  Tune/TuneOk + Open, OpenOk), the open connection, and the close handshake.
* ``ChannelState``, one per allocated channel number: Open/OpenOk, use, and
  Close/CloseOk in either direction.
* ``ContentState``, one per channel: a content-carrying method (Deliver,
  GetOk, Return) is followed by exactly one header frame and as many body
  frames as the header's body size needs (lapin's channel receiver state).

Each transition table maps ``(state, input) -> (next state, action)``; the
action names the side effect the caller performs (h2's stream machine). A
pair missing from a table is illegal (h2: "anything not in this map is
invalid"): for a command the caller raises ``LocalProtocolError`` and nothing
changes, for peer input it becomes a remote protocol error with the code of
``*_VIOLATION_CODES``; for the connection machine the core then fires
``ConnectionInput.VIOLATION``, which every state defines. ``StateMachine.fire``
is the only place where any of these states changes (h11's "Rule 1").

Inputs are classified by the caller before firing: e.g. Connection.Start with
an unsupported version or no usable SASL mechanism is ``START_REJECTED``, a
content header announcing an empty body is ``HEADER_LAST``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final, Generic, TypeVar

from ..spec.constants import ReplyCode
from ..spec.methods import Channel, Connection, Method

__all__ = [
    "CHANNEL_METHOD_INPUTS",
    "CHANNEL_TRANSITIONS",
    "CHANNEL_VIOLATION_CODES",
    "CONNECTION_METHOD_INPUTS",
    "CONNECTION_TRANSITIONS",
    "CONTENT_TRANSITIONS",
    "CONTENT_VIOLATION_CODE",
    "HEARTBEAT_STATES",
    "LOCAL_CHANNEL_INPUTS",
    "LOCAL_CONNECTION_INPUTS",
    "ChannelAction",
    "ChannelInput",
    "ChannelState",
    "ConnectionAction",
    "ConnectionInput",
    "ConnectionState",
    "ContentAction",
    "ContentInput",
    "ContentState",
    "InvalidTransition",
    "StateMachine",
]


class _Symbol(enum.Enum):
    """Enum whose members hash by identity.

    ``Enum.__hash__`` is Python code (it hashes the name); tables are looked
    up several times per frame, so members use the C-level identity hash,
    which is consistent with Enum's identity equality.
    """

    __hash__ = object.__hash__


class ConnectionState(_Symbol):
    INITIAL = "initial"  # constructed, protocol header not yet queued
    START_WAIT = "start-wait"  # header sent, awaiting Connection.Start
    TUNE_WAIT = "tune-wait"  # StartOk sent, awaiting Secure or Tune
    OPEN_WAIT = "open-wait"  # TuneOk + Open sent, awaiting OpenOk
    OPEN = "open"
    CLOSING = "closing"  # Connection.Close sent, awaiting CloseOk
    CLOSED = "closed"  # terminal


class ConnectionInput(_Symbol):
    # commands
    INITIATE = "initiate"
    CLOSE = "close"
    CHANNEL_COMMAND = "channel-command"  # any channel-level command
    UPDATE_SECRET = "update-secret"
    # peer input on channel 0
    PROTOCOL_HEADER = "protocol-header"  # "AMQP" + version instead of a frame
    START = "start"
    START_REJECTED = "start-rejected"  # bad version or no usable mechanism
    SECURE = "secure"
    TUNE = "tune"
    OPEN_OK = "open-ok"
    CLOSE_RECEIVED = "close-received"
    CLOSE_OK = "close-ok"
    BLOCKED = "blocked"
    UNBLOCKED = "unblocked"
    UPDATE_SECRET_OK = "update-secret-ok"
    HEARTBEAT = "heartbeat"
    CHANNEL_FRAME = "channel-frame"  # any frame on a non-zero channel
    VIOLATION = "violation"  # the peer broke the spec
    # the transport and the clock
    EOF = "eof"
    HEARTBEAT_TIMEOUT = "heartbeat-timeout"


class ConnectionAction(_Symbol):
    NONE = "none"
    DISCARD = "discard"  # spec: after Close, discard all but Close/CloseOk
    SEND_PROTOCOL_HEADER = "send-protocol-header"
    SEND_START_OK = "send-start-ok"
    SEND_SECURE_OK = "send-secure-ok"
    SEND_TUNE_OK_AND_OPEN = "send-tune-ok-and-open"
    EMIT_OPENED = "emit-opened"
    EMIT_HANDSHAKE_FAILED = "emit-handshake-failed"
    SEND_CLOSE = "send-close"
    ANSWER_CLOSE = "answer-close"  # queue CloseOk, emit ConnectionClosed
    EMIT_CLOSED = "emit-closed"
    EMIT_BLOCKED = "emit-blocked"
    EMIT_UNBLOCKED = "emit-unblocked"
    SEND_UPDATE_SECRET = "send-update-secret"
    EMIT_SECRET_UPDATED = "emit-secret-updated"
    DISPATCH_TO_CHANNEL = "dispatch-to-channel"
    EMIT_LOST = "emit-lost"
    EMIT_HEARTBEAT_TIMED_OUT = "emit-heartbeat-timed-out"


class ChannelState(_Symbol):
    CLOSED = "closed"  # number not allocated
    OPENING = "opening"  # Channel.Open sent
    OPEN = "open"
    CLOSING = "closing"  # Channel.Close sent, awaiting CloseOk


class ChannelInput(_Symbol):
    # commands
    OPEN = "open"
    CLOSE = "close"
    SEND = "send"  # publish, ack, any method
    # peer input
    OPEN_OK = "open-ok"
    CLOSE_RECEIVED = "close-received"
    CLOSE_OK = "close-ok"
    FLOW = "flow"
    METHOD = "method"  # any other method
    CONTENT = "content"  # a header or body frame


class ChannelAction(_Symbol):
    NONE = "none"
    DISCARD = "discard"  # spec: after Close, discard all but Close/CloseOk
    SEND_OPEN = "send-open"
    EMIT_OPENED = "emit-opened"
    SEND_CLOSE = "send-close"
    ANSWER_CLOSE = "answer-close"  # queue CloseOk, emit ChannelClosed, free
    ANSWER_CLOSE_WHILE_CLOSING = "answer-close-while-closing"  # CloseOk only
    EMIT_CLOSED = "emit-closed"
    ANSWER_FLOW = "answer-flow"
    DISPATCH = "dispatch"
    ASSEMBLE = "assemble"


class ContentState(_Symbol):
    IDLE = "idle"
    HEADER_WAIT = "header-wait"
    BODY_WAIT = "body-wait"


class ContentInput(_Symbol):
    CONTENT_METHOD = "content-method"  # Deliver, GetOk, Return
    METHOD = "method"
    HEADER = "header"
    HEADER_LAST = "header-last"  # header announcing an empty body
    BODY = "body"
    BODY_LAST = "body-last"  # body frame completing the declared size


class ContentAction(_Symbol):
    NONE = "none"
    START = "start"
    EXPECT_BODY = "expect-body"
    APPEND = "append"
    COMPLETE = "complete"


_C = ConnectionState
_CI = ConnectionInput
_CA = ConnectionAction

CONNECTION_TRANSITIONS: Final[
    Mapping[
        tuple[ConnectionState, ConnectionInput],
        tuple[ConnectionState, ConnectionAction],
    ]
] = {
    (_C.INITIAL, _CI.INITIATE): (_C.START_WAIT, _CA.SEND_PROTOCOL_HEADER),
    # 4.2.2: nothing may precede the protocol header, not even a Close
    (_C.INITIAL, _CI.VIOLATION): (_C.CLOSED, _CA.NONE),
    (_C.INITIAL, _CI.EOF): (_C.CLOSED, _CA.EMIT_LOST),
    # Handshake. Spec, Connection: "The client [...] MUST respond with
    # start-ok [...] tune-ok [...] open".
    (_C.START_WAIT, _CI.START): (_C.TUNE_WAIT, _CA.SEND_START_OK),
    (_C.START_WAIT, _CI.START_REJECTED): (_C.CLOSED, _CA.EMIT_HANDSHAKE_FAILED),
    (_C.START_WAIT, _CI.PROTOCOL_HEADER): (_C.CLOSED, _CA.EMIT_HANDSHAKE_FAILED),
    (_C.START_WAIT, _CI.CLOSE_RECEIVED): (_C.CLOSED, _CA.ANSWER_CLOSE),
    (_C.START_WAIT, _CI.HEARTBEAT): (_C.START_WAIT, _CA.NONE),
    (_C.START_WAIT, _CI.VIOLATION): (_C.CLOSING, _CA.SEND_CLOSE),
    (_C.START_WAIT, _CI.EOF): (_C.CLOSED, _CA.EMIT_LOST),
    (_C.TUNE_WAIT, _CI.SECURE): (_C.TUNE_WAIT, _CA.SEND_SECURE_OK),
    (_C.TUNE_WAIT, _CI.TUNE): (_C.OPEN_WAIT, _CA.SEND_TUNE_OK_AND_OPEN),
    (_C.TUNE_WAIT, _CI.CLOSE_RECEIVED): (_C.CLOSED, _CA.ANSWER_CLOSE),
    (_C.TUNE_WAIT, _CI.HEARTBEAT): (_C.TUNE_WAIT, _CA.NONE),
    (_C.TUNE_WAIT, _CI.VIOLATION): (_C.CLOSING, _CA.SEND_CLOSE),
    (_C.TUNE_WAIT, _CI.EOF): (_C.CLOSED, _CA.EMIT_LOST),
    (_C.OPEN_WAIT, _CI.OPEN_OK): (_C.OPEN, _CA.EMIT_OPENED),
    (_C.OPEN_WAIT, _CI.CLOSE): (_C.CLOSING, _CA.SEND_CLOSE),
    (_C.OPEN_WAIT, _CI.CLOSE_RECEIVED): (_C.CLOSED, _CA.ANSWER_CLOSE),
    (_C.OPEN_WAIT, _CI.HEARTBEAT): (_C.OPEN_WAIT, _CA.NONE),
    (_C.OPEN_WAIT, _CI.VIOLATION): (_C.CLOSING, _CA.SEND_CLOSE),
    (_C.OPEN_WAIT, _CI.EOF): (_C.CLOSED, _CA.EMIT_LOST),
    (_C.OPEN_WAIT, _CI.HEARTBEAT_TIMEOUT): (_C.CLOSED, _CA.EMIT_HEARTBEAT_TIMED_OUT),
    # Open.
    (_C.OPEN, _CI.CHANNEL_COMMAND): (_C.OPEN, _CA.NONE),
    (_C.OPEN, _CI.CHANNEL_FRAME): (_C.OPEN, _CA.DISPATCH_TO_CHANNEL),
    (_C.OPEN, _CI.HEARTBEAT): (_C.OPEN, _CA.NONE),
    (_C.OPEN, _CI.BLOCKED): (_C.OPEN, _CA.EMIT_BLOCKED),
    (_C.OPEN, _CI.UNBLOCKED): (_C.OPEN, _CA.EMIT_UNBLOCKED),
    (_C.OPEN, _CI.UPDATE_SECRET): (_C.OPEN, _CA.SEND_UPDATE_SECRET),
    (_C.OPEN, _CI.UPDATE_SECRET_OK): (_C.OPEN, _CA.EMIT_SECRET_UPDATED),
    (_C.OPEN, _CI.CLOSE): (_C.CLOSING, _CA.SEND_CLOSE),
    (_C.OPEN, _CI.CLOSE_RECEIVED): (_C.CLOSED, _CA.ANSWER_CLOSE),
    (_C.OPEN, _CI.VIOLATION): (_C.CLOSING, _CA.SEND_CLOSE),
    (_C.OPEN, _CI.EOF): (_C.CLOSED, _CA.EMIT_LOST),
    (_C.OPEN, _CI.HEARTBEAT_TIMEOUT): (_C.CLOSED, _CA.EMIT_HEARTBEAT_TIMED_OUT),
    # Closing. Spec, Connection.Close: "After sending this method, any
    # received methods except Close and Close-OK MUST be discarded." A Close
    # crossing ours is answered, which ends the connection for both peers.
    (_C.CLOSING, _CI.CLOSE_OK): (_C.CLOSED, _CA.EMIT_CLOSED),
    (_C.CLOSING, _CI.CLOSE_RECEIVED): (_C.CLOSED, _CA.ANSWER_CLOSE),
    (_C.CLOSING, _CI.EOF): (_C.CLOSED, _CA.EMIT_LOST),
    (_C.CLOSING, _CI.HEARTBEAT_TIMEOUT): (_C.CLOSED, _CA.EMIT_HEARTBEAT_TIMED_OUT),
    **{
        (_C.CLOSING, i): (_C.CLOSING, _CA.DISCARD)
        for i in (
            _CI.PROTOCOL_HEADER,
            _CI.START,
            _CI.START_REJECTED,
            _CI.SECURE,
            _CI.TUNE,
            _CI.OPEN_OK,
            _CI.BLOCKED,
            _CI.UNBLOCKED,
            _CI.UPDATE_SECRET_OK,
            _CI.HEARTBEAT,
            _CI.CHANNEL_FRAME,
            _CI.VIOLATION,
        )
    },
    # Closed: whatever still arrives is ignored.
    (_C.CLOSED, _CI.EOF): (_C.CLOSED, _CA.NONE),
    (_C.CLOSED, _CI.HEARTBEAT_TIMEOUT): (_C.CLOSED, _CA.NONE),
    **{
        (_C.CLOSED, i): (_C.CLOSED, _CA.DISCARD)
        for i in (
            _CI.PROTOCOL_HEADER,
            _CI.START,
            _CI.START_REJECTED,
            _CI.SECURE,
            _CI.TUNE,
            _CI.OPEN_OK,
            _CI.CLOSE_RECEIVED,
            _CI.CLOSE_OK,
            _CI.BLOCKED,
            _CI.UNBLOCKED,
            _CI.UPDATE_SECRET_OK,
            _CI.HEARTBEAT,
            _CI.CHANNEL_FRAME,
            _CI.VIOLATION,
        )
    },
}

#: Inputs that are commands (a missing pair raises LocalProtocolError).
LOCAL_CONNECTION_INPUTS: Final = frozenset(
    (_CI.INITIATE, _CI.CLOSE, _CI.CHANNEL_COMMAND, _CI.UPDATE_SECRET)
)

#: Connection-class methods the broker may send on channel 0. Anything else
#: there is COMMAND_INVALID. The XML's chassis of update-secret is inverted
#: (RabbitMQ's client sends UpdateSecret), so the table is written out here.
CONNECTION_METHOD_INPUTS: Final[Mapping[type[Method], ConnectionInput]] = {
    Connection.Start: _CI.START,
    Connection.Secure: _CI.SECURE,
    Connection.Tune: _CI.TUNE,
    Connection.OpenOk: _CI.OPEN_OK,
    Connection.Close: _CI.CLOSE_RECEIVED,
    Connection.CloseOk: _CI.CLOSE_OK,
    Connection.Blocked: _CI.BLOCKED,
    Connection.Unblocked: _CI.UNBLOCKED,
    Connection.UpdateSecretOk: _CI.UPDATE_SECRET_OK,
}

#: States in which heartbeats are sent and the peer's silence is watched.
HEARTBEAT_STATES: Final = frozenset((_C.OPEN_WAIT, _C.OPEN, _C.CLOSING))

_S = ChannelState
_SI = ChannelInput
_SA = ChannelAction

CHANNEL_TRANSITIONS: Final[
    Mapping[tuple[ChannelState, ChannelInput], tuple[ChannelState, ChannelAction]]
] = {
    (_S.CLOSED, _SI.OPEN): (_S.OPENING, _SA.SEND_OPEN),
    (_S.OPENING, _SI.OPEN_OK): (_S.OPEN, _SA.EMIT_OPENED),
    (_S.OPENING, _SI.CLOSE): (_S.CLOSING, _SA.SEND_CLOSE),
    (_S.OPENING, _SI.CLOSE_RECEIVED): (_S.CLOSED, _SA.ANSWER_CLOSE),
    (_S.OPEN, _SI.SEND): (_S.OPEN, _SA.NONE),
    (_S.OPEN, _SI.CLOSE): (_S.CLOSING, _SA.SEND_CLOSE),
    (_S.OPEN, _SI.CLOSE_RECEIVED): (_S.CLOSED, _SA.ANSWER_CLOSE),
    (_S.OPEN, _SI.FLOW): (_S.OPEN, _SA.ANSWER_FLOW),
    (_S.OPEN, _SI.METHOD): (_S.OPEN, _SA.DISPATCH),
    (_S.OPEN, _SI.CONTENT): (_S.OPEN, _SA.ASSEMBLE),
    # Spec, Channel.Close: "After sending this method, any received methods
    # except Close and Close-OK MUST be discarded."
    (_S.CLOSING, _SI.CLOSE_OK): (_S.CLOSED, _SA.EMIT_CLOSED),
    (_S.CLOSING, _SI.CLOSE_RECEIVED): (_S.CLOSING, _SA.ANSWER_CLOSE_WHILE_CLOSING),
    (_S.CLOSING, _SI.OPEN_OK): (_S.CLOSING, _SA.DISCARD),
    (_S.CLOSING, _SI.FLOW): (_S.CLOSING, _SA.DISCARD),
    (_S.CLOSING, _SI.METHOD): (_S.CLOSING, _SA.DISCARD),
    (_S.CLOSING, _SI.CONTENT): (_S.CLOSING, _SA.DISCARD),
}

LOCAL_CHANNEL_INPUTS: Final = frozenset((_SI.OPEN, _SI.CLOSE, _SI.SEND))

#: Reply code for peer input missing from CHANNEL_TRANSITIONS, by state.
#: Spec: channel-error (504) "attempted to work with a channel that had not
#: been correctly opened"; command-invalid (503) "an invalid sequence of
#: frames".
CHANNEL_VIOLATION_CODES: Final[Mapping[ChannelState, ReplyCode]] = {
    _S.CLOSED: ReplyCode.CHANNEL_ERROR,
    _S.OPENING: ReplyCode.CHANNEL_ERROR,
    _S.OPEN: ReplyCode.COMMAND_INVALID,
    _S.CLOSING: ReplyCode.COMMAND_INVALID,
}

#: Channel-class methods with their own input; every other method is METHOD.
CHANNEL_METHOD_INPUTS: Final[Mapping[type[Method], ChannelInput]] = {
    Channel.OpenOk: _SI.OPEN_OK,
    Channel.Close: _SI.CLOSE_RECEIVED,
    Channel.CloseOk: _SI.CLOSE_OK,
    Channel.Flow: _SI.FLOW,
}

_T = ContentState
_TI = ContentInput
_TA = ContentAction

CONTENT_TRANSITIONS: Final[
    Mapping[tuple[ContentState, ContentInput], tuple[ContentState, ContentAction]]
] = {
    (_T.IDLE, _TI.METHOD): (_T.IDLE, _TA.NONE),
    (_T.IDLE, _TI.CONTENT_METHOD): (_T.HEADER_WAIT, _TA.START),
    (_T.HEADER_WAIT, _TI.HEADER): (_T.BODY_WAIT, _TA.EXPECT_BODY),
    (_T.HEADER_WAIT, _TI.HEADER_LAST): (_T.IDLE, _TA.COMPLETE),
    (_T.BODY_WAIT, _TI.BODY): (_T.BODY_WAIT, _TA.APPEND),
    (_T.BODY_WAIT, _TI.BODY_LAST): (_T.IDLE, _TA.COMPLETE),
}

#: Spec, unexpected-frame (505): "The peer sent a frame that was not
#: expected, usually in the context of a content header and body."
CONTENT_VIOLATION_CODE: Final = ReplyCode.UNEXPECTED_FRAME

S = TypeVar("S", bound=enum.Enum)
I = TypeVar("I", bound=enum.Enum)  # noqa: E741
A = TypeVar("A", bound=enum.Enum)


class InvalidTransition(Exception):
    """``(state, input)`` is not in the table; the state did not change."""

    def __init__(self, state: enum.Enum, input_: enum.Enum) -> None:
        super().__init__(f"{input_.value!r} is not allowed in state {state.value!r}")
        self.state = state
        self.input = input_


class StateMachine(Generic[S, I, A]):
    """A current state and its table; ``fire`` is the only state mutator."""

    __slots__ = ("state", "table")

    def __init__(self, state: S, table: Mapping[tuple[S, I], tuple[S, A]]) -> None:
        self.state = state
        self.table = table

    def fire(self, input_: I) -> A:
        """Make the transition for ``input_`` and return its action."""
        try:
            self.state, action = self.table[(self.state, input_)]
        except KeyError:
            raise InvalidTransition(self.state, input_) from None
        return action

    def allows(self, input_: I) -> bool:
        """True when ``input_`` is legal in the current state."""
        return (self.state, input_) in self.table
