"""Connection configuration, tune negotiation and SASL responses.

Negotiation rules (those of pika and the RabbitMQ Java client, but for
``frame_max``):

* ``channel_max``: ``None`` accepts the broker's proposal; otherwise, when
  either side says 0 ("no limit") the other side's value wins, else the
  smaller value. A ``channel_max`` of 0 allows every channel number up to
  65535.
* ``frame_max`` is the client's ceiling and always applies, whatever the
  broker proposes: the FrameReader refuses larger inbound frames on their
  header, so a broken or hostile peer cannot make the client buffer up to
  4 GiB for one frame. The default is 131072 (:data:`DEFAULT_FRAME_MAX`,
  RabbitMQ's default, and pika's and amqp091-go's); a larger value must be
  asked for. A broker proposal of 0 ("no limit") or above the ceiling is
  clamped to the ceiling, a smaller one is accepted; Connection.TuneOk
  answers the result, and the reader and the publish encoder use it. The
  client's own 0 means "no preference of mine": the default ceiling (not "no
  limit", which the client never offers; aiormq, whose URLs may carry it,
  ignores ``frame_max``). The negotiated value is never below the spec's
  ``frame-min-size`` (4096).
* ``heartbeat`` (seconds): ``None`` accepts the broker's proposal, any other
  value is used as is and 0 disables heartbeats (pika's rule; RabbitMQ accepts
  whatever the client answers in Connection.TuneOk).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from ..codec.frames import FRAME_MIN_SIZE
from ..codec.table import FieldTable, FieldValue, encode_table

__all__ = [
    "CAPABILITIES",
    "DEFAULT_FRAME_MAX",
    "MECHANISMS",
    "ConnectionConfig",
    "Tuning",
    "build_client_properties",
    "choose_mechanism",
    "negotiate_tuning",
    "sasl_response",
]

#: SASL mechanisms the core can answer, in the order "auto" prefers them.
#: EXTERNAL (TLS client certificate) is used only when asked for by name.
MECHANISMS: Final = ("PLAIN", "AMQPLAIN", "EXTERNAL")
_AUTO_MECHANISMS: Final = ("PLAIN", "AMQPLAIN")
CHANNEL_MAX_LIMIT: Final = 65535
FRAME_MAX_LIMIT: Final = 0xFFFFFFFF
HEARTBEAT_LIMIT: Final = 65535
#: The client's frame_max ceiling unless configured (RabbitMQ's default).
DEFAULT_FRAME_MAX: Final = 131072
#: RabbitMQ's ceiling for ``max_message_size``; no valid message is larger.
DEFAULT_MAX_BODY_SIZE: Final = 512 * 1024 * 1024

#: Client capabilities announced in Connection.StartOk (RabbitMQ extensions).
CAPABILITIES: Final[Mapping[str, FieldValue]] = {
    "publisher_confirms": True,
    "exchange_exchange_bindings": True,
    "basic.nack": True,
    "consumer_cancel_notify": True,
    "connection.blocked": True,
    "authentication_failure_close": True,
    "per_consumer_qos": True,
    "direct_reply_to": True,
}


@dataclass(frozen=True, slots=True)
class ConnectionConfig:
    """Everything the core needs to run the handshake.

    ``None`` for ``channel_max`` and ``heartbeat`` accepts the broker's
    proposal; ``frame_max`` is the client's ceiling on frame sizes, which
    applies whatever the broker proposes (0 is read as the default, 131072;
    see the module docstring for the rules).
    ``auth_mechanism`` is ``"PLAIN"``, ``"AMQPLAIN"``, ``"EXTERNAL"`` or
    ``None`` (PLAIN, else AMQPLAIN, whichever the broker offers).
    ``max_body_size`` bounds inbound message bodies (0 = no bound).
    """

    username: str = "guest"
    password: str = field(default="guest", repr=False)
    virtualhost: str = "/"
    auth_mechanism: str | None = None
    client_properties: Mapping[str, FieldValue] = field(default_factory=dict)
    connection_name: str | None = None
    channel_max: int | None = None
    frame_max: int = DEFAULT_FRAME_MAX
    heartbeat: int | None = None
    locale: str = "en_US"
    max_body_size: int = DEFAULT_MAX_BODY_SIZE

    def __post_init__(self) -> None:
        if self.auth_mechanism is not None and self.auth_mechanism not in MECHANISMS:
            raise ValueError(
                f"auth_mechanism must be one of {MECHANISMS} or None, "
                f"not {self.auth_mechanism!r}"
            )
        _check_range("channel_max", self.channel_max, CHANNEL_MAX_LIMIT)
        _check_range("frame_max", self.frame_max, FRAME_MAX_LIMIT)
        _check_range("heartbeat", self.heartbeat, HEARTBEAT_LIMIT)
        if self.frame_max == 0:
            # "no preference": the default ceiling, never "no limit"
            object.__setattr__(self, "frame_max", DEFAULT_FRAME_MAX)
        elif self.frame_max < FRAME_MIN_SIZE:
            raise ValueError(
                f"frame_max must be at least {FRAME_MIN_SIZE} "
                f"(or 0 for the default, {DEFAULT_FRAME_MAX})"
            )
        if self.max_body_size < 0:
            raise ValueError("max_body_size must not be negative")


def _check_range(name: str, value: int | None, limit: int) -> None:
    if value is not None and not 0 <= value <= limit:
        raise ValueError(f"{name} must be between 0 and {limit}, not {value}")


@dataclass(frozen=True, slots=True)
class Tuning:
    """Negotiated connection limits.

    ``channel_max`` is the highest usable channel number (never 0),
    ``frame_max`` the largest frame in bytes, both directions (never 0: at
    most the client's ceiling, at least 4096), ``heartbeat`` the heartbeat
    timeout in seconds (0 = disabled).
    """

    channel_max: int
    frame_max: int
    heartbeat: int


def _negotiate(client: int | None, server: int) -> int:
    if client is None:
        return server
    if client == 0 or server == 0:
        return max(client, server)
    return min(client, server)


def _clamp_frame_max(ceiling: int, server: int) -> int:
    # The broker's 0 ("no limit") and anything above the client's ceiling
    # become the ceiling: the client's limit holds whatever the server says.
    wire = ceiling if server == 0 else min(server, ceiling)
    # spec, Connection.Tune frame-max: "the minimum negotiated value for
    # frame-max is also frame-min-size".
    return max(wire, FRAME_MIN_SIZE)


def negotiate_tuning(
    config: ConnectionConfig, channel_max: int, frame_max: int, heartbeat: int
) -> tuple[Tuning, tuple[int, int, int]]:
    """Apply the rules to the broker's Connection.Tune proposal.

    Returns the effective ``Tuning`` and the ``(channel_max, frame_max,
    heartbeat)`` to answer in Connection.TuneOk (a ``channel_max`` of 0 kept
    where it means "no limit", as the spec's domains say; ``frame_max`` is
    never 0).
    """
    wire_channel_max = _negotiate(config.channel_max, channel_max)
    wire_frame_max = _clamp_frame_max(config.frame_max, frame_max)
    wire_heartbeat = heartbeat if config.heartbeat is None else config.heartbeat
    tuning = Tuning(
        channel_max=wire_channel_max or CHANNEL_MAX_LIMIT,
        frame_max=wire_frame_max,
        heartbeat=wire_heartbeat,
    )
    return tuning, (wire_channel_max, wire_frame_max, wire_heartbeat)


def choose_mechanism(offered: bytes, requested: str | None) -> str | None:
    """Pick the SASL mechanism from the broker's space-separated list.

    Returns ``None`` when nothing acceptable is offered.
    """
    names = offered.decode("ascii", "replace").split()
    if requested is not None:
        return requested if requested in names else None
    for name in _AUTO_MECHANISMS:
        if name in names:
            return name
    return None


def sasl_response(mechanism: str, username: str, password: str) -> bytes:
    """The initial response for ``mechanism`` (none of them has a challenge)."""
    if mechanism == "PLAIN":
        # RFC 4616: [authzid] NUL authcid NUL passwd
        return b"\x00" + username.encode() + b"\x00" + password.encode()
    if mechanism == "AMQPLAIN":
        # A field table without its 32-bit length prefix (RabbitMQ's AMQPLAIN).
        return encode_table({"LOGIN": username, "PASSWORD": password})[4:]
    if mechanism == "EXTERNAL":
        # The identity comes from the TLS client certificate.
        return b""
    raise ValueError(f"unsupported SASL mechanism {mechanism!r}")


# what platform.python_implementation() and python_version() say, without
# importing platform (on Python 3.10 it imports subprocess, threading and
# selectors: no I/O module in the core)
_PLATFORM: Final = "{} {}.{}.{}".format(
    {"cpython": "CPython", "pypy": "PyPy"}.get(
        sys.implementation.name, sys.implementation.name
    ),
    *sys.version_info[:3],
)


def build_client_properties(config: ConnectionConfig) -> FieldTable:
    """Client properties for Connection.StartOk.

    ``config.client_properties`` overrides the defaults key by key; a
    ``capabilities`` table given there is merged into the core's.
    """
    props: dict[str, FieldValue] = {
        "product": "amqpio",
        "platform": _PLATFORM,
        "information": "pure-Python AMQP 0-9-1 client for asyncio",
        "capabilities": dict(CAPABILITIES),
    }
    for key, value in config.client_properties.items():
        if key == "capabilities" and isinstance(value, Mapping):
            props["capabilities"] = {**CAPABILITIES, **value}
        else:
            props[key] = value
    if config.connection_name is not None:
        props["connection_name"] = config.connection_name
    return props
