"""What robust channels declared, as plain data, and the order to replay it in.

Theory of operation. A robust channel owns one :class:`Topology`. Each
successful declaration (QoS, exchange, queue, binding, consumer) is recorded
as a frozen record; deletions, unbinds and cancels forget records. Nothing
here does I/O or knows about channels: after a reconnect the robust layer asks
:func:`replay_plan` for the records of every channel, in dependency order,
and sends them again.

Dependency order is by kind first (:class:`Kind`): QoS, exchanges, queues,
exchange-to-exchange bindings, queue bindings, consumers. Within a kind,
records keep the order in which they were first declared (a sequence number
shared by all topologies, so the order holds across channels: a queue on one
channel may be bound to an exchange declared on another).

Bindings and consumers hang off a recorded owner (the bound queue, the
destination exchange, the consumed queue), as in aio-pika, whose robust
objects restore only what hangs off a restored entity: recording one for an
owner that is not recorded does nothing, and forgetting an owner forgets what
hangs off it. A passive declaration never replaces an active one of the same
name (``get_queue()`` after ``declare_queue()`` must not turn the redeclare
into a check).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import IntEnum
from typing import Any, ClassVar, Final, Generic, TypeVar

__all__ = [
    "ConsumerRecord",
    "ExchangeBindingRecord",
    "ExchangeRecord",
    "Kind",
    "QosRecord",
    "QueueBindingRecord",
    "QueueRecord",
    "Record",
    "Step",
    "Topology",
    "freeze",
    "replay_plan",
]

#: Shared by every topology of the process: the replay order across channels.
_SEQUENCE: Final[Iterator[int]] = itertools.count(1)


class Kind(IntEnum):
    """Replay rank of a record: a lower rank is sent first."""

    QOS = 0
    EXCHANGE = 1
    QUEUE = 2
    EXCHANGE_BINDING = 3
    QUEUE_BINDING = 4
    CONSUMER = 5


@dataclass(frozen=True, slots=True)
class QosRecord:
    """Basic.Qos of the channel."""

    prefetch_count: int
    prefetch_size: int
    global_: bool
    seq: int = field(default=0, compare=False)
    kind: ClassVar[Kind] = Kind.QOS


@dataclass(frozen=True, slots=True)
class ExchangeRecord:
    """Exchange.Declare."""

    name: str
    type: str
    durable: bool
    auto_delete: bool
    internal: bool
    passive: bool
    arguments: Mapping[str, Any]
    seq: int = field(default=0, compare=False)
    kind: ClassVar[Kind] = Kind.EXCHANGE


@dataclass(frozen=True, slots=True)
class QueueRecord:
    """Queue.Declare, under the name the queue was given (client-made if anonymous)."""

    name: str
    durable: bool
    exclusive: bool
    auto_delete: bool
    passive: bool
    arguments: Mapping[str, Any]
    seq: int = field(default=0, compare=False)
    kind: ClassVar[Kind] = Kind.QUEUE


@dataclass(frozen=True, slots=True)
class ExchangeBindingRecord:
    """Exchange.Bind: messages flow from ``source`` to ``destination``."""

    destination: str
    source: str
    routing_key: str
    arguments: Mapping[str, Any]
    seq: int = field(default=0, compare=False)
    kind: ClassVar[Kind] = Kind.EXCHANGE_BINDING


@dataclass(frozen=True, slots=True)
class QueueBindingRecord:
    """Queue.Bind."""

    queue: str
    exchange: str
    routing_key: str
    arguments: Mapping[str, Any]
    seq: int = field(default=0, compare=False)
    kind: ClassVar[Kind] = Kind.QUEUE_BINDING


@dataclass(frozen=True, slots=True)
class ConsumerRecord:
    """Basic.Consume with its tag; ``callback`` gets the deliveries."""

    tag: str
    queue: str
    callback: Callable[..., Any] = field(compare=False)
    no_ack: bool
    exclusive: bool
    arguments: Mapping[str, Any]
    seq: int = field(default=0, compare=False)
    kind: ClassVar[Kind] = Kind.CONSUMER


Record = (
    QosRecord
    | ExchangeRecord
    | QueueRecord
    | ExchangeBindingRecord
    | QueueBindingRecord
    | ConsumerRecord
)

_Hashable = (
    str | int | float | bool | bytes | Decimal | datetime | None | tuple[Any, ...]
)


def freeze(value: Any) -> _Hashable:
    """A hashable equivalent of a field value (tables and arrays become tuples).

    Binding arguments are part of a binding's identity (a headers exchange
    binds the same queue and key once per argument table).
    """
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return ("__array__", *(freeze(v) for v in value))
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    return value  # type: ignore[no-any-return]


def _args(arguments: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(arguments or {})


class Topology:
    """What one robust channel has declared and not deleted, in declaration order."""

    def __init__(self) -> None:
        self.qos: QosRecord | None = None
        self.exchanges: dict[str, ExchangeRecord] = {}
        self.queues: dict[str, QueueRecord] = {}
        self.exchange_bindings: dict[tuple[str, str, str, Any], ExchangeBindingRecord]
        self.exchange_bindings = {}
        self.queue_bindings: dict[tuple[str, str, str, Any], QueueBindingRecord] = {}
        self.consumers: dict[str, ConsumerRecord] = {}

    def __repr__(self) -> str:
        return (
            f"<Topology: {len(self.exchanges)} exchanges, {len(self.queues)} queues, "
            f"{len(self.exchange_bindings) + len(self.queue_bindings)} bindings, "
            f"{len(self.consumers)} consumers>"
        )

    def __len__(self) -> int:
        return sum(1 for _ in self.records())

    # -- recording ---------------------------------------------------------------

    def record_qos(
        self, prefetch_count: int, prefetch_size: int, global_: bool
    ) -> None:
        seq = self.qos.seq if self.qos is not None else next(_SEQUENCE)
        self.qos = QosRecord(prefetch_count, prefetch_size, global_, seq)

    def record_exchange(
        self,
        name: str,
        type: str,
        *,
        durable: bool = False,
        auto_delete: bool = False,
        internal: bool = False,
        passive: bool = False,
        arguments: Mapping[str, Any] | None = None,
    ) -> None:
        """Record Exchange.Declare (the default exchange ``""`` is not recorded)."""
        if not name:
            return
        old = self.exchanges.get(name)
        if old is not None and passive and not old.passive:
            return
        seq = old.seq if old is not None else next(_SEQUENCE)
        self.exchanges[name] = ExchangeRecord(
            name, type, durable, auto_delete, internal, passive, _args(arguments), seq
        )

    def record_queue(
        self,
        name: str,
        *,
        durable: bool = False,
        exclusive: bool = False,
        auto_delete: bool = False,
        passive: bool = False,
        arguments: Mapping[str, Any] | None = None,
    ) -> None:
        old = self.queues.get(name)
        if old is not None and passive and not old.passive:
            return
        seq = old.seq if old is not None else next(_SEQUENCE)
        self.queues[name] = QueueRecord(
            name, durable, exclusive, auto_delete, passive, _args(arguments), seq
        )

    def record_exchange_binding(
        self,
        destination: str,
        source: str,
        routing_key: str,
        arguments: Mapping[str, Any] | None = None,
    ) -> bool:
        """Record Exchange.Bind; False (nothing recorded) if ``destination`` is not."""
        if destination not in self.exchanges:
            return False
        key = (destination, source, routing_key, freeze(arguments or {}))
        old = self.exchange_bindings.get(key)
        seq = old.seq if old is not None else next(_SEQUENCE)
        self.exchange_bindings[key] = ExchangeBindingRecord(
            destination, source, routing_key, _args(arguments), seq
        )
        return True

    def record_queue_binding(
        self,
        queue: str,
        exchange: str,
        routing_key: str,
        arguments: Mapping[str, Any] | None = None,
    ) -> bool:
        """Record Queue.Bind; False (nothing recorded) if ``queue`` is not."""
        if queue not in self.queues:
            return False
        key = (queue, exchange, routing_key, freeze(arguments or {}))
        old = self.queue_bindings.get(key)
        seq = old.seq if old is not None else next(_SEQUENCE)
        self.queue_bindings[key] = QueueBindingRecord(
            queue, exchange, routing_key, _args(arguments), seq
        )
        return True

    def record_consumer(
        self,
        tag: str,
        queue: str,
        callback: Callable[..., Any],
        *,
        no_ack: bool = False,
        exclusive: bool = False,
        arguments: Mapping[str, Any] | None = None,
    ) -> bool:
        """Record Basic.Consume; False (nothing recorded) if ``queue`` is not."""
        if queue not in self.queues:
            return False
        old = self.consumers.get(tag)
        seq = old.seq if old is not None else next(_SEQUENCE)
        self.consumers[tag] = ConsumerRecord(
            tag, queue, callback, no_ack, exclusive, _args(arguments), seq
        )
        return True

    # -- forgetting ----------------------------------------------------------------

    def forget_exchange(self, name: str) -> None:
        """The exchange was deleted: so were the bindings from and to it."""
        self.exchanges.pop(name, None)
        for key, binding in list(self.exchange_bindings.items()):
            if name in (binding.destination, binding.source):
                del self.exchange_bindings[key]
        for key, queue_binding in list(self.queue_bindings.items()):
            if queue_binding.exchange == name:
                del self.queue_bindings[key]

    def forget_queue(self, name: str) -> None:
        """The queue was deleted: so were its bindings and consumers."""
        self.queues.pop(name, None)
        for key, binding in list(self.queue_bindings.items()):
            if binding.queue == name:
                del self.queue_bindings[key]
        for tag, consumer in list(self.consumers.items()):
            if consumer.queue == name:
                del self.consumers[tag]

    def forget_exchange_binding(
        self,
        destination: str,
        source: str,
        routing_key: str,
        arguments: Mapping[str, Any] | None = None,
    ) -> None:
        key = (destination, source, routing_key, freeze(arguments or {}))
        self.exchange_bindings.pop(key, None)

    def forget_queue_binding(
        self,
        queue: str,
        exchange: str,
        routing_key: str,
        arguments: Mapping[str, Any] | None = None,
    ) -> None:
        key = (queue, exchange, routing_key, freeze(arguments or {}))
        self.queue_bindings.pop(key, None)

    def forget_consumer(self, tag: str) -> ConsumerRecord | None:
        return self.consumers.pop(tag, None)

    # -- reading -------------------------------------------------------------------

    def records(self) -> Iterator[Record]:
        """Every record, grouped by kind (unordered within a kind)."""
        if self.qos is not None:
            yield self.qos
        yield from self.exchanges.values()
        yield from self.queues.values()
        yield from self.exchange_bindings.values()
        yield from self.queue_bindings.values()
        yield from self.consumers.values()

    def queue_bindings_of(self, queue: str) -> list[QueueBindingRecord]:
        """The recorded bindings of ``queue``, in declaration order."""
        found = [b for b in self.queue_bindings.values() if b.queue == queue]
        return sorted(found, key=_seq)

    def exchange_bindings_of(self, destination: str) -> list[ExchangeBindingRecord]:
        """The recorded bindings to ``destination``, in declaration order."""
        found = [
            b for b in self.exchange_bindings.values() if b.destination == destination
        ]
        return sorted(found, key=_seq)

    def consumers_of(self, queue: str) -> list[ConsumerRecord]:
        """The recorded consumers of ``queue``, in declaration order."""
        return sorted(
            (c for c in self.consumers.values() if c.queue == queue), key=_seq
        )


def _seq(record: Record) -> int:
    return record.seq


_Owner = TypeVar("_Owner")


@dataclass(frozen=True, slots=True)
class Step(Generic[_Owner]):
    """One record to send again, on the channel that owns it."""

    owner: _Owner
    record: Record


def replay_plan(topologies: Iterable[tuple[_Owner, Topology]]) -> list[Step[_Owner]]:
    """Every record of every topology in dependency order (see the module docstring).

    ``owner`` is whatever identifies the channel to send a record on.
    """
    steps = [
        Step(owner, record)
        for owner, topology in topologies
        for record in topology.records()
    ]
    steps.sort(key=lambda step: (step.record.kind, step.record.seq))
    return steps
