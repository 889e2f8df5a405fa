"""RobustConnection and ``connect_robust()``: reconnect, fail over, restore.

Theory of operation. ``connect()`` tries each broker address once (a list of
URLs, or one URL naming several hosts, tried round-robin from a shuffled
order); with ``fail_fast`` (the default, as aio-pika) the last error is raised
when none answers, else it keeps trying. Once connected, one supervisor task
waits for the transport to end. When it ends without ``close()``:

1. ``close_callbacks`` get the reason, ``connected`` is cleared and
   ``reconnecting`` becomes true; every channel marks itself down (its calls
   wait, up to their timeout, see :mod:`amqpio.robust_channel`);
2. after ``reconnect_interval`` (as aio-pika; at once for :meth:`reconnect`)
   every address is tried in turn; each further round of failures waits
   longer: the delay doubles up to ``reconnect_max_interval``, each delay
   shortened by up to half at random (jitter). A connection that worked
   resets the growth, however short-lived it was: only consecutive failures
   back off;
3. on a new connection every channel the application holds (strong
   references, until it closes them) is reopened, then the recorded topology
   of all of them is replayed in dependency order (QoS, exchanges, queues,
   exchange bindings, queue bindings, consumers; see :mod:`amqpio._topology`).
   A channel whose replay hits a channel exception (e.g. 405 RESOURCE_LOCKED
   while the broker still holds the exclusive queues of the lost connection)
   is retried on its own with backoff; a connection error starts over at 2;
4. ``reconnect_callbacks`` are called and waiting calls go ahead.

``recovery_timeout`` (seconds, default 60) bounds how long a call without a
``timeout`` waits for a recovery before raising
:class:`~amqpio.exceptions.RecoveryTimeoutError`.

Each attempt is bounded by ``handshake_timeout`` (default 10 s, see
:func:`amqpio.connect`) and by the attempt timeout (``connect(timeout=...)``,
the URL's ``connection_timeout``, else ``DEFAULT_ATTEMPT_TIMEOUT``), whichever
is smaller: a broker that accepts the socket but never completes the
handshake is a failed attempt (``HandshakeTimeoutError``) like a refused
connection, and the next address or round follows.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import ssl as ssl_module
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AsyncExitStack
from typing import Any, Generic, TypeVar, cast
from urllib.parse import parse_qsl, urlsplit

from . import exceptions as exc
from ._topology import replay_plan
from ._url import ConnectParams, parse_hosts
from ._url_object import to_url
from ._version import __version__
from .abc import AbstractRobustConnection, FieldValue, SSLOptions, TimeoutType
from .connection import Connection, connect, url_of
from .log import logger
from .robust_channel import (
    CHANNEL_ERRORS,
    Flag,
    RobustChannel,
    restoring,
    wait_for_flag,
)
from .tools import CallbackCollection

__all__ = ("Backoff", "HostRotation", "RobustConnection", "connect_robust")

log = logger.getChild("robust_connection")

_T = TypeVar("_T")


class Backoff:
    """Exponential backoff with jitter and a cap.

    The delay before retry ``n`` (1 for the first retry) is
    ``min(cap, base * factor ** (n - 1))``, shortened by a random fraction of
    up to ``jitter`` of itself (``jitter=0.5``: between half and all of it),
    so that clients cut off together do not come back together. ``random``
    returns floats in ``[0, 1)``; pass a seeded one for tests.
    """

    def __init__(
        self,
        base: float,
        cap: float,
        *,
        factor: float = 2.0,
        jitter: float = 0.5,
        random: Callable[[], float] = random.random,
    ) -> None:
        if base < 0 or cap < 0:
            raise ValueError("backoff delays must not be negative")
        if factor < 1:
            raise ValueError("backoff factor must be at least 1")
        if not 0 <= jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")
        self.base = base
        self.cap = max(cap, base)
        self.factor = factor
        self.jitter = jitter
        self.random = random

    def __repr__(self) -> str:
        return (
            f"Backoff(base={self.base!r}, cap={self.cap!r}, "
            f"factor={self.factor!r}, jitter={self.jitter!r})"
        )

    def ceiling(self, retry: int) -> float:
        """The delay before retry ``retry`` without jitter (0 for ``retry < 1``)."""
        if retry < 1:
            return 0.0
        # past 2**64 the cap has long won; keep the power finite
        growth = float(self.factor ** min(retry - 1, 64))
        return min(self.cap, self.base * growth)

    def delay(self, retry: int) -> float:
        """The delay before retry ``retry``, jitter applied."""
        ceiling = self.ceiling(retry)
        return ceiling * (1.0 - self.jitter * self.random())


class HostRotation(Generic[_T]):
    """Round-robin over broker addresses, from a shuffled order."""

    def __init__(self, hosts: Sequence[_T], rng: random.Random | None = None) -> None:
        if not hosts:
            raise ValueError("no broker address")
        order = list(hosts)
        if len(order) > 1:
            (rng or random.Random()).shuffle(order)
        self.hosts: tuple[_T, ...] = tuple(order)
        self._index = 0

    def __len__(self) -> int:
        return len(self.hosts)

    @property
    def current(self) -> _T:
        return self.hosts[self._index]

    def advance(self) -> _T:
        """Move to the next address and return it."""
        self._index = (self._index + 1) % len(self.hosts)
        return self.hosts[self._index]


def _seconds(extra: Mapping[str, str], name: str, default: float) -> float:
    text = extra.get(name)
    if text is None or text == "":
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {text!r}") from None
    if not value >= 0:
        raise ValueError(f"{name} must not be negative, not {text!r}")
    return value


def _flag(extra: Mapping[str, str], name: str, default: bool) -> bool:
    text = extra.get(name)
    if text is None or text == "":
        return default
    value = text.strip().lower()
    if value in ("1", "true", "yes", "y", "on"):
        return True
    if value in ("0", "false", "no", "n", "off"):
        return False
    raise ValueError(f"{name} must be a boolean (1/0, true/false), not {text!r}")


def _with_version(params: ConnectParams) -> ConnectParams:
    """Add the library version to the client properties, as Connection does."""
    properties = params.config.client_properties
    if "version" in properties:
        return params
    config = dataclasses.replace(
        params.config, client_properties={"version": __version__, **properties}
    )
    return dataclasses.replace(params, config=config)


class RobustConnection(Connection, AbstractRobustConnection):
    """A connection that reconnects and restores its channels by itself.

    URL or keyword parameters, besides :class:`Connection`'s:
    ``reconnect_interval`` (seconds, default 5: the first delay of the
    backoff), ``reconnect_max_interval`` (its cap, default 30 or
    ``reconnect_interval`` if larger), ``fail_fast`` (default true: the first
    ``connect()`` raises when no broker answers) and ``recovery_timeout``
    (default 60: how long calls without a timeout wait for a recovery).
    """

    CHANNEL_CLASS: type[RobustChannel] = RobustChannel

    DEFAULT_RECONNECT_INTERVAL: float = 5.0
    DEFAULT_RECONNECT_MAX_INTERVAL: float = 30.0
    DEFAULT_RECOVERY_TIMEOUT: float = 60.0
    #: Bound on one connection attempt when neither ``connect(timeout=...)``
    #: nor the URL's ``connection_timeout`` gives one (seconds); the
    #: ``handshake_timeout`` (default 10) applies when it is smaller.
    DEFAULT_ATTEMPT_TIMEOUT: float = 30.0

    def __init__(
        self,
        url: Any = None,
        loop: asyncio.AbstractEventLoop | None = None,
        ssl_context: ssl_module.SSLContext | None = None,
        client_properties: Mapping[str, FieldValue] | None = None,
        **kwargs: Any,
    ) -> None:
        hosts = parse_hosts(url, client_properties=client_properties, **kwargs)
        #: The application's URL when it names one broker: Connection.url is
        #: that object (with its query); else one is built per address.
        single = url is not None and not isinstance(url, (list, tuple))
        self._given_url: Any = to_url(url) if single and len(hosts) == 1 else None
        #: The query of a URL naming several hosts, kept in each address's URL.
        self._url_query: dict[str, str] = (
            dict(parse_qsl(urlsplit(str(url)).query)) if single else {}
        )
        # the base parses one address; the addresses to use are set below
        super().__init__(
            None,
            loop=loop,
            ssl_context=ssl_context,
            client_properties=client_properties,
            **kwargs,
        )
        extra = hosts[0].extra
        self.reconnect_interval: float = _seconds(
            extra, "reconnect_interval", self.DEFAULT_RECONNECT_INTERVAL
        )
        self.reconnect_max_interval: float = _seconds(
            extra,
            "reconnect_max_interval",
            max(self.DEFAULT_RECONNECT_MAX_INTERVAL, self.reconnect_interval),
        )
        self.fail_fast: bool = _flag(extra, "fail_fast", True)
        recovery = _seconds(extra, "recovery_timeout", self.DEFAULT_RECOVERY_TIMEOUT)
        #: How long a call without a timeout waits for a recovery (None: forever).
        self.recovery_timeout: float | None = (
            None if recovery == float("inf") else recovery
        )
        self._rng = random.Random()
        self._rotation: HostRotation[ConnectParams] = HostRotation(
            [_with_version(h) for h in hosts], self._rng
        )
        self._use(self._rotation.current)
        self.reconnect_callbacks: CallbackCollection[AbstractRobustConnection, []] = (
            CallbackCollection(self)
        )
        #: Number of connections made so far (aio-pika's attribute).
        self.connection_attempt = 0
        self._channels: dict[RobustChannel, None] = {}
        self._supervisor: asyncio.Task[None] | None = None
        #: Set while connected and restored (cleared on a loss).
        self._recovered = Flag()
        #: Set while the transport is open (an asyncio.Event, as aio-pika's).
        self.connected: Flag = Flag()
        self._reconnecting = False
        #: reconnect() asked for an immediate reconnect
        self._reconnect_now = False
        self._connect_timeout: TimeoutType = None
        self._last_error: BaseException | None = None

    def __repr__(self) -> str:
        return f'<{type(self).__name__}: "{self}" {len(self._channels)} channels>'

    @property
    def hosts(self) -> tuple[ConnectParams, ...]:
        """The broker addresses, in the order they are tried."""
        return self._rotation.hosts

    def add_reconnect_callback(self, callback: Any, weak: bool = False) -> None:
        """aio-pika 6 API: ``reconnect_callbacks.add(callback, weak=weak)``."""
        self.reconnect_callbacks.add(callback, weak=weak)

    @property
    def reconnecting(self) -> bool:
        """True from a connection loss until the connection is restored."""
        return self._reconnecting

    @property
    def last_error(self) -> BaseException | None:
        """Why the connection was last lost (or the last attempt failed)."""
        return self._last_error

    def _use(self, params: ConnectParams) -> None:
        self._params = params
        given = self._given_url
        self.url = given if given is not None else url_of(params, self._url_query)

    def _backoff(self, base: float | None = None) -> Backoff:
        return Backoff(
            self.reconnect_interval if base is None else base,
            self.reconnect_max_interval,
            random=self._rng.random,
        )

    def _retry_delay(self, base: float, retry: int) -> float:
        """Delay before retry ``retry`` of a channel-level recovery."""
        return self._backoff(min(base, self.reconnect_max_interval)).delay(retry)

    def _attempt_timeout(self) -> float:
        if self._connect_timeout is not None:
            return float(self._connect_timeout)
        if self._params.timeout is not None:
            return self._params.timeout
        return self.DEFAULT_ATTEMPT_TIMEOUT

    # -- channels ----------------------------------------------------------------

    def channel(
        self,
        channel_number: int | None = None,
        publisher_confirms: bool = True,
        on_return_raises: bool = False,
    ) -> RobustChannel:
        """A new robust channel: ``await`` it, or use it with ``async with``.

        The connection keeps it (and restores it after every reconnect) until
        it is closed.
        """
        channel = cast(
            RobustChannel,
            super().channel(
                channel_number=channel_number,
                publisher_confirms=publisher_confirms,
                on_return_raises=on_return_raises,
            ),
        )
        self._channels[channel] = None
        return channel

    def _robust_channels(self) -> Iterable[RobustChannel]:
        return tuple(self._channels)

    def _forget_channel(self, channel: RobustChannel) -> None:
        self._channels.pop(channel, None)

    def _adopt_channel(self, channel: RobustChannel) -> None:
        if self.is_closed or self.close_called:
            raise exc.ChannelInvalidStateError("the connection is closed")
        self._channels[channel] = None

    # -- transport listener --------------------------------------------------------

    def on_closed(self, error: BaseException) -> None:
        if self._close_called or self._closed.done():
            super().on_closed(error)
            return
        self._last_error = error
        self.connected.clear()
        self._recovered.clear()
        if self._reconnecting:
            return  # a failed attempt or restore: the recovery loop handles it
        self._reconnecting = True
        log.warning("Connection to %s lost: %r; reconnecting", self, error)
        self.close_callbacks(error)

    # -- connecting ----------------------------------------------------------------

    async def _attempt(self, params: ConnectParams) -> None:
        """Connect to one address (the base does the work)."""
        self._use(params)
        await Connection.connect(self, self._attempt_timeout())
        protocol = self.transport
        if protocol is None or not protocol.is_open:
            self.connected.clear()
            raise exc.AMQPConnectionError("the connection was lost as it opened")

    async def connect(self, timeout: TimeoutType = None) -> None:
        """Connect (called by :func:`connect_robust`); then stay connected.

        Tries every address once; when none answers, raises the last error if
        ``fail_fast`` is true, else keeps trying until one does.
        """
        if self.is_closed:
            raise RuntimeError(f"{self!r} connection closed")
        if self._supervisor is not None:
            await self.ready()
            return
        self._connect_timeout = timeout
        self._reconnecting = True
        try:
            error = await self._first_round()
            if error is not None:
                if self.fail_fast:
                    raise error
                await self._reconnect(retry=1)
                if self._close_called:
                    raise exc.AMQPConnectionError("closed while connecting") from error
            else:
                self._connected()
        finally:
            self._reconnecting = False
        self._supervisor = self.loop.create_task(self._supervise())

    async def _first_round(self) -> BaseException | None:
        """Try every address once; None when connected, else the last error."""
        error: BaseException | None = None
        for index in range(len(self._rotation)):
            params = self._rotation.current if index == 0 else self._rotation.advance()
            try:
                await self._attempt(params)
            except Exception as failure:
                error = self._last_error = failure
                log.warning("Connecting to %s failed: %r", params.safe_url, failure)
                continue
            return None
        return error

    def _connected(self) -> None:
        """Connected and restored."""
        self.connection_attempt += 1
        self._reconnecting = False
        self._recovered.set()

    async def _supervise(self) -> None:
        """Wait for the transport to end, then recover, until ``close()``."""
        while not self._close_called:
            protocol = self.transport
            if protocol is not None and protocol.is_open:
                await asyncio.wait((protocol.closed,))
            if self._close_called:
                return
            self._reconnecting = True
            self._recovered.clear()
            self.connected.clear()
            # a connection that worked was lost: the first attempt waits
            # reconnect_interval (at once when reconnect() asked for it)
            retry = 0 if self._reconnect_now else 1
            self._reconnect_now = False
            try:
                await self._reconnect(retry)
            except Exception:  # a bug must not end the reconnects for good
                log.exception("Reconnecting %s failed unexpectedly", self)
                self._drop_transport()
                await asyncio.sleep(self.reconnect_interval)

    async def _reconnect(self, retry: int) -> None:
        """Connect to the next addresses in turn, then restore every channel.

        Waits before each round of attempts: nothing for ``retry`` 0,
        ``reconnect_interval`` for retry 1 (the first after a loss), then the
        backoff for each consecutive round of failures (doubling, jittered,
        capped by ``reconnect_max_interval``).
        """
        backoff = self._backoff()
        try:
            while not self._close_called:
                if retry:
                    delay = backoff.ceiling(1) if retry == 1 else backoff.delay(retry)
                    log.info("Reconnecting to %s in %.2f s", self, delay)
                    await asyncio.sleep(delay)
                for _ in range(len(self._rotation)):
                    params = self._rotation.advance()
                    try:
                        await self._attempt(params)
                    except Exception as error:
                        self._last_error = error
                        log.warning(
                            "Connecting to %s failed: %r", params.safe_url, error
                        )
                        continue
                    try:
                        await self._restore()
                    except Exception as error:
                        self._last_error = error
                        log.warning(
                            "Restoring the channels on %s failed: %r", self, error
                        )
                        self._drop_transport()
                        continue
                    self._connected()
                    if self.connection_attempt > 1:
                        log.info("Reconnected to %s", self)
                        self.reconnect_callbacks()
                    return
                retry += 1
        finally:
            self._reconnecting = False

    def _drop_transport(self) -> None:
        self.connected.clear()
        protocol = self.transport
        if protocol is not None:
            protocol.abort()

    async def _restore(self) -> None:
        """Reopen every channel and replay their topology in dependency order."""
        channels = [
            channel
            for channel in self._channels
            if channel._initialized and not channel._gone()
        ]
        if not channels:
            return
        async with AsyncExitStack() as stack:
            for channel in channels:
                await stack.enter_async_context(channel._restore_lock)
            failed = await restoring(self._replay(channels))
        for channel in channels:
            if channel in failed:
                channel._schedule_restore()
            else:
                channel._mark_restored()

    async def _replay(self, channels: list[RobustChannel]) -> set[RobustChannel]:
        """The connection-wide replay; returns the channels that failed."""
        failed: set[RobustChannel] = set()
        timeout = RobustChannel.RESTORE_TIMEOUT
        for channel in channels:
            try:
                await channel._reopen_incarnation(timeout)
            except CHANNEL_ERRORS as error:
                log.warning("Reopening channel %s failed: %r", channel, error)
                failed.add(channel)
        plan = replay_plan(
            (channel, channel._topology)
            for channel in channels
            if channel not in failed
        )
        for step in plan:
            channel = step.owner
            if channel in failed:
                continue
            try:
                await channel._apply(step.record, timeout)
            except CHANNEL_ERRORS as error:
                log.warning(
                    "Restoring %r on channel %s failed: %r; retrying that channel alone",
                    step.record,
                    channel,
                    error,
                )
                failed.add(channel)
                await channel._drop_incarnation()
        return failed

    # -- waiting -------------------------------------------------------------------

    async def _wait_recovered(self, timeout: TimeoutType) -> TimeoutType:
        """Wait until connected and restored; return what is left of ``timeout``.

        Returns at once when closed (the caller raises its error); raises
        :class:`~amqpio.exceptions.RecoveryTimeoutError` when ``timeout`` (or
        ``recovery_timeout``) runs out.
        """
        if self._recovered.is_set() or self.is_closed or self._close_called:
            return timeout
        limit = timeout if timeout is not None else self.recovery_timeout
        started = self.loop.time()
        await wait_for_flag(self._recovered, self._closed, timeout=limit)
        if not self._recovered.is_set():
            if self.is_closed or self._close_called:
                return timeout
            raise exc.RecoveryTimeoutError(
                f"connection {self} was not re-established within {limit:g} s "
                f"(last error: {self._last_error!r})"
            )
        if timeout is None:
            return None
        return max(0.0, timeout - (self.loop.time() - started))

    async def _wait_recovered_forever(self) -> bool:
        """Wait until connected and restored; False once closed."""
        while not self._recovered.is_set():
            if self.is_closed or self._close_called:
                return False
            await wait_for_flag(self._recovered, self._closed)
        return True

    async def ready(self) -> None:
        """Wait until connected; raise if the connection was closed."""
        while not self.connected.is_set():
            if self.is_closed or self._close_called:
                raise exc.AMQPConnectionError(f"{self} is closed")
            await wait_for_flag(self.connected, self._closed)

    # -- closing -------------------------------------------------------------------

    async def reconnect(self) -> None:
        """Drop the connection now and wait until it is re-established and restored."""
        if self.is_closed or self._close_called:
            raise RuntimeError(f"{self!r} connection closed")
        if self._supervisor is None:
            await self.connect()
            return
        protocol = self.transport
        if protocol is not None and protocol.is_open:
            self._reconnect_now = True
            waiter = protocol.close(200, "reconnect requested by the application")
            try:
                await asyncio.wait_for(asyncio.shield(waiter), 10)
            except asyncio.TimeoutError:
                protocol.abort()
        if not await self._wait_recovered_forever():
            raise exc.AMQPConnectionError(f"{self} was closed while reconnecting")

    async def close(
        self, exc: BaseException | type[BaseException] | None = asyncio.CancelledError
    ) -> None:
        """Close the connection for good, with every channel."""
        self._begin_close(exc)
        task, self._supervisor = self._supervisor, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await super().close(exc)
        self._reconnecting = False
        reason: BaseException
        if exc is None or isinstance(exc, type):
            reason = (exc or asyncio.CancelledError)()
        else:
            reason = exc
        for channel in tuple(self._channels):
            if not channel._closed.done():
                channel._finalize(reason)
        self._channels.clear()

    async def update_secret(
        self, new_secret: str, *, reason: str = "", timeout: TimeoutType = None
    ) -> Any:
        """Connection.UpdateSecret; later reconnects log in with the new secret."""
        result = await super().update_secret(new_secret, reason=reason, timeout=timeout)
        hosts = [
            dataclasses.replace(
                host, config=dataclasses.replace(host.config, password=new_secret)
            )
            for host in self._rotation.hosts
        ]
        self._rotation.hosts = tuple(hosts)
        if self._given_url is not None:
            self._given_url = self._given_url.with_password(new_secret)
        self._use(self._rotation.current)
        return result

    async def __aenter__(self) -> RobustConnection:
        return self


async def connect_robust(
    url: Any = None,
    *,
    host: str = "localhost",
    port: int = 5672,
    login: str = "guest",
    password: str = "guest",
    virtualhost: str = "/",
    ssl: bool = False,
    loop: asyncio.AbstractEventLoop | None = None,
    ssl_options: SSLOptions | None = None,
    ssl_context: ssl_module.SSLContext | None = None,
    timeout: TimeoutType = None,
    client_properties: Mapping[str, FieldValue] | None = None,
    connection_class: type[RobustConnection] = RobustConnection,
    **kwargs: Any,
) -> RobustConnection:
    """Connect to the broker and stay connected (see :class:`RobustConnection`).

    Takes :func:`~amqpio.connect`'s arguments; ``url`` may also be a list of
    URLs or one URL with several hosts (``amqp://u:p@h1,h2:5673/``) to fail
    over between cluster nodes. ``reconnect_interval``, ``reconnect_max_interval``,
    ``fail_fast`` and ``recovery_timeout`` come as keywords or URL parameters,
    as does ``handshake_timeout`` (see :func:`~amqpio.connect`; an attempt that
    runs out of it is a failed attempt, retried as any other).
    """
    connection = await connect(
        url,
        host=host,
        port=port,
        login=login,
        password=password,
        virtualhost=virtualhost,
        ssl=ssl,
        loop=loop,
        ssl_options=ssl_options,
        ssl_context=ssl_context,
        timeout=timeout,
        client_properties=client_properties,
        connection_class=connection_class,
        **kwargs,
    )
    return cast(RobustConnection, connection)
