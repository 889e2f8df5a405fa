"""The sans-IO AMQP 0-9-1 client connection.

Theory of operation
-------------------
``Connection`` is a pure state machine: the driver feeds it bytes
(``receive_data(data, now)``), end of stream (``receive_eof()``) and timer
expiries (``handle_timer(now)``); each returns the events that resulted.
Commands (``open_channel``, ``send_method``, ``publish``, ``ack``, ``close``
...) check the state tables, change state and queue bytes. The driver writes
``data_to_send()`` to the transport and re-arms one timer at
``next_deadline()``. The core never reads a clock, logs or calls back.

Inbound frames are parsed by the codec's ``FrameReader`` (which enforces the
negotiated ``frame_max`` on each header). Channel 0 frames drive the
connection machine of ``states.py``; other frames go to their
``ChannelCore`` (``channel.py``), whose content assembler (``content.py``)
turns Deliver/GetOk/Return + header + body frames into one event.

Errors. A command that is illegal now raises ``LocalProtocolError`` and
changes nothing; a bad argument raises ``ValueError``. Broker bytes that
violate the spec make ``receive_data`` queue ``Connection.Close`` with the
matching reply code, move to CLOSING and raise ``RemoteProtocolError``, whose
``events`` holds the events decoded before the fault. Codec ``DecodeError``s
are re-labelled at that one boundary; nothing else escapes ``receive_data``.
In CLOSING and CLOSED, faults are silently discarded (the connection is
already going away).

Heartbeats (spec 4.2.7). With a negotiated timeout of ``h`` seconds, a
heartbeat frame is due ``h / 2`` after the last outbound traffic (RabbitMQ
and pika send at half the timeout) and the peer is presumed dead after
``2 * h`` without inbound bytes ("two missed heartbeats"). Commands take no
``now``: bytes queued by them count as sent at the next ``now`` the core sees,
which can only make heartbeats earlier than needed, never late.
"""

from __future__ import annotations

from typing import Final

from ..codec.errors import DecodeError
from ..codec.frames import (
    FRAME_BODY,
    FRAME_HEADER,
    FRAME_HEARTBEAT,
    FRAME_METHOD,
    FRAME_MIN_SIZE,
    HEARTBEAT_FRAME,
    PROTOCOL_HEADER,
    FrameReader,
    encode_method_frame,
)
from ..codec.table import FieldTable
from ..codec.values import Buffer
from ..spec.constants import ReplyCode
from ..spec.methods import Basic, Method, decode_method
from ..spec.methods import Connection as _C
from ..spec.properties import BasicProperties
from .channel import ChannelCore, Sink
from .config import (
    ConnectionConfig,
    Tuning,
    build_client_properties,
    choose_mechanism,
    negotiate_tuning,
    sasl_response,
)
from .errors import LocalProtocolError, RemoteProtocolError
from .events import (
    ConnectionBlocked,
    ConnectionClosed,
    ConnectionLost,
    ConnectionOpened,
    ConnectionUnblocked,
    Event,
    HandshakeFailed,
    HeartbeatTimedOut,
    SecretUpdated,
)
from .states import (
    CONNECTION_METHOD_INPUTS,
    CONNECTION_TRANSITIONS,
    HEARTBEAT_STATES,
    ChannelState,
    ConnectionAction,
    ConnectionInput,
    ConnectionState,
    InvalidTransition,
    StateMachine,
)

__all__ = ["Connection"]

_A = ConnectionAction
_I = ConnectionInput
_S = ConnectionState
_HANDSHAKE_STATES: Final = frozenset((_S.START_WAIT, _S.TUNE_WAIT, _S.OPEN_WAIT))
_CHANNEL_COMMAND = _I.CHANNEL_COMMAND
_CHANNEL_FRAME = _I.CHANNEL_FRAME
_DISCARD = _A.DISCARD
_CLOSED = ChannelState.CLOSED


class Connection:
    """One AMQP 0-9-1 client connection, without I/O."""

    def __init__(self, config: ConnectionConfig) -> None:
        self.config = config
        self._machine: StateMachine[
            ConnectionState, ConnectionInput, ConnectionAction
        ] = StateMachine(_S.INITIAL, CONNECTION_TRANSITIONS)
        self._sink = Sink()
        self._reader = FrameReader(FRAME_MIN_SIZE, stream_bodies=True)
        self._channels: dict[int, ChannelCore] = {}
        self._tuning: Tuning | None = None
        self._server_properties: FieldTable = {}
        self._mechanism = ""
        self._sasl = b""
        self._failure: HandshakeFailed | None = None
        self._sniffing = False
        self._preamble = b""
        self._reader_failed = False
        self._frames: list[tuple[int, int, bytes]] = []
        self._frame_index = 0
        self._close: _C.Close | None = None
        self._next_request_id = 1
        self._secret_updates = 0
        self._heartbeat = 0
        self._last_sent = 0.0
        self._last_received = 0.0
        self.blocked = False

    def _clear_channels(self) -> None:
        self._channels.clear()
        self._sink.held = 0

    # -- introspection -------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        return self._machine.state

    @property
    def tuning(self) -> Tuning | None:
        """The negotiated limits, once Connection.Tune was answered."""
        return self._tuning

    @property
    def server_properties(self) -> FieldTable:
        return self._server_properties

    def channel(self, channel_id: int) -> ChannelCore | None:
        """The state of an allocated channel number (read-only use)."""
        return self._channels.get(channel_id)

    @property
    def channel_ids(self) -> tuple[int, ...]:
        """Allocated channel numbers (opening, open or closing)."""
        return tuple(self._channels)

    # -- outputs -------------------------------------------------------------

    def data_to_send(self) -> list[Buffer]:
        """Buffers to write, in order (for ``transport.writelines``); empties
        the queue. Bodies passed to ``publish`` are included without copying
        and must not be mutated until written."""
        sink = self._sink
        parts = sink.parts
        sink.parts = []
        sink.size = 0
        return parts

    @property
    def bytes_to_send(self) -> int:
        """Bytes ``data_to_send()`` would return now (frame overheads of
        published content approximated)."""
        return self._sink.size

    @property
    def bytes_held(self) -> int:
        """Bytes of content the channels hold back behind a pending request
        (sent once its reply arrives)."""
        return self._sink.held

    def next_deadline(self) -> float | None:
        """When ``handle_timer`` must run next (a ``now`` value), or None."""
        beat = self._heartbeat
        if not beat or self._machine.state not in HEARTBEAT_STATES:
            return None
        return min(self._last_sent + beat / 2, self._last_received + 2 * beat)

    # -- inputs --------------------------------------------------------------

    def receive_data(self, data: Buffer, now: float) -> list[Event]:
        """Process bytes from the broker; return the resulting events.

        Raises ``RemoteProtocolError`` (and nothing else) when the bytes
        violate the spec; see the module docstring.
        """
        sink = self._sink
        events: list[Event] = []
        sink.events = events
        if data:
            self._last_received = now
        while True:
            try:
                self._receive(data)
                break
            except RemoteProtocolError as exc:
                self._fail(exc, now)
            except DecodeError as exc:
                self._fail(RemoteProtocolError(exc.reply_code, str(exc)), now)
            # CLOSING discarded the fault: go on with the frames still
            # buffered (a CloseOk may follow), unless the stream is unreadable.
            if self._reader_failed:
                break
            data = b""
        self.mark_sent(now)
        return events

    def receive_eof(self) -> list[Event]:
        """The broker closed its side of the socket."""
        events: list[Event] = []
        self._sink.events = events
        before = self._machine.state
        if self._machine.fire(_I.EOF) is _A.EMIT_LOST:
            events.append(
                ConnectionLost(
                    during_handshake=before in _HANDSHAKE_STATES,
                    probable_authentication_failure=before is _S.TUNE_WAIT,
                    probable_access_refused=before is _S.OPEN_WAIT,
                )
            )
        self._clear_channels()
        return events

    def mark_sent(self, now: float) -> None:
        """The bytes taken with ``data_to_send()`` were written at ``now``."""
        sink = self._sink
        if sink.sent:
            self._last_sent = now
            sink.sent = False

    def handle_timer(self, now: float) -> list[Event]:
        """Act on an expired ``next_deadline()``: send a heartbeat or report
        the peer dead (``HeartbeatTimedOut``, the connection is then CLOSED)."""
        events: list[Event] = []
        sink = self._sink
        sink.events = events
        self.mark_sent(now)
        beat = self._heartbeat
        if not beat or self._machine.state not in HEARTBEAT_STATES:
            return events
        if now >= self._last_received + 2 * beat:
            if self._machine.fire(_I.HEARTBEAT_TIMEOUT) is _A.EMIT_HEARTBEAT_TIMED_OUT:
                events.append(HeartbeatTimedOut(self._last_received))
                self._clear_channels()
        elif now >= self._last_sent + beat / 2:
            sink.parts.append(HEARTBEAT_FRAME)
            sink.size += len(HEARTBEAT_FRAME)
            self._last_sent = now
        return events

    # -- connection commands -------------------------------------------------

    def _command(self, input_: ConnectionInput) -> ConnectionAction:
        try:
            return self._machine.fire(input_)
        except InvalidTransition as exc:
            raise LocalProtocolError(f"connection: {exc}") from None

    def _check(self, input_: ConnectionInput) -> None:
        if not self._machine.allows(input_):
            raise LocalProtocolError(
                f"connection: {input_.value!r} is not allowed in state "
                f"{self._machine.state.value!r}"
            )

    def initiate(self) -> None:
        """Queue the protocol header; the handshake then runs on its own."""
        self._command(_I.INITIATE)
        self._sink.write(PROTOCOL_HEADER)
        self._sniffing = True

    def close(
        self,
        reply_code: int = ReplyCode.REPLY_SUCCESS,
        reply_text: str = "",
        class_id: int = 0,
        method_id: int = 0,
    ) -> None:
        """Queue Connection.Close; ``ConnectionClosed`` follows its CloseOk."""
        close = _C.Close(reply_code, reply_text, class_id, method_id)
        payload = close.encode()
        self._command(_I.CLOSE)
        self._close = close
        self._sink.write(encode_method_frame(0, payload))

    def update_secret(self, new_secret: bytes, reason: str) -> None:
        """Queue Connection.UpdateSecret (RabbitMQ); ``SecretUpdated`` follows."""
        payload = _C.UpdateSecret(new_secret, reason).encode()
        self._command(_I.UPDATE_SECRET)
        self._secret_updates += 1
        self._sink.write(encode_method_frame(0, payload))

    # -- channel commands ----------------------------------------------------

    def _channel(self, channel_id: int) -> ChannelCore:
        if not self._machine.allows(_CHANNEL_COMMAND):
            self._check(_CHANNEL_COMMAND)
        channel = self._channels.get(channel_id)
        if channel is None:
            raise LocalProtocolError(f"channel {channel_id} is not open")
        return channel

    def open_channel(self, channel_id: int | None = None) -> int:
        """Queue Channel.Open; return the channel number (``ChannelOpened``
        follows). ``None`` picks the lowest free number."""
        self._check(_CHANNEL_COMMAND)
        assert self._tuning is not None
        limit = self._tuning.channel_max
        channels = self._channels
        if channel_id is None:
            for channel_id in range(1, limit + 1):
                if channel_id not in channels:
                    break
            else:
                raise LocalProtocolError(f"all {limit} channels are in use")
        elif not 1 <= channel_id <= limit:
            raise ValueError(f"channel number must be between 1 and {limit}")
        elif channel_id in channels:
            raise LocalProtocolError(f"channel {channel_id} is in use")
        channel = ChannelCore(
            channel_id, self._sink, self._tuning.frame_max, self.config.max_body_size
        )
        channel.open()
        channels[channel_id] = channel
        return channel_id

    def close_channel(
        self,
        channel_id: int,
        reply_code: int = ReplyCode.REPLY_SUCCESS,
        reply_text: str = "",
        class_id: int = 0,
        method_id: int = 0,
    ) -> None:
        """Queue Channel.Close; ``ChannelClosed`` follows its CloseOk."""
        self._channel(channel_id).close(reply_code, reply_text, class_id, method_id)

    def send_method(self, channel_id: int, method: Method) -> int | None:
        """Queue any client method of the channel-level classes.

        Returns a request id when a reply will follow (``ReplyReceived``, or
        ``DeliveryReceived`` for Basic.GetOk, carrying that id), ``None`` for
        asynchronous methods and ``no_wait=True`` requests, which are complete
        once queued. Synchronous requests go out one at a time per channel.
        """
        channel = self._channel(channel_id)
        request_id = self._next_request_id
        result = channel.send_method(method, request_id)
        if result is not None:
            self._next_request_id = request_id + 1
        return result

    def publish(
        self,
        channel_id: int,
        exchange: str,
        routing_key: str,
        body: Buffer,
        properties: BasicProperties | bytes | None = None,
        mandatory: bool = False,
        immediate: bool = False,
    ) -> int | None:
        """Queue Basic.Publish + header + body frames (split at frame_max).

        ``properties`` is a :class:`BasicProperties` or its encoding
        (:func:`~amqpio.spec.properties.encode_properties`).

        Returns the delivery tag when the channel is in confirm mode; its
        outcome arrives as ``PublishAcked`` or ``PublishNacked``.
        """
        if not self._machine.allows(_CHANNEL_COMMAND):
            self._check(_CHANNEL_COMMAND)
        channel = self._channels.get(channel_id)
        if channel is None:
            raise LocalProtocolError(f"channel {channel_id} is not open")
        return channel.publish(
            exchange, routing_key, body, properties, mandatory, immediate
        )

    def ack(self, channel_id: int, delivery_tag: int, multiple: bool = False) -> None:
        """Queue Basic.Ack for a received delivery."""
        self._channel(channel_id).ack(delivery_tag, multiple)

    def nack(
        self,
        channel_id: int,
        delivery_tag: int,
        multiple: bool = False,
        requeue: bool = True,
    ) -> None:
        """Queue Basic.Nack for a received delivery."""
        self._channel(channel_id).send_async(
            Basic.Nack(delivery_tag, multiple, requeue)
        )

    def reject(self, channel_id: int, delivery_tag: int, requeue: bool = True) -> None:
        """Queue Basic.Reject for a received delivery."""
        self._channel(channel_id).send_async(Basic.Reject(delivery_tag, requeue))

    # -- peer input ----------------------------------------------------------

    def _fail(self, exc: RemoteProtocolError, now: float) -> None:
        action = self._machine.fire(_I.VIOLATION)
        if action is _DISCARD:
            return
        if action is _A.NONE:
            # before initiate(): the stream must open with the protocol
            # header, so there is no Close to send; the connection just ends
            self._clear_channels()
            exc.events = self._sink.events
            raise exc
        # reply-text is a shortstr: at most 255 bytes of UTF-8.
        text = exc.text.encode()[:255].decode(errors="ignore")
        self._close = _C.Close(exc.reply_code, text, exc.class_id, exc.method_id)
        self._clear_channels()
        self._sink.write(encode_method_frame(0, self._close.encode()))
        exc.events = self._sink.events
        self._last_sent = now
        self._sink.sent = False
        raise exc

    def _receive(self, data: Buffer) -> None:
        if self._machine.state is _S.CLOSED:
            return  # the table discards everything; skip the parsing
        if self._sniffing:
            sniffed = self._sniff(data)
            if sniffed is None:
                return
            data = sniffed
        reader = self._reader
        reader.feed(data)
        channels = self._channels
        machine = self._machine
        # Frames are read in batches; the position is stored before a frame is
        # handled, so after a fault (which raises out of this loop) the frames
        # still batched are handled by the next call, as if still buffered.
        frames = self._frames
        while True:
            index = self._frame_index
            if index == len(frames):
                try:
                    frames = self._frames = reader.read_frames()
                except DecodeError:
                    self._frames = []
                    self._frame_index = 0
                    self._reader_failed = True
                    raise
                index = 0
                if not frames:
                    self._frame_index = 0
                    return
            self._frame_index = index + 1
            frame_type, channel_id, payload = frames[index]
            if channel_id == 0:
                self._on_channel_zero(frame_type, payload)
                if machine.state is _S.CLOSED:
                    return
                continue
            if frame_type == FRAME_HEARTBEAT:
                # Spec 4.2.7: "Heartbeat frames [...] MUST use channel 0".
                raise RemoteProtocolError(
                    ReplyCode.FRAME_ERROR, f"heartbeat frame on channel {channel_id}"
                )
            if machine.state is not _S.OPEN:
                self._fire(_CHANNEL_FRAME, None, ReplyCode.CHANNEL_ERROR)
                continue  # DISCARD while closing
            channel = channels.get(channel_id)
            if channel is None:
                raise RemoteProtocolError(
                    ReplyCode.CHANNEL_ERROR,
                    f"frame on channel {channel_id}, which is not open",
                )
            if frame_type == FRAME_METHOD:
                channel.handle_method(decode_method(payload))
                if channel.machine.state is _CLOSED:
                    del channels[channel_id]
            elif frame_type == FRAME_BODY:
                channel.handle_body(payload)
            else:
                channel.handle_header(payload)

    def _sniff(self, data: Buffer) -> bytes | None:
        # Spec 4.2.2: a server that refuses our protocol header "MUST respond
        # with a valid protocol header and then close the socket". Frames
        # start with type 1, 2, 3 or 8, never "A".
        buffered = self._preamble + bytes(data)
        if not buffered:
            return None
        if buffered[0] != 0x41:
            self._sniffing = False
            self._preamble = b""
            return buffered
        if len(buffered) < 8:
            self._preamble = buffered
            return None
        self._sniffing = False
        self._preamble = b""
        self._failure = HandshakeFailed(
            "protocol-version",
            f"the broker answered with protocol header {buffered[:8]!r}",
            buffered[:8],
        )
        self._run(self._fire(_I.PROTOCOL_HEADER, None), None)
        return None

    def _fire(
        self,
        input_: ConnectionInput,
        method: Method | None,
        code: int = ReplyCode.COMMAND_INVALID,
    ) -> ConnectionAction:
        try:
            return self._machine.fire(input_)
        except InvalidTransition as exc:
            what = method.NAME if method is not None else input_.value
            raise RemoteProtocolError(
                code,
                f"{what} is not allowed in state {exc.state.value}",
                method.CLASS_ID if method is not None else 0,
                method.METHOD_ID if method is not None else 0,
            ) from None

    def _on_channel_zero(self, frame_type: int, payload: bytes) -> None:
        if frame_type == FRAME_HEARTBEAT:
            self._fire(_I.HEARTBEAT, None)
            return
        if frame_type in (FRAME_HEADER, FRAME_BODY):
            raise RemoteProtocolError(
                ReplyCode.UNEXPECTED_FRAME, "content frame on channel 0"
            )
        method = decode_method(payload)
        input_ = CONNECTION_METHOD_INPUTS.get(type(method))
        if input_ is None:
            # Spec 2.3.5: channel 0 carries the connection class only.
            raise RemoteProtocolError(
                ReplyCode.COMMAND_INVALID,
                f"{method.NAME} on channel 0",
                method.CLASS_ID,
                method.METHOD_ID,
            )
        if isinstance(method, _C.Start):
            input_ = self._classify_start(method)
        self._run(self._fire(input_, method), method)

    def _classify_start(self, start: _C.Start) -> ConnectionInput:
        if (start.version_major, start.version_minor) != (0, 9):
            self._failure = HandshakeFailed(
                "protocol-version",
                f"the broker speaks AMQP {start.version_major}-{start.version_minor}",
            )
            return _I.START_REJECTED
        config = self.config
        mechanism = choose_mechanism(start.mechanisms, config.auth_mechanism)
        if mechanism is None:
            wanted = config.auth_mechanism or "PLAIN or AMQPLAIN"
            self._failure = HandshakeFailed(
                "no-mechanism",
                f"the broker offers {start.mechanisms.decode(errors='replace')!r}, "
                f"not {wanted}",
            )
            return _I.START_REJECTED
        self._mechanism = mechanism
        self._sasl = sasl_response(mechanism, config.username, config.password)
        return _I.START

    def _run(self, action: ConnectionAction, method: Method | None) -> None:
        sink = self._sink
        if action is _A.NONE or action is _DISCARD:
            return
        if action is _A.SEND_START_OK:
            assert isinstance(method, _C.Start)
            self._server_properties = method.server_properties
            start_ok = _C.StartOk(
                build_client_properties(self.config),
                self._mechanism,
                self._sasl,
                self.config.locale,
            )
            sink.write(encode_method_frame(0, start_ok.encode()))
        elif action is _A.SEND_SECURE_OK:
            # PLAIN, AMQPLAIN and EXTERNAL have no challenge step: a Secure
            # can only ask for the credentials again.
            sink.write(encode_method_frame(0, _C.SecureOk(self._sasl).encode()))
        elif action is _A.SEND_TUNE_OK_AND_OPEN:
            assert isinstance(method, _C.Tune)
            tuning, wire = negotiate_tuning(
                self.config, method.channel_max, method.frame_max, method.heartbeat
            )
            self._tuning = tuning
            self._heartbeat = tuning.heartbeat
            self._reader.frame_max = tuning.frame_max
            sink.write(encode_method_frame(0, _C.TuneOk(*wire).encode()))
            sink.write(
                encode_method_frame(0, _C.Open(self.config.virtualhost).encode())
            )
        elif action is _A.EMIT_OPENED:
            assert self._tuning is not None
            sink.events.append(
                ConnectionOpened(self._tuning, self._server_properties, self._mechanism)
            )
        elif action is _A.EMIT_HANDSHAKE_FAILED:
            assert self._failure is not None
            sink.events.append(self._failure)
        elif action is _A.ANSWER_CLOSE:
            assert isinstance(method, _C.Close)
            sink.write(encode_method_frame(0, _C.CloseOk().encode()))
            self._clear_channels()
            sink.events.append(
                ConnectionClosed(
                    method.reply_code,
                    method.reply_text,
                    method.class_id,
                    method.method_id,
                    by_broker=True,
                )
            )
        elif action is _A.EMIT_CLOSED:
            close = self._close
            assert close is not None
            self._clear_channels()
            sink.events.append(
                ConnectionClosed(
                    close.reply_code,
                    close.reply_text,
                    close.class_id,
                    close.method_id,
                    by_broker=False,
                )
            )
        elif action is _A.EMIT_BLOCKED:
            assert isinstance(method, _C.Blocked)
            self.blocked = True
            sink.events.append(ConnectionBlocked(method.reason))
        elif action is _A.EMIT_UNBLOCKED:
            self.blocked = False
            sink.events.append(ConnectionUnblocked())
        elif action is _A.EMIT_SECRET_UPDATED:
            if not self._secret_updates:
                raise RemoteProtocolError(
                    ReplyCode.COMMAND_INVALID,
                    "Connection.UpdateSecretOk without an UpdateSecret",
                    _C.UpdateSecretOk.CLASS_ID,
                    _C.UpdateSecretOk.METHOD_ID,
                )
            self._secret_updates -= 1
            sink.events.append(SecretUpdated())
        else:  # pragma: no cover - no other action follows a channel-0 method
            raise AssertionError(action)
