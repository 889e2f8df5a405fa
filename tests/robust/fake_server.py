"""A scripted AMQP server on a loopback socket, for robust-connection unit tests.

It speaks just enough of the server side (with ``helpers.broker.FakeBroker``,
the generated codec) to open connections and channels and to answer
declarations, bindings, QoS and consumers; it records every method each
connection sent, in order. ``hooks`` replace the answer to a method class
(e.g. a Channel.Close 405 for an exclusive Queue.Declare). :meth:`drop` aborts
every connection, as a network failure would. ``silent`` connections are
accepted and then never answered (a peer that holds the handshake).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from amqpio import spec
from amqpio.spec import Method
from helpers.broker import FakeBroker, Heartbeat, Published

Hook = Callable[["FakeConnection", int, Method], "list[bytes] | None"]

SERVER_PROPERTIES = {
    "product": "RabbitMQ",
    "version": "3.10.8",
    "capabilities": {
        "publisher_confirms": True,
        "basic.nack": True,
        "consumer_cancel_notify": True,
    },
}


class FakeConnection(asyncio.Protocol):
    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.codec = FakeBroker()
        self.transport: asyncio.Transport | None = None
        #: (channel, method) in the order the client sent them
        self.methods: list[tuple[int, Method]] = []
        self.published: list[Published] = []
        self.tags: dict[int, int] = {}
        #: accepted but never answered
        self.silent = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        if self.server.refuse:
            transport.abort()
            return
        self.transport = transport
        self.server.connections.append(self)
        if self.server.silent:
            self.server.silent -= 1
            self.silent = True

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def send(self, *frames: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(frames))

    def data_received(self, data: bytes) -> None:
        if self.silent:
            return
        had_header = self.codec.header is not None
        items = self.codec.decode([data])
        if not had_header and self.codec.header is not None:
            start = spec.Connection.Start(server_properties=SERVER_PROPERTIES)
            self.send(FakeBroker.method(0, start))
        for item in items:
            if isinstance(item, Heartbeat):
                continue
            if isinstance(item, Published):
                self.published.append(item)
                tag = self.tags[item.channel] = self.tags.get(item.channel, 0) + 1
                if self.server.confirm:
                    ack = spec.Basic.Ack(delivery_tag=tag, multiple=False)
                    self.send(FakeBroker.method(item.channel, ack))
                continue
            channel, method = item
            self.methods.append((channel, method))
            hook = self.server.hooks.get(type(method))
            if hook is not None:
                frames = hook(self, channel, method)
                if frames is not None:
                    self.send(*frames)
                    continue
            self.send(*self.answer(channel, method))

    def answer(self, channel: int, method: Method) -> list[bytes]:
        m = FakeBroker.method
        c = spec.Connection
        if isinstance(method, c.StartOk):
            return [m(0, c.Tune(channel_max=2047, frame_max=131072, heartbeat=0))]
        if isinstance(method, c.Open):
            return [m(0, c.OpenOk())]
        if isinstance(method, c.Close):
            self.send(m(0, c.CloseOk()))
            if self.transport is not None:
                self.transport.close()
            return []
        if isinstance(method, spec.Channel.Open):
            self.tags[channel] = 0
            return [m(channel, spec.Channel.OpenOk())]
        if isinstance(method, spec.Channel.Close):
            return [m(channel, spec.Channel.CloseOk())]
        if isinstance(method, spec.Queue.Declare):
            name = method.queue or "amq.gen-server-named"
            return [m(channel, spec.Queue.DeclareOk(name, 0, 0))]
        if isinstance(method, spec.Basic.Consume):
            return [m(channel, spec.Basic.ConsumeOk(method.consumer_tag))]
        if isinstance(method, spec.Basic.Cancel):
            return [m(channel, spec.Basic.CancelOk(method.consumer_tag))]
        if isinstance(method, spec.Queue.Delete):
            return [m(channel, spec.Queue.DeleteOk(0))]
        simple: dict[type[Method], Method] = {
            spec.Confirm.Select: spec.Confirm.SelectOk(),
            spec.Basic.Qos: spec.Basic.QosOk(),
            spec.Exchange.Declare: spec.Exchange.DeclareOk(),
            spec.Exchange.Bind: spec.Exchange.BindOk(),
            spec.Exchange.Delete: spec.Exchange.DeleteOk(),
            spec.Queue.Bind: spec.Queue.BindOk(),
            spec.Queue.Unbind: spec.Queue.UnbindOk(),
            c.UpdateSecret: c.UpdateSecretOk(),
        }
        reply = simple.get(type(method))
        return [] if reply is None else [m(channel, reply)]

    def drop(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def kinds(self) -> list[str]:
        """The names of the methods received (``Queue.Declare`` ...)."""
        return [method.NAME for _, method in self.methods]


class FakeServer:
    def __init__(self) -> None:
        self.connections: list[FakeConnection] = []
        self.hooks: dict[type[Method], Hook] = {}
        #: answer publishes with Basic.Ack
        self.confirm = True
        #: abort new connections at once
        self.refuse = False
        #: how many of the next connections get no answer at all
        self.silent = 0
        self._server: asyncio.base_events.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    async def start(self, port: int = 0) -> FakeServer:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: FakeConnection(self), "127.0.0.1", port
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def drop(self) -> None:
        for connection in self.connections:
            connection.drop()

    async def close(self) -> None:
        self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        await asyncio.sleep(0)
