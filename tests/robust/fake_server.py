"""A scripted AMQP server on a loopback socket, for robust-connection unit tests.

It speaks enough of the server side (with ``helpers.broker.FakeBroker``, the
generated codec) to open connections and channels and to answer declarations,
bindings, QoS, consumers and publishes; it records every method each
connection sent, in order, and every method it answered with.

Where a client can tell the difference, it behaves as RabbitMQ 3.10 does, so
that a test passing here does not lean on a friendlier broker:

* a method with ``no_wait`` set gets no reply (errors still close the channel);
* queues and exchanges live on the server, shared by its connections (the
  ``amq.*`` exchanges exist from the start; an exclusive queue goes with the
  connection that declared it). A passive declare of an unknown name, a bind
  naming one, or a consume from an unknown queue is answered with
  Channel.Close 404 NOT_FOUND; then every frame on that channel but
  Channel.Close/CloseOk is discarded until the client's CloseOk (the spec's
  rule for Channel.Close);
* publishes are confirmed only on channels that sent Confirm.Select, with
  delivery tags counted per channel from 1 after it. Confirms are coalesced
  per batch of bytes received, as RabbitMQ does under load: one Basic.Ack
  (Basic.Nack when ``nack`` is set) with ``multiple=True`` covers every
  publish of the batch (``multiple=False`` when it was one);
* Connection.Tune proposes ``heartbeat`` (60 s, RabbitMQ's default) and the
  value of the client's TuneOk is used (0: none). As ``rabbit_heartbeat``
  does, the server checks every half interval whether it sent anything and
  sends a heartbeat if not, and checks every interval whether anything
  arrived: after two checks in a row without a byte from the client it closes
  the socket (between 2 and 3 intervals of silence).

``hooks`` replace the answer to a method class (e.g. a Channel.Close 405 for
an exclusive Queue.Declare, built with :meth:`FakeConnection.close_channel`).
:meth:`FakeServer.drop` aborts every connection, as a network failure would.
``silent`` connections are accepted and then never answered (a peer that
holds the handshake).
"""

from __future__ import annotations

import asyncio
import itertools
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

#: The exchanges every RabbitMQ vhost starts with.
PREDECLARED_EXCHANGES = (
    "",
    "amq.direct",
    "amq.fanout",
    "amq.headers",
    "amq.match",
    "amq.rabbitmq.trace",
    "amq.topic",
)

NOT_FOUND = 404


class FakeConnection(asyncio.Protocol):
    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.codec = FakeBroker()
        self.transport: asyncio.Transport | None = None
        #: (channel, method) in the order the client sent them (also those
        #: discarded on a closing channel)
        self.methods: list[tuple[int, Method]] = []
        #: (channel, method) the server answered with (hooks' frames excepted)
        self.replies: list[tuple[int, Method]] = []
        #: the publishes the server took (not those of a closing channel)
        self.published: list[Published] = []
        #: channel -> delivery tag of its last publish, for confirm-mode channels
        self.tags: dict[int, int] = {}
        #: channel -> highest delivery tag acked or nacked
        self.confirmed: dict[int, int] = {}
        #: channels the server closed, waiting for the client's CloseOk
        self.closing: set[int] = set()
        #: what arrived on a closing channel and was dropped
        self.discarded: list[tuple[int, Method] | Published] = []
        #: accepted but never answered
        self.silent = False
        #: the heartbeat interval of the client's TuneOk (None before it)
        self.heartbeat: int | None = None
        self.heartbeats_sent = 0
        self.heartbeats_received = 0
        #: closed by the server after two heartbeat intervals of silence
        self.timed_out = False
        self.bytes_sent = 0
        self.bytes_received = 0
        self._timers: list[asyncio.TimerHandle] = []

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
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        queues = self.server.queues
        for name in [n for n, owner in queues.items() if owner is self]:
            del queues[name]  # exclusive queues go with their connection

    def send(self, *frames: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            data = b"".join(frames)
            self.bytes_sent += len(data)
            self.transport.write(data)

    def reply(self, channel: int, *methods: Method) -> None:
        self.replies.extend((channel, method) for method in methods)
        self.send(*(FakeBroker.method(channel, method) for method in methods))

    def close_channel(
        self, channel: int, code: int, text: str, method: Method
    ) -> list[bytes]:
        """Channel.Close for a failed ``method`` (frames for a hook to return);
        the channel's frames are discarded until the client's CloseOk."""
        self.closing.add(channel)
        close = spec.Channel.Close(code, text, method.CLASS_ID, method.METHOD_ID)
        self.replies.append((channel, close))
        return [FakeBroker.method(channel, close)]

    def data_received(self, data: bytes) -> None:
        self.bytes_received += len(data)
        if self.silent:
            return
        had_header = self.codec.header is not None
        items = self.codec.decode([data])
        if not had_header and self.codec.header is not None:
            start = spec.Connection.Start(server_properties=SERVER_PROPERTIES)
            self.reply(0, start)
        for item in items:
            if isinstance(item, Heartbeat):
                self.heartbeats_received += 1
                continue
            if isinstance(item, Published):
                if item.channel in self.closing:
                    self.discarded.append(item)
                    continue
                self.published.append(item)
                if item.channel in self.tags:
                    self.tags[item.channel] += 1
                continue
            channel, method = item
            self.methods.append((channel, method))
            if channel in self.closing:
                self.receive_while_closing(channel, method)
                continue
            # confirms of earlier publishes go before a later reply
            self.flush_confirms(channel)
            hook = self.server.hooks.get(type(method))
            if hook is not None:
                frames = hook(self, channel, method)
                if frames is not None:
                    self.send(*frames)
                    continue
            self.send(*self.answer(channel, method))
        for channel in list(self.tags):
            self.flush_confirms(channel)

    def receive_while_closing(self, channel: int, method: Method) -> None:
        if isinstance(method, spec.Channel.CloseOk):
            self.forget_channel(channel)
        elif isinstance(method, spec.Channel.Close):  # both sides closed at once
            self.forget_channel(channel)
            self.reply(channel, spec.Channel.CloseOk())
        else:
            # "any received methods except Close and Close-OK MUST be
            # discarded" (Channel.Close)
            self.discarded.append((channel, method))

    def forget_channel(self, channel: int) -> None:
        self.closing.discard(channel)
        self.tags.pop(channel, None)
        self.confirmed.pop(channel, None)

    def flush_confirms(self, channel: int) -> None:
        """Confirm every publish on ``channel`` not confirmed yet, in one method."""
        last = self.tags.get(channel)
        if last is None or not self.server.confirm:
            return
        first = self.confirmed[channel] + 1
        if last < first:
            return
        self.confirmed[channel] = last
        confirm: Method
        if self.server.nack:
            confirm = spec.Basic.Nack(last, multiple=last > first, requeue=False)
        else:
            confirm = spec.Basic.Ack(last, multiple=last > first)
        self.reply(channel, confirm)

    def answer(self, channel: int, method: Method) -> list[bytes]:
        """Frames answering ``method``; a Channel.Close for a failure."""
        failure = self.check(method)
        if failure is not None:
            return self.close_channel(channel, NOT_FOUND, failure, method)
        replies = self.replies_to(channel, method)
        if getattr(method, "no_wait", False):
            # "If set, the server will not respond to the method"
            replies = [r for r in replies if type(r) not in method.RESPONSES]
        self.reply(channel, *replies)
        return []

    def check(self, method: Method) -> str | None:
        """The NOT_FOUND text when ``method`` names a queue or exchange the
        server does not have, else None."""
        queues, exchanges = self.server.queues, self.server.exchanges
        missing: list[tuple[str, str]] = []
        if isinstance(method, spec.Queue.Declare):
            if method.passive:
                missing.append(("queue", method.queue))
        elif isinstance(method, spec.Exchange.Declare):
            if method.passive:
                missing.append(("exchange", method.exchange))
        elif isinstance(method, spec.Queue.Bind):
            missing += [("queue", method.queue), ("exchange", method.exchange)]
        elif isinstance(method, spec.Exchange.Bind):
            missing += [
                ("exchange", method.destination),
                ("exchange", method.source),
            ]
        elif isinstance(method, spec.Basic.Consume) and method.queue:
            missing.append(("queue", method.queue))
        for kind, name in missing:
            if name not in (queues if kind == "queue" else exchanges):
                return f"NOT_FOUND - no {kind} '{name}' in vhost '/'"
        return None

    def replies_to(self, channel: int, method: Method) -> list[Method]:
        server = self.server
        c = spec.Connection
        if isinstance(method, c.StartOk):
            return [
                c.Tune(channel_max=2047, frame_max=131072, heartbeat=server.heartbeat)
            ]
        if isinstance(method, c.TuneOk):
            self.start_heartbeats(method.heartbeat)
            return []
        if isinstance(method, c.Open):
            return [c.OpenOk()]
        if isinstance(method, c.Close):
            self.reply(0, c.CloseOk())
            if self.transport is not None:
                self.transport.close()
            return []
        if isinstance(method, spec.Channel.Open):
            self.forget_channel(channel)
            return [spec.Channel.OpenOk()]
        if isinstance(method, spec.Channel.Close):
            self.forget_channel(channel)
            return [spec.Channel.CloseOk()]
        if isinstance(method, spec.Confirm.Select):
            # a second Select changes nothing: the tags go on
            self.tags.setdefault(channel, 0)
            self.confirmed.setdefault(channel, 0)
            return [spec.Confirm.SelectOk()]
        if isinstance(method, spec.Queue.Declare):
            name = method.queue
            if not name:
                name = f"amq.gen-{next(server.names)}"
            if not method.passive and name not in server.queues:
                server.queues[name] = self if method.exclusive else None
            return [spec.Queue.DeclareOk(name, 0, 0)]
        if isinstance(method, spec.Exchange.Declare):
            server.exchanges.add(method.exchange)
            return [spec.Exchange.DeclareOk()]
        if isinstance(method, spec.Queue.Delete):
            server.queues.pop(method.queue, None)
            return [spec.Queue.DeleteOk(0)]
        if isinstance(method, spec.Exchange.Delete):
            if method.exchange not in PREDECLARED_EXCHANGES:
                server.exchanges.discard(method.exchange)
            return [spec.Exchange.DeleteOk()]
        if isinstance(method, spec.Basic.Consume):
            return [spec.Basic.ConsumeOk(method.consumer_tag)]
        if isinstance(method, spec.Basic.Cancel):
            return [spec.Basic.CancelOk(method.consumer_tag)]
        if isinstance(method, spec.Queue.Purge):
            return [spec.Queue.PurgeOk(0)]
        simple: dict[type[Method], Method] = {
            spec.Basic.Qos: spec.Basic.QosOk(),
            spec.Exchange.Bind: spec.Exchange.BindOk(),
            spec.Exchange.Unbind: spec.Exchange.UnbindOk(),
            spec.Queue.Bind: spec.Queue.BindOk(),
            spec.Queue.Unbind: spec.Queue.UnbindOk(),
            c.UpdateSecret: c.UpdateSecretOk(),
        }
        reply = simple.get(type(method))
        return [] if reply is None else [reply]

    # -- heartbeats (rabbit_heartbeat's two checkers) ---------------------------

    def start_heartbeats(self, interval: int) -> None:
        self.heartbeat = interval
        if not interval:
            return
        loop = asyncio.get_running_loop()
        self._timers = [
            loop.call_later(interval / 2, self._check_sent, interval / 2, -1),
            loop.call_later(interval, self._check_received, interval, -1, 0),
        ]

    def _check_sent(self, period: float, mark: int) -> None:
        if self.transport is None:
            return
        if self.bytes_sent == mark:
            self.heartbeats_sent += 1
            self.send(FakeBroker.heartbeat())
        loop = asyncio.get_running_loop()
        self._timers[0] = loop.call_later(
            period, self._check_sent, period, self.bytes_sent
        )

    def _check_received(self, period: float, mark: int, misses: int) -> None:
        if self.transport is None:
            return
        misses = misses + 1 if self.bytes_received == mark else 0
        if misses >= 2:
            self.timed_out = True
            self.transport.close()
            return
        loop = asyncio.get_running_loop()
        self._timers[1] = loop.call_later(
            period, self._check_received, period, self.bytes_received, misses
        )

    def drop(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def kinds(self) -> list[str]:
        """The names of the methods received (``Queue.Declare`` ...)."""
        return [method.NAME for _, method in self.methods]


class FakeServer:
    def __init__(self, heartbeat: int = 60) -> None:
        self.connections: list[FakeConnection] = []
        self.hooks: dict[type[Method], Hook] = {}
        #: the heartbeat interval proposed in Connection.Tune (0: none)
        self.heartbeat = heartbeat
        #: confirm publishes on confirm-mode channels; while False the
        #: confirms are held back (and sent, coalesced, once it is True again)
        self.confirm = True
        #: confirm with Basic.Nack instead of Basic.Ack
        self.nack = False
        #: abort new connections at once
        self.refuse = False
        #: how many of the next connections get no answer at all
        self.silent = 0
        #: queue name -> the connection owning it when exclusive, else None
        self.queues: dict[str, FakeConnection | None] = {}
        self.exchanges: set[str] = set(PREDECLARED_EXCHANGES)
        self.names = itertools.count(1)
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
