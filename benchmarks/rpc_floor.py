"""The broker floor of one RPC round trip: what a minimal Python client costs.

An RPC call in the ``patterns.RPC`` format crosses the broker twice, and the
broker does real work on each crossing (publisher confirms, a mandatory
publish, an ack-mode consumer whose message is acked once the reply is
confirmed). This module times that same conversation with the least client
code that asyncio allows: pre-encoded frames written straight to the
transport, received frames scanned only as far as needed. Whatever a real
client adds on top of this floor is its own overhead.

The connections, channels, queues and consumers are set up with amqpio (so
the broker holds exactly the state the pattern creates); then each
connection's transport is handed to a bare ``asyncio.Protocol``. This uses
amqpio internals and is meant for the benchmarks only.
"""

from __future__ import annotations

import asyncio
import datetime
import pickle
import uuid
from typing import Any

import amqpio
from amqpio.codec.frames import (
    FRAME_BODY,
    FRAME_METHOD,
    FrameReader,
    encode_content,
    encode_method_frame,
)
from amqpio.spec import Basic, BasicProperties, decode_method

__all__ = ["RawRPC", "raw_rpc_pair"]


def _publish_frames(
    channel: int, routing_key: str, mandatory: bool, props: BasicProperties, body: bytes
) -> bytes:
    return b"".join(
        bytes(part)
        for part in encode_content(
            channel,
            Basic.Publish("", routing_key, mandatory).encode(),
            60,
            props.encode(),
            body,
            131072,
        )
    )


class _Callee(asyncio.Protocol):
    """Answers each call with a fixed reply; acks the call once the broker
    confirmed the reply (what ``RPC.on_call_message`` does)."""

    def __init__(self, transport: asyncio.Transport, channel: int, reply: bytes):
        self.transport = transport
        self.channel = channel
        self.reply = reply
        self.reader = FrameReader(131072)
        self.delivery_tag = 0
        self.unconfirmed: list[int] = []

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        for frame_type, _, payload in self.reader.read_frames():
            if frame_type == FRAME_METHOD:
                method = decode_method(payload)
                if type(method) is Basic.Deliver:
                    self.delivery_tag = method.delivery_tag
                elif type(method) is Basic.Ack:
                    call = self.unconfirmed.pop(0)
                    self.transport.write(
                        encode_method_frame(
                            self.channel, Basic.Ack(call, False).encode()
                        )
                    )
            elif frame_type == FRAME_BODY:
                self.transport.write(self.reply)
                self.unconfirmed.append(self.delivery_tag)


class _Caller(asyncio.Protocol):
    """Resolves the pending call when a reply's body frame arrives; confirms
    of its own publishes are read and ignored."""

    def __init__(self) -> None:
        self.reader = FrameReader(131072)
        self.pending: asyncio.Future[None] | None = None

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        for frame_type, _, _ in self.reader.read_frames():
            pending = self.pending
            if frame_type == FRAME_BODY and pending is not None and not pending.done():
                pending.set_result(None)


class RawRPC:
    """One caller and one callee connection speaking the RPC pattern's frames."""

    def __init__(
        self,
        connections: list[amqpio.Connection],
        caller: _Caller,
        caller_transport: asyncio.Transport,
        call_frames: bytes,
    ) -> None:
        self._connections = connections
        self._caller = caller
        self._transport = caller_transport
        self._call = call_frames

    async def call(self, kwargs: dict[str, Any]) -> None:
        """One round trip (the body is fixed: the floor does not serialize)."""
        future = asyncio.get_running_loop().create_future()
        self._caller.pending = future
        self._transport.write(self._call)
        await future

    def close(self) -> None:
        # the amqpio side no longer owns these sockets: drop them
        for connection in self._connections:
            connection._get_protocol().abort()


def _take_over(connection: amqpio.Connection, protocol: asyncio.Protocol) -> Any:
    amqp = connection._get_protocol()
    amqp._cancel_timer()  # amqpio no longer sees this socket's traffic
    transport = amqp.transport
    assert transport is not None
    transport.set_protocol(protocol)
    return transport


async def raw_rpc_pair(url: str) -> RawRPC:
    """Set up the pattern's topology with amqpio, then go raw."""
    server = await amqpio.connect(url)
    client = await amqpio.connect(url)
    server_channel = await server.channel()  # publisher confirms, as RPC's
    client_channel = await client.channel()
    method = f"floor_{uuid.uuid4().hex[:12]}"
    queue = await server_channel.declare_queue(
        method, auto_delete=True, arguments={"x-dead-letter-exchange": "rpc.dlx"}
    )
    await queue.consume(lambda message: None)  # ack mode, like register()
    reply_queue = await client_channel.declare_queue(None, auto_delete=True)
    await reply_queue.consume(lambda message: None, exclusive=True, no_ack=True)
    await asyncio.sleep(0.05)  # no delivery is pending: the protocols can change
    server_number, client_number = server_channel.number, client_channel.number
    assert server_number is not None and client_number is not None

    now = datetime.datetime.now(datetime.timezone.utc)
    call = _publish_frames(
        client_number,
        method,
        True,
        BasicProperties(
            content_type="application/python-pickle",
            headers={"From": reply_queue.name},
            delivery_mode=1,
            priority=5,
            correlation_id=f"{uuid.uuid4().hex}.1",
            reply_to=reply_queue.name,
            message_id=uuid.uuid4().hex,
            timestamp=now,
            message_type="call",
        ),
        pickle.dumps({"i": 1}),
    )
    reply = _publish_frames(
        server_number,
        reply_queue.name,
        False,
        BasicProperties(
            content_type="application/python-pickle",
            delivery_mode=1,
            correlation_id=f"{uuid.uuid4().hex}.1",
            message_id=uuid.uuid4().hex,
            timestamp=now,
            message_type="result",
        ),
        pickle.dumps(1),
    )
    server_transport = server._get_protocol().transport
    assert server_transport is not None
    _take_over(server, _Callee(server_transport, server_number, reply))
    caller = _Caller()
    caller_transport = _take_over(client, caller)
    floor = RawRPC([server, client], caller, caller_transport, call)
    for _ in range(50):  # warm up, as the libraries are
        await floor.call({})
    return floor
