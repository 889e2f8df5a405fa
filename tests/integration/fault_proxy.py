"""A TCP proxy on loopback, between the client and the broker, that injects faults.

Runs in the test's event loop. Every accepted client connection gets its own
upstream connection to the broker and two pumps (one per direction). Faults:

* :meth:`FaultProxy.cut` aborts every live connection (both sockets, RST), as a
  network failure or a killed broker would;
* :meth:`FaultProxy.stall` black-holes every live connection: bytes are read
  and dropped, sockets stay open, so only heartbeats can tell;
* :meth:`FaultProxy.cut_clients` aborts the client sides only: the broker
  keeps the old connection (black-holed) until its heartbeat gives up, as when
  a client host vanishes;
* ``delay`` holds every chunk that long before forwarding it;
* ``cut_after`` aborts new connections once that many broker bytes went to the
  client (e.g. in the middle of the handshake);
* ``refuse`` accepts new connections and closes them at once.

With ``tap`` set, the proxy also reads the frames the clients send (parsed here
from the bytes, independently of amqpio's codec) and records every method in
``methods_up`` as ``(loop time, channel, class id, method id)``: what the
broker was sent, and when.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import urllib.parse

PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
FRAME_METHOD = 1


class _Link:
    def __init__(
        self,
        proxy: FaultProxy,
        client_reader: asyncio.StreamReader,
        client_writer: asyncio.StreamWriter,
    ) -> None:
        self.proxy = proxy
        self.client_reader = client_reader
        self.client_writer = client_writer
        self.upstream_writer: asyncio.StreamWriter | None = None
        self.stalled = False
        #: the client side was dropped: keep the broker side until it closes
        self.orphaned = False
        self.cut_after = proxy.cut_after
        self.sent_to_client = 0
        self._up = bytearray()  # client bytes not parsed yet (tap)
        self._header_seen = False

    def _tap(self, data: bytes) -> None:
        """Record the methods in the client's bytes (frame layout of the spec:
        type octet, channel short, size long, payload, frame-end octet)."""
        buffer = self._up
        buffer += data
        if not self._header_seen:
            if len(buffer) < len(PROTOCOL_HEADER):
                return
            assert buffer[:8] == PROTOCOL_HEADER, bytes(buffer[:8])
            del buffer[:8]
            self._header_seen = True
        now = asyncio.get_running_loop().time()
        while len(buffer) >= 7:
            kind, channel, size = struct.unpack_from(">BHI", buffer)
            if len(buffer) < 8 + size:
                return
            assert buffer[7 + size] == 0xCE, "frame end"
            if kind == FRAME_METHOD:
                class_id, method_id = struct.unpack_from(">HH", buffer, 7)
                self.proxy.methods_up.append((now, channel, class_id, method_id))
            del buffer[: 8 + size]

    def abort(self) -> None:
        for writer in (self.client_writer, self.upstream_writer):
            if writer is not None:
                writer.transport.abort()

    async def run(self) -> None:
        proxy = self.proxy
        try:
            reader, writer = await asyncio.open_connection(
                proxy.target_host, proxy.target_port
            )
        except OSError:
            self.client_writer.transport.abort()
            return
        self.upstream_writer = writer
        pumps = [
            asyncio.ensure_future(self._pump(self.client_reader, writer, False)),
            asyncio.ensure_future(self._pump(reader, self.client_writer, True)),
        ]
        try:
            done, _ = await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            if self.orphaned and pumps[0] in done:
                await pumps[1]  # until the broker gives up on the connection
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            self.abort()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, down: bool
    ) -> None:
        proxy = self.proxy
        while True:
            try:
                data = await reader.read(65536)
            except OSError:
                return
            if not data:
                return
            if self.stalled:
                continue
            if proxy.tap and not down:
                self._tap(data)
            if proxy.delay:
                await asyncio.sleep(proxy.delay)
            if down:
                proxy.bytes_to_clients += len(data)
            if down and self.cut_after is not None:
                room = self.cut_after - self.sent_to_client
                if len(data) >= room:
                    writer.write(data[:room])
                    with contextlib.suppress(OSError):
                        await writer.drain()
                    proxy.handshake_cuts += 1
                    self.abort()
                    return
                self.sent_to_client += len(data)
            writer.write(data)
            try:
                await writer.drain()
            except OSError:
                return


class FaultProxy:
    """See the module docstring."""

    def __init__(
        self, port: int, target_host: str, target_port: int, host: str = "127.0.0.1"
    ) -> None:
        self.host = host
        self.port = port
        self.target_host = target_host
        self.target_port = target_port
        self.delay = 0.0
        self.cut_after: int | None = None
        self.refuse = False
        self.accepted = 0
        #: loop.time() of every accepted connection (to observe reconnect spacing)
        self.accept_times: list[float] = []
        self.cuts = 0
        self.handshake_cuts = 0
        self.bytes_to_clients = 0
        self.tap = False
        self.methods_up: list[tuple[float, int, int, int]] = []
        self.links: set[_Link] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.base_events.Server | None = None

    def url(self, broker_url: str) -> str:
        """``broker_url`` pointing at the proxy instead of the broker."""
        parts = urllib.parse.urlsplit(broker_url)
        netloc = parts.netloc.rpartition("@")
        userinfo = netloc[0] + "@" if netloc[1] else ""
        return urllib.parse.urlunsplit(
            parts._replace(netloc=f"{userinfo}{self.host}:{self.port}")
        )

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(
            self._accept, self.host, self.port, reuse_address=True
        )
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self.cut()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.accepted += 1
        self.accept_times.append(asyncio.get_running_loop().time())
        if self.refuse:
            writer.transport.abort()
            return
        link = _Link(self, reader, writer)
        self.links.add(link)
        task = asyncio.ensure_future(link.run())
        self._tasks.add(task)

        def done(_: asyncio.Future[None]) -> None:
            self._tasks.discard(task)
            self.links.discard(link)

        task.add_done_callback(done)

    def cut(self) -> int:
        """Abort every live connection; return how many."""
        links = list(self.links)
        for link in links:
            link.abort()
        self.cuts += len(links)
        return len(links)

    def cut_clients(self) -> int:
        """Abort the client side of every live connection; the broker side stays
        open and black-holed until the broker closes it. Return how many."""
        links = list(self.links)
        for link in links:
            link.stalled = link.orphaned = True
            link.client_writer.transport.abort()
        self.cuts += len(links)
        return len(links)

    def stall(self) -> int:
        """Black-hole every live connection; return how many."""
        links = list(self.links)
        for link in links:
            link.stalled = True
        return len(links)
