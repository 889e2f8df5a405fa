"""Broker URLs and ``connect()`` keywords -> :class:`ConnectParams` (pure, no I/O).

Accepted forms, compatible with aio-pika / aiormq::

    amqp[s]://[user[:password]@]host[:port][/vhost][?query]
    amqp://user:password@h1:5672,h2:5673,[::1]/vhost     (parse_hosts only)

Any object whose ``str()`` is such a URL works (``yarl.URL``). Without a URL
the ``host``/``port``/``login``/``password``/``virtualhost``/``ssl`` keywords
build one, as aio-pika's ``make_url`` does; with a URL they are ignored.
``ssl_options``, ``client_properties`` and any other keyword override the
URL's query parameters of the same name.

Defaults and rules (aiormq's unless noted):

* port 5672, or 5671 for ``amqps`` (also for ``ssl=True`` without a port,
  where aio-pika would keep 5672);
* user and password are percent-decoded; empty means ``guest``;
* the virtual host is the percent-decoded path after the first ``/``; an
  empty path or ``/`` means ``/`` (``amqp://h/%2f`` is ``/`` too,
  ``amqp://h/vh`` is ``vh``);
* ``heartbeat`` defaults to 60 seconds (aiormq sends 60 whatever the broker
  proposes); 0 disables heartbeats;
* ``channel_max`` defaults to the broker's proposal;
* ``frame_max`` (bytes) is the client's ceiling on frame sizes, default 131072
  (RabbitMQ's default), at least 4096: it applies whatever the broker
  proposes (a proposal of 0, "no limit", or above it is clamped to it), so a
  larger frame is refused on its header. 0 means the default, not "no limit"
  (aiormq ignores ``frame_max``; see :mod:`amqpio.sansio.config`);
* ``auth`` is ``plain``, ``amqplain`` or ``external``; absent lets the
  connection pick PLAIN, else AMQPLAIN (aiormq: PLAIN only);
* ``name`` is the connection name shown by the broker; a ``connection_name``
  in ``client_properties`` wins over it (aiormq's order);
* ``connection_timeout`` or ``timeout`` (seconds) bounds connecting; the
  ``timeout`` keyword wins over both; default: no bound (aio-pika's); it
  raises ``asyncio.TimeoutError``;
* ``handshake_timeout`` (seconds, beyond aio-pika) is an absolute deadline on
  TCP connect, TLS and the AMQP handshake up to Connection.OpenOk, however
  slowly the server trickles bytes; default 10 (RabbitMQ's own
  ``handshake_timeout`` and the Java client's); 0, or the keyword ``None``,
  disables it. When it passes, ``HandshakeTimeoutError`` (an
  ``AMQPConnectionError`` and an ``asyncio.TimeoutError``) is raised and the
  socket closed. With a ``timeout`` too, the smaller bound applies (and
  ``timeout``'s plain ``asyncio.TimeoutError`` when it is not larger);
* ``cadata`` is base64 of DER certificates (aiormq's encoding) or PEM text;
  ``ca_certs`` is accepted as an alias of ``cafile`` (aio-pika's docstring);
* ``no_verify_ssl`` is a boolean (``1``/``true``/``yes``/``on`` or
  ``0``/``false``/``no``/``off``); aiormq treats anything but ``0`` as true.

Malformed values raise ``ValueError`` naming the parameter (aiormq silently
falls back to defaults). Unknown query parameters and keywords are kept, as
strings, in :attr:`ConnectParams.extra` (the robust connection reads
``reconnect_interval`` and ``fail_fast`` there).
"""

from __future__ import annotations

import binascii
from base64 import b64decode
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from .codec.table import FieldValue
from .sansio.config import DEFAULT_FRAME_MAX, ConnectionConfig

if TYPE_CHECKING:
    import ssl as _ssl

__all__ = [
    "DEFAULT_HANDSHAKE_TIMEOUT",
    "DEFAULT_HEARTBEAT",
    "DEFAULT_PORTS",
    "ConnectParams",
    "parse_hosts",
    "parse_url",
]

DEFAULT_PORTS: Final[Mapping[str, int]] = {"amqp": 5672, "amqps": 5671}
#: aiormq's heartbeat when the URL gives none (seconds).
DEFAULT_HEARTBEAT: Final = 60
#: Deadline on TCP + TLS + AMQP handshake when none is given (seconds): the
#: broker's own handshake_timeout and the RabbitMQ Java client's default.
DEFAULT_HANDSHAKE_TIMEOUT: Final = 10.0

_AUTH: Final[Mapping[str, str]] = {
    "plain": "PLAIN",
    "amqplain": "AMQPLAIN",
    "external": "EXTERNAL",
}
_TRUE: Final = frozenset({"1", "true", "yes", "y", "on", "enable", "enabled"})
_FALSE: Final = frozenset({"0", "false", "no", "n", "off", "disable", "disabled", ""})
#: Parameters this module interprets; everything else goes to ``extra``.
_KNOWN: Final = frozenset(
    {
        "name",
        "heartbeat",
        "connection_timeout",
        "timeout",
        "handshake_timeout",
        "cafile",
        "ca_certs",
        "capath",
        "cadata",
        "keyfile",
        "certfile",
        "no_verify_ssl",
        "cert_reqs",
        "auth",
        "frame_max",
        "channel_max",
        "interleave",
        "happy_eyeballs_delay",
    }
)


@dataclass(frozen=True, slots=True)
class ConnectParams:
    """Where and how to connect: one broker address plus the handshake config.

    ``cadata`` is ``bytes`` (DER) when it came base64-encoded, ``str`` for
    PEM text. ``timeout`` bounds the TCP/TLS connect and handshake (``None``:
    no bound) with ``asyncio.TimeoutError``; ``handshake_timeout`` bounds them
    too, with ``HandshakeTimeoutError`` (``None``: no bound). ``interleave``
    and ``happy_eyeballs_delay`` are passed to ``loop.create_connection`` when
    set (aio-pika's connection parameters).
    """

    host: str = "localhost"
    port: int = 5672
    ssl: bool = False
    cafile: str | None = None
    capath: str | None = None
    cadata: str | bytes | None = field(default=None, repr=False)
    keyfile: str | None = None
    certfile: str | None = None
    no_verify_ssl: bool = False
    ssl_context: _ssl.SSLContext | None = field(default=None, compare=False)
    timeout: float | None = None
    handshake_timeout: float | None = DEFAULT_HANDSHAKE_TIMEOUT
    interleave: int | None = None
    happy_eyeballs_delay: float | None = None
    config: ConnectionConfig = field(default_factory=ConnectionConfig)
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def scheme(self) -> str:
        """``amqps`` with TLS, else ``amqp``."""
        return "amqps" if self.ssl else "amqp"

    @property
    def ssl_options(self) -> dict[str, Any]:
        """The TLS options that are set, under aio-pika's ``ssl_options`` keys."""
        options = {
            "cafile": self.cafile,
            "capath": self.capath,
            "cadata": self.cadata,
            "keyfile": self.keyfile,
            "certfile": self.certfile,
        }
        result: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
        if self.no_verify_ssl:
            result["no_verify_ssl"] = True
        return result

    @property
    def url(self) -> str:
        """``scheme://user:password@host:port/vhost`` (no query), password included."""
        return self._url(quote(self.config.password, safe=""))

    @property
    def safe_url(self) -> str:
        """:attr:`url` with the password masked, for logs and repr."""
        return self._url("******")

    def _url(self, password: str) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = quote(self.config.username, safe="")
        vhost = quote(self.config.virtualhost, safe="")
        return f"{self.scheme}://{user}:{password}@{host}:{self.port}/{vhost}"


def parse_url(
    url: object = None,
    *,
    host: str = "localhost",
    port: int | None = None,
    login: str = "guest",
    password: str = "guest",
    virtualhost: str = "/",
    ssl: bool = False,
    ssl_options: Mapping[str, Any] | None = None,
    ssl_context: _ssl.SSLContext | None = None,
    timeout: float | None = None,
    client_properties: Mapping[str, FieldValue] | None = None,
    **kwargs: Any,
) -> ConnectParams:
    """Parse ``connect()``'s arguments for a single broker.

    ``url`` is ``None``, a ``str`` or any object whose ``str()`` is a URL.
    Raises ``ValueError`` for a malformed URL or parameter, and for a URL
    naming several hosts (use :func:`parse_hosts`).
    """
    params = parse_hosts(
        url,
        host=host,
        port=port,
        login=login,
        password=password,
        virtualhost=virtualhost,
        ssl=ssl,
        ssl_options=ssl_options,
        ssl_context=ssl_context,
        timeout=timeout,
        client_properties=client_properties,
        **kwargs,
    )
    if len(params) > 1:
        raise ValueError(
            f"URL {_censor(str(url))!r} names {len(params)} hosts; "
            "use parse_hosts() for a list of brokers"
        )
    return params[0]


def parse_hosts(
    url_or_list: object = None,
    *,
    host: str = "localhost",
    port: int | None = None,
    login: str = "guest",
    password: str = "guest",
    virtualhost: str = "/",
    ssl: bool = False,
    ssl_options: Mapping[str, Any] | None = None,
    ssl_context: _ssl.SSLContext | None = None,
    timeout: float | None = None,
    client_properties: Mapping[str, FieldValue] | None = None,
    **kwargs: Any,
) -> list[ConnectParams]:
    """Parse one URL, a multi-host URL or a list/tuple of URLs, in order.

    Every address gets the same keyword overrides; a host without a port
    gets its scheme's default port. Raises ``ValueError`` as
    :func:`parse_url` does, and for an empty list.
    """
    overrides = dict(ssl_options or {})
    overrides.update(kwargs)
    urls: Iterable[object]
    if isinstance(url_or_list, (list, tuple)):
        urls = url_or_list
        if not urls:
            raise ValueError("no broker URL given")
    else:
        urls = (url_or_list,)

    result: list[ConnectParams] = []
    for url in urls:
        if url is None:
            scheme = "amqps" if ssl else "amqp"
            if port is not None and not 0 < port <= 65535:
                raise ValueError(f"port must be from 1 to 65535, not {port!r}")
            addresses = [(host or "localhost", port)]
            username, secret = login, password
            vhost = virtualhost or "/"
            query: dict[str, str] = {}
        else:
            scheme, addresses, username, secret, vhost, query = _split(str(url))
        options: dict[str, Any] = {**query, **overrides}
        common = _options(
            options,
            username=username or "guest",
            password=secret or "guest",
            virtualhost=vhost,
            timeout=timeout,
            client_properties=client_properties,
        )
        default_port = DEFAULT_PORTS[scheme]
        for address_host, address_port in addresses:
            result.append(
                ConnectParams(
                    host=address_host,
                    port=default_port if address_port is None else address_port,
                    ssl=scheme == "amqps",
                    ssl_context=ssl_context,
                    **common,
                )
            )
    return result


# -- URL syntax ------------------------------------------------------------------


def _split(
    url: str,
) -> tuple[str, list[tuple[str, int | None]], str, str, str, dict[str, str]]:
    """``(scheme, [(host, port)], user, password, vhost, query)`` of a URL."""
    text = url.strip()
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise ValueError(f"invalid broker URL {_censor(text)!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(
            f"broker URL must start with amqp:// or amqps://, not {_censor(text)!r}"
        )
    userinfo, _, hostlist = parts.netloc.rpartition("@")
    user, _, secret = userinfo.partition(":")
    addresses = [_address(item, text) for item in hostlist.split(",")]
    path = parts.path
    vhost = "/" if path in ("", "/") else unquote(path[1:])
    query: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        query.setdefault(key, value)  # the first occurrence wins (aiormq)
    return scheme, addresses, unquote(user), unquote(secret), vhost, query


def _address(item: str, url: str) -> tuple[str, int | None]:
    """``(host, port)`` of ``host``, ``host:port``, ``[v6]`` or ``[v6]:port``."""
    if item.startswith("["):
        end = item.find("]")
        if end < 0:
            raise ValueError(f"unclosed '[' in the host of {_censor(url)!r}")
        host, rest = item[1:end], item[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ValueError(f"unexpected {rest!r} after ']' in {_censor(url)!r}")
        port_text = rest[1:]
    else:
        host, _, port_text = item.partition(":")
        if ":" in port_text:
            raise ValueError(f"IPv6 address must be in brackets in {_censor(url)!r}")
    port: int | None = None
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) <= 65535:
            raise ValueError(
                f"port must be a number from 1 to 65535, not {port_text!r} "
                f"in {_censor(url)!r}"
            )
        port = int(port_text)
    return unquote(host) or "localhost", port


def _censor(url: str) -> str:
    """``url`` with the password (if any) replaced by ``******``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    netloc_end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    userinfo, at, hosts = rest[:netloc_end].rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.partition(":")[0]
    return f"{scheme}://{user}:******@{hosts}{rest[netloc_end:]}"


# -- parameters ------------------------------------------------------------------


def _options(
    options: Mapping[str, Any],
    *,
    username: str,
    password: str,
    virtualhost: str,
    timeout: float | None,
    client_properties: Mapping[str, FieldValue] | None,
) -> dict[str, Any]:
    """The ConnectParams fields (but address and TLS flag) from merged options."""
    props = dict(client_properties or {})
    name = props.get("connection_name")
    if not isinstance(name, str) or not name:
        name = _text(options, "name")
    if timeout is None:
        timeout = _number(options, "connection_timeout")
        if timeout is None:
            timeout = _number(options, "timeout")
    elif timeout < 0:
        raise ValueError(f"timeout must not be negative, not {timeout!r}")
    heartbeat = _integer(options, "heartbeat")
    frame_max = _integer(options, "frame_max")
    config = ConnectionConfig(
        username=username,
        password=password,
        virtualhost=virtualhost,
        auth_mechanism=_auth(options),
        client_properties=props,
        connection_name=name,
        channel_max=_integer(options, "channel_max"),
        frame_max=DEFAULT_FRAME_MAX if frame_max is None else frame_max,
        heartbeat=DEFAULT_HEARTBEAT if heartbeat is None else heartbeat,
    )
    return {
        "cafile": _text(options, "cafile") or _text(options, "ca_certs"),
        "capath": _text(options, "capath"),
        "cadata": _cadata(options.get("cadata")),
        "keyfile": _text(options, "keyfile"),
        "certfile": _text(options, "certfile"),
        "no_verify_ssl": _boolean(options, "no_verify_ssl")
        or _cert_none(options.get("cert_reqs")),
        "timeout": None if timeout is None else float(timeout),
        "handshake_timeout": _handshake_timeout(options),
        "interleave": _integer(options, "interleave"),
        "happy_eyeballs_delay": _number(options, "happy_eyeballs_delay"),
        "config": config,
        "extra": {
            key: _query_text(value)
            for key, value in options.items()
            if key not in _KNOWN and value is not None
        },
    }


def _query_text(value: object) -> str:
    """A keyword value as aio-pika's ``make_url`` puts it in the query."""
    if isinstance(value, bool):
        return str(int(value))
    return str(value)


def _text(options: Mapping[str, Any], name: str) -> str | None:
    value = options.get(name)
    if value is None or value == "":
        return None
    return str(value)


def _integer(options: Mapping[str, Any], name: str) -> int | None:
    value = options.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    if not text.isdigit():
        raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
    return int(text)


def _number(options: Mapping[str, Any], name: str) -> float | None:
    value = options.get(name)
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number of seconds, not {value!r}") from None
    if not number >= 0 or number == float("inf"):  # also rejects NaN
        raise ValueError(f"{name} must be a finite non-negative number, not {value!r}")
    return number


def _handshake_timeout(options: Mapping[str, Any]) -> float | None:
    """Absent (or empty): the default; the keyword ``None`` or 0: no deadline."""
    if "handshake_timeout" in options and options["handshake_timeout"] is None:
        return None
    seconds = _number(options, "handshake_timeout")
    if seconds is None:
        return DEFAULT_HANDSHAKE_TIMEOUT
    return seconds or None


def _boolean(options: Mapping[str, Any], name: str) -> bool:
    value = options.get(name)
    if value is None:
        return False
    if isinstance(value, (bool, int)):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{name} must be a boolean (1/0, true/false), not {value!r}")


def _cert_none(value: object) -> bool:
    """aio-pika's ``ssl_options={"cert_reqs": ssl.CERT_NONE}`` (in the query: 0)."""
    if value is None:
        return False
    text = str(getattr(value, "name", value)).strip().upper()
    return text in ("0", "CERT_NONE")


def _auth(options: Mapping[str, Any]) -> str | None:
    value = _text(options, "auth")
    if value is None:
        return None
    mechanism = _AUTH.get(value.strip().lower())
    if mechanism is None:
        raise ValueError(f"auth must be one of {', '.join(_AUTH)}, not {value!r}")
    return mechanism


def _cadata(value: object) -> str | bytes | None:
    """PEM text as is; base64 (aiormq's URL encoding of DER) decoded to bytes."""
    if value is None or value == "" or value == b"":
        return None
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    text = str(value)
    if "-----BEGIN" in text:
        return text
    # A literal "+" in a query string reads back as a space.
    compact = "".join(text.replace(" ", "+").split())
    try:
        return b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(
            "cadata must be PEM text or base64-encoded DER certificates"
        ) from None
