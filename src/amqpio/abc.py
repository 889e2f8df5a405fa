"""Abstract base classes and type aliases of the public API (aio-pika's ``abc``).

Every name of ``aio_pika.abc.__all__`` exists here with the same signatures
and defaults. Where aio-pika's annotations name aiormq or pamqp types, the
amqpio equivalents are used: :mod:`amqpio.spec` method classes for broker
replies, :data:`FieldValue` from the codec, and ``Any`` for the channel or
connection under an API object (aio-pika's aiormq objects).
"""

from __future__ import annotations

import asyncio
import dataclasses
from abc import ABC, abstractmethod
from collections.abc import (
    AsyncIterable,
    Awaitable,
    Callable,
    Generator,
    Iterator,
    Mapping,
)
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from enum import Enum, IntEnum, unique
from functools import singledispatch
from types import TracebackType
from typing import (
    Any,
    Literal,
    TypedDict,
    TypeVar,
    Union,
    overload,
)

from .codec.table import FieldTable, FieldValue
from .spec import Basic, BasicProperties, Channel, Connection, Exchange, Queue, Tx
from .tools import (
    CallbackCollection,
    CallbackSetType,
    CallbackType,
    OneShotCallback,
)

__all__ = (
    "MILLISECONDS",
    "AbstractChannel",
    "AbstractConnection",
    "AbstractExchange",
    "AbstractIncomingMessage",
    "AbstractMessage",
    "AbstractProcessContext",
    "AbstractQueue",
    "AbstractQueueIterator",
    "AbstractRobustChannel",
    "AbstractRobustConnection",
    "AbstractRobustExchange",
    "AbstractRobustQueue",
    "AbstractTransaction",
    "CallbackSetType",
    "CallbackType",
    "ChannelCloseCallback",
    "ConnectionCloseCallback",
    "ConnectionParameter",
    "ConsumerTag",
    "DateType",
    "DeclarationResult",
    "DeliveryMode",
    "ExchangeParamType",
    "ExchangeType",
    "FieldValue",
    "HeadersType",
    "MessageInfo",
    "NoneType",
    "PublishResultType",
    "SSLOptions",
    "TimeoutType",
    "TransactionState",
    "UnderlayChannel",
    "UnderlayConnection",
    "get_exchange_name",
)

TimeoutType = int | float | None
NoneType = type(None)
#: ``Message(expiration=..., timestamp=...)``: seconds, a datetime or a timedelta.
DateType = int | datetime | float | timedelta | None
ExchangeParamType = Union["AbstractExchange", str]
ConsumerTag = str
#: Declaration arguments (``x-…`` options); ``None`` means none.
Arguments = FieldTable | None
#: What ``close(exc)`` accepts: an exception instance or class.
ExceptionType = BaseException | type[BaseException]
HeadersType = dict[str, FieldValue]

MILLISECONDS = 1000


class SSLOptions(TypedDict, total=False):
    """TLS options of ``connect(ssl_options=...)`` (also URL query parameters)."""

    cafile: str
    capath: str
    cadata: str
    keyfile: str
    certfile: str
    no_verify_ssl: int


@unique
class ExchangeType(str, Enum):
    """Exchange types, including common plugin types."""

    FANOUT = "fanout"
    DIRECT = "direct"
    TOPIC = "topic"
    HEADERS = "headers"
    X_DELAYED_MESSAGE = "x-delayed-message"
    X_CONSISTENT_HASH = "x-consistent-hash"
    X_MODULUS_HASH = "x-modulus-hash"


@unique
class DeliveryMode(IntEnum):
    """The ``delivery_mode`` property: 2 makes a message persistent."""

    NOT_PERSISTENT = 1
    PERSISTENT = 2


@unique
class TransactionState(str, Enum):
    """States of a channel transaction (aio-pika's spelling of COMMITED)."""

    CREATED = "created"
    COMMITED = "commited"
    ROLLED_BACK = "rolled back"
    STARTED = "started"


@dataclasses.dataclass(frozen=True)
class DeclarationResult:
    """Counts reported by a queue declaration."""

    message_count: int
    consumer_count: int


class MessageInfo(TypedDict, total=False):
    """``Message.info()``: every property plus ``body_size`` and delivery fields."""

    app_id: str | None
    body_size: int
    cluster_id: str | None
    consumer_tag: str | None
    content_encoding: str | None
    content_type: str | None
    correlation_id: str | None
    delivery_mode: DeliveryMode
    delivery_tag: int | None
    exchange: str | None
    expiration: DateType | None
    headers: HeadersType
    message_id: str | None
    priority: int | None
    redelivered: bool | None
    routing_key: str | None
    reply_to: str | None
    timestamp: datetime | None
    type: str
    user_id: str | None


class PoolInstance(ABC):
    """Something a :class:`amqpio.pool.Pool` can hold: it can be closed."""

    @abstractmethod
    def close(self) -> Awaitable[None]:
        raise NotImplementedError


class AbstractTransaction(ABC):
    """A channel transaction (Tx.Select / Commit / Rollback)."""

    state: TransactionState

    @abstractmethod
    async def select(self, timeout: TimeoutType = None) -> Tx.SelectOk:
        raise NotImplementedError

    @abstractmethod
    async def rollback(self, timeout: TimeoutType = None) -> Tx.RollbackOk:
        raise NotImplementedError

    async def commit(self, timeout: TimeoutType = None) -> Tx.CommitOk:
        raise NotImplementedError

    async def __aenter__(self) -> AbstractTransaction:
        raise NotImplementedError

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        raise NotImplementedError


class AbstractMessage(ABC):
    """A message: body plus the basic properties."""

    __slots__ = ()

    body: bytes
    body_size: int
    headers: HeadersType
    content_type: str | None
    content_encoding: str | None
    delivery_mode: DeliveryMode
    priority: int | None
    correlation_id: str | None
    reply_to: str | None
    expiration: DateType | None
    message_id: str | None
    timestamp: datetime | None
    type: str | None
    user_id: str | None
    app_id: str | None

    @abstractmethod
    def info(self) -> MessageInfo:
        raise NotImplementedError

    @property
    @abstractmethod
    def locked(self) -> bool:
        raise NotImplementedError

    @property
    @abstractmethod
    def properties(self) -> BasicProperties:
        raise NotImplementedError

    @abstractmethod
    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError

    @abstractmethod
    def lock(self) -> None:
        raise NotImplementedError

    def __copy__(self) -> AbstractMessage:
        raise NotImplementedError


class AbstractIncomingMessage(AbstractMessage, ABC):
    """A message received from the broker, which can be acked or rejected."""

    __slots__ = ()

    cluster_id: str | None
    consumer_tag: ConsumerTag | None
    delivery_tag: int | None
    redelivered: bool | None
    message_count: int | None
    routing_key: str | None
    exchange: str | None

    @property
    @abstractmethod
    def channel(self) -> Any:
        """The channel the message arrived on (aio-pika: the aiormq channel)."""
        raise NotImplementedError

    @abstractmethod
    def process(
        self,
        requeue: bool = False,
        reject_on_redelivered: bool = False,
        ignore_processed: bool = False,
    ) -> AbstractProcessContext:
        raise NotImplementedError

    @abstractmethod
    async def ack(self, multiple: bool = False) -> None:
        raise NotImplementedError

    @abstractmethod
    async def reject(self, requeue: bool = False) -> None:
        raise NotImplementedError

    @abstractmethod
    async def nack(self, multiple: bool = False, requeue: bool = True) -> None:
        raise NotImplementedError

    def info(self) -> MessageInfo:
        raise NotImplementedError

    @property
    @abstractmethod
    def processed(self) -> bool:
        raise NotImplementedError


class AbstractProcessContext(AbstractAsyncContextManager[AbstractIncomingMessage]):
    """What ``IncomingMessage.process()`` returns."""

    @abstractmethod
    async def __aenter__(self) -> AbstractIncomingMessage:
        raise NotImplementedError

    @abstractmethod
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        raise NotImplementedError


#: Result of a confirmed publish: the broker's Basic.Ack, or the returned
#: message when a mandatory message was unroutable and the channel was opened
#: with ``on_return_raises=False`` (aio-pika: aiormq's DeliveredMessage).
PublishResultType = Basic.Ack | AbstractIncomingMessage


class AbstractQueue(ABC):
    """A queue on a channel."""

    __slots__ = ()

    channel: AbstractChannel
    name: str
    durable: bool
    exclusive: bool
    auto_delete: bool
    arguments: Arguments
    passive: bool
    declaration_result: Queue.DeclareOk
    close_callbacks: CallbackCollection[AbstractQueue, [BaseException | None]]

    @abstractmethod
    def __init__(
        self,
        channel: AbstractChannel,
        name: str | None,
        durable: bool,
        exclusive: bool,
        auto_delete: bool,
        arguments: Arguments,
        passive: bool = False,
    ) -> None:
        raise NotImplementedError

    @abstractmethod
    async def declare(self, timeout: TimeoutType = None) -> Queue.DeclareOk:
        raise NotImplementedError

    @abstractmethod
    async def bind(
        self,
        exchange: ExchangeParamType,
        routing_key: str | None = None,
        *,
        arguments: Arguments = None,
        timeout: TimeoutType = None,
    ) -> Queue.BindOk:
        raise NotImplementedError

    @abstractmethod
    async def unbind(
        self,
        exchange: ExchangeParamType,
        routing_key: str | None = None,
        arguments: Arguments = None,
        timeout: TimeoutType = None,
    ) -> Queue.UnbindOk:
        raise NotImplementedError

    @abstractmethod
    async def consume(
        self,
        callback: Callable[[AbstractIncomingMessage], Awaitable[Any]],
        no_ack: bool = False,
        exclusive: bool = False,
        arguments: Arguments = None,
        consumer_tag: ConsumerTag | None = None,
        timeout: TimeoutType = None,
    ) -> ConsumerTag:
        raise NotImplementedError

    @overload
    async def cancel(
        self,
        consumer_tag: ConsumerTag,
        timeout: TimeoutType = None,
        nowait: Literal[False] = False,
    ) -> Basic.CancelOk: ...

    @overload
    async def cancel(
        self,
        consumer_tag: ConsumerTag,
        timeout: TimeoutType = None,
        nowait: Literal[True] = True,
    ) -> None: ...

    @overload
    async def cancel(
        self,
        consumer_tag: ConsumerTag,
        timeout: TimeoutType = None,
        nowait: bool = False,
    ) -> Basic.CancelOk | None: ...

    @abstractmethod
    async def cancel(
        self,
        consumer_tag: ConsumerTag,
        timeout: TimeoutType = None,
        nowait: bool = False,
    ) -> Basic.CancelOk | None:
        raise NotImplementedError

    @overload
    async def get(
        self,
        *,
        no_ack: bool = False,
        fail: Literal[True] = ...,
        timeout: TimeoutType = ...,
    ) -> AbstractIncomingMessage: ...

    @overload
    async def get(
        self,
        *,
        no_ack: bool = False,
        fail: Literal[False] = ...,
        timeout: TimeoutType = ...,
    ) -> AbstractIncomingMessage | None: ...

    @abstractmethod
    async def get(
        self,
        *,
        no_ack: bool = False,
        fail: bool = True,
        timeout: TimeoutType = 5,
    ) -> AbstractIncomingMessage | None:
        raise NotImplementedError

    @overload
    async def purge(
        self, no_wait: Literal[False] = False, timeout: TimeoutType = None
    ) -> Queue.PurgeOk: ...

    @overload
    async def purge(
        self, no_wait: Literal[True] = True, timeout: TimeoutType = None
    ) -> None: ...

    @overload
    async def purge(
        self, no_wait: bool = False, timeout: TimeoutType = None
    ) -> Queue.PurgeOk | None: ...

    @abstractmethod
    async def purge(
        self, no_wait: bool = False, timeout: TimeoutType = None
    ) -> Queue.PurgeOk | None:
        raise NotImplementedError

    @abstractmethod
    async def delete(
        self,
        *,
        if_unused: bool = True,
        if_empty: bool = True,
        timeout: TimeoutType = None,
    ) -> Queue.DeleteOk:
        raise NotImplementedError

    @abstractmethod
    def iterator(self, **kwargs: Any) -> AbstractQueueIterator:
        raise NotImplementedError


class AbstractQueueIterator(AsyncIterable[AbstractIncomingMessage]):
    """``async for message in queue.iterator()``."""

    _amqp_queue: AbstractQueue
    _queue: asyncio.Queue[AbstractIncomingMessage]
    _consumer_tag: ConsumerTag
    _consume_kwargs: dict[str, Any]

    @abstractmethod
    def close(self) -> Awaitable[Any]:
        raise NotImplementedError

    @abstractmethod
    async def on_message(self, message: AbstractIncomingMessage) -> None:
        raise NotImplementedError

    @abstractmethod
    async def consume(self) -> None:
        raise NotImplementedError

    @abstractmethod
    def __aiter__(self) -> AbstractQueueIterator:
        raise NotImplementedError

    @abstractmethod
    async def __aenter__(self) -> AbstractQueueIterator:
        raise NotImplementedError

    @abstractmethod
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        raise NotImplementedError

    @abstractmethod
    async def __anext__(self) -> AbstractIncomingMessage:
        raise NotImplementedError


class AbstractExchange(ABC):
    """An exchange on a channel."""

    name: str

    @abstractmethod
    def __init__(
        self,
        channel: AbstractChannel,
        name: str,
        type: ExchangeType | str = ExchangeType.DIRECT,
        *,
        auto_delete: bool = False,
        durable: bool = False,
        internal: bool = False,
        passive: bool = False,
        arguments: Arguments = None,
    ) -> None:
        raise NotImplementedError

    @abstractmethod
    async def declare(self, timeout: TimeoutType = None) -> Exchange.DeclareOk:
        raise NotImplementedError

    @abstractmethod
    async def bind(
        self,
        exchange: ExchangeParamType,
        routing_key: str = "",
        *,
        arguments: Arguments = None,
        timeout: TimeoutType = None,
    ) -> Exchange.BindOk:
        raise NotImplementedError

    @abstractmethod
    async def unbind(
        self,
        exchange: ExchangeParamType,
        routing_key: str = "",
        arguments: Arguments = None,
        timeout: TimeoutType = None,
    ) -> Exchange.UnbindOk:
        raise NotImplementedError

    @overload
    async def publish(
        self,
        message: AbstractMessage,
        routing_key: str,
        *,
        mandatory: Literal[False],
        immediate: bool = False,
        timeout: TimeoutType = None,
    ) -> Basic.Ack | None: ...

    @overload
    async def publish(
        self,
        message: AbstractMessage,
        routing_key: str,
        *,
        mandatory: bool = True,
        immediate: bool = False,
        timeout: TimeoutType = None,
    ) -> PublishResultType | None: ...

    @abstractmethod
    async def publish(
        self,
        message: AbstractMessage,
        routing_key: str,
        *,
        mandatory: bool = True,
        immediate: bool = False,
        timeout: TimeoutType = None,
    ) -> PublishResultType | None:
        raise NotImplementedError

    @abstractmethod
    async def delete(
        self, if_unused: bool = False, timeout: TimeoutType = None
    ) -> Exchange.DeleteOk:
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class UnderlayChannel:
    """The protocol-level channel under an API channel, with its close callback."""

    channel: Any
    close_callback: OneShotCallback

    async def close(self, exc: ExceptionType | None = None) -> Any:
        """Close the channel and wait for the close callback to run."""
        if self.close_callback.finished.is_set():
            return None
        await self.channel.close(exc)
        await self.close_callback.wait()
        return None


@dataclasses.dataclass(frozen=True)
class UnderlayConnection:
    """The protocol-level connection under an API connection, with its close callback."""

    connection: Any
    close_callback: OneShotCallback

    def ready(self) -> Awaitable[Any]:
        """Wait until the connection is open."""
        return self.connection.ready()  # type: ignore[no-any-return]

    async def close(self, exc: ExceptionType | None) -> Any:
        """Close the connection and wait for the close callback to run."""
        if self.close_callback.finished.is_set():
            return None
        try:
            return await self.connection.close(exc)
        finally:
            await self.close_callback.wait()


_ChannelT = TypeVar("_ChannelT", bound="AbstractChannel")
_ConnectionT = TypeVar("_ConnectionT", bound="AbstractConnection")


class AbstractChannel(PoolInstance, ABC):
    """A channel: declares exchanges and queues, holds close and return callbacks."""

    QUEUE_CLASS: type[AbstractQueue]
    EXCHANGE_CLASS: type[AbstractExchange]

    close_callbacks: CallbackCollection[AbstractChannel, [BaseException | None]]
    return_callbacks: CallbackCollection[AbstractChannel, [AbstractIncomingMessage]]
    #: The default exchange (direct, named ``""``): every queue is bound to it
    #: with its own name as routing key. Set when the channel is opened.
    default_exchange: AbstractExchange
    publisher_confirms: bool

    @property
    @abstractmethod
    def is_initialized(self) -> bool:
        raise NotImplementedError

    @property
    @abstractmethod
    def is_closed(self) -> bool:
        raise NotImplementedError

    @abstractmethod
    def close(self, exc: ExceptionType | None = None) -> Awaitable[None]:
        raise NotImplementedError

    @abstractmethod
    def closed(self) -> Awaitable[Literal[True]]:
        raise NotImplementedError

    @abstractmethod
    async def get_underlay_channel(self) -> Any:
        raise NotImplementedError

    @property
    @abstractmethod
    def number(self) -> int | None:
        raise NotImplementedError

    @abstractmethod
    async def __aenter__(self: _ChannelT) -> _ChannelT:
        raise NotImplementedError

    @abstractmethod
    def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> Awaitable[None]:
        raise NotImplementedError

    @abstractmethod
    async def initialize(self, timeout: TimeoutType = None) -> None:
        raise NotImplementedError

    @abstractmethod
    def reopen(self) -> Awaitable[None]:
        raise NotImplementedError

    @abstractmethod
    async def declare_exchange(
        self,
        name: str,
        type: ExchangeType | str = ExchangeType.DIRECT,
        *,
        durable: bool = False,
        auto_delete: bool = False,
        internal: bool = False,
        passive: bool = False,
        arguments: Arguments = None,
        timeout: TimeoutType = None,
    ) -> AbstractExchange:
        raise NotImplementedError

    @abstractmethod
    async def get_exchange(self, name: str, *, ensure: bool = True) -> AbstractExchange:
        raise NotImplementedError

    @abstractmethod
    async def declare_queue(
        self,
        name: str | None = None,
        *,
        durable: bool = False,
        exclusive: bool = False,
        passive: bool = False,
        auto_delete: bool = False,
        arguments: Arguments = None,
        timeout: TimeoutType = None,
    ) -> AbstractQueue:
        raise NotImplementedError

    @abstractmethod
    async def get_queue(self, name: str, *, ensure: bool = True) -> AbstractQueue:
        raise NotImplementedError

    @abstractmethod
    async def set_qos(
        self,
        prefetch_count: int = 0,
        prefetch_size: int = 0,
        global_: bool = False,
        timeout: TimeoutType = None,
        all_channels: bool | None = None,
    ) -> Basic.QosOk:
        raise NotImplementedError

    @overload
    async def queue_delete(
        self,
        queue_name: str,
        timeout: TimeoutType = None,
        if_unused: bool = False,
        if_empty: bool = False,
        nowait: Literal[False] = False,
    ) -> Queue.DeleteOk: ...

    @overload
    async def queue_delete(
        self,
        queue_name: str,
        timeout: TimeoutType = None,
        if_unused: bool = False,
        if_empty: bool = False,
        nowait: Literal[True] = True,
    ) -> None: ...

    @overload
    async def queue_delete(
        self,
        queue_name: str,
        timeout: TimeoutType = None,
        if_unused: bool = False,
        if_empty: bool = False,
        nowait: bool = False,
    ) -> Queue.DeleteOk | None: ...

    @abstractmethod
    async def queue_delete(
        self,
        queue_name: str,
        timeout: TimeoutType = None,
        if_unused: bool = False,
        if_empty: bool = False,
        nowait: bool = False,
    ) -> Queue.DeleteOk | None:
        raise NotImplementedError

    @overload
    async def exchange_delete(
        self,
        exchange_name: str,
        timeout: TimeoutType = None,
        if_unused: bool = False,
        nowait: Literal[False] = False,
    ) -> Exchange.DeleteOk: ...

    @overload
    async def exchange_delete(
        self,
        exchange_name: str,
        timeout: TimeoutType = None,
        if_unused: bool = False,
        nowait: Literal[True] = True,
    ) -> None: ...

    @overload
    async def exchange_delete(
        self,
        exchange_name: str,
        timeout: TimeoutType = None,
        if_unused: bool = False,
        nowait: bool = False,
    ) -> Exchange.DeleteOk | None: ...

    @abstractmethod
    async def exchange_delete(
        self,
        exchange_name: str,
        timeout: TimeoutType = None,
        if_unused: bool = False,
        nowait: bool = False,
    ) -> Exchange.DeleteOk | None:
        raise NotImplementedError

    @abstractmethod
    def transaction(self) -> AbstractTransaction:
        raise NotImplementedError

    @abstractmethod
    async def flow(self, active: bool = True) -> Channel.FlowOk:
        raise NotImplementedError

    @abstractmethod
    def __await__(self: _ChannelT) -> Generator[Any, Any, _ChannelT]:
        raise NotImplementedError


@dataclasses.dataclass
class ConnectionParameter:
    """A connection option read from the URL query or a keyword argument."""

    name: str
    parser: Callable[[str], Any]
    default: str | None = None
    is_kwarg: bool = False

    def parse(self, value: str | None) -> Any:
        """The parsed value; the default when absent or unparsable."""
        if value is None:
            return self.default
        try:
            return self.parser(value)
        except ValueError:
            return self.default


class AbstractConnection(PoolInstance, ABC):
    """A connection to the broker."""

    PARAMETERS: tuple[ConnectionParameter, ...]

    close_callbacks: CallbackCollection[AbstractConnection, [BaseException | None]]
    connected: asyncio.Event
    #: The protocol-level connection (aio-pika: an UnderlayConnection), None when closed.
    transport: Any
    kwargs: Mapping[str, Any]

    @abstractmethod
    def __init__(
        self,
        url: Any,
        loop: asyncio.AbstractEventLoop | None = None,
        **kwargs: Any,
    ) -> None:
        raise NotImplementedError

    @property
    @abstractmethod
    def is_closed(self) -> bool:
        raise NotImplementedError

    @property
    @abstractmethod
    def close_called(self) -> bool:
        raise NotImplementedError

    @abstractmethod
    async def close(self, exc: ExceptionType = asyncio.CancelledError) -> None:
        raise NotImplementedError

    @abstractmethod
    def closed(self) -> Awaitable[Literal[True]]:
        raise NotImplementedError

    @abstractmethod
    async def connect(self, timeout: TimeoutType = None) -> None:
        raise NotImplementedError

    @abstractmethod
    def channel(
        self,
        channel_number: int | None = None,
        publisher_confirms: bool = True,
        on_return_raises: bool = False,
    ) -> AbstractChannel:
        raise NotImplementedError

    @abstractmethod
    async def ready(self) -> None:
        raise NotImplementedError

    @abstractmethod
    async def __aenter__(self: _ConnectionT) -> _ConnectionT:
        raise NotImplementedError

    @abstractmethod
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        raise NotImplementedError

    @abstractmethod
    async def update_secret(
        self,
        new_secret: str,
        *,
        reason: str = "",
        timeout: TimeoutType = None,
    ) -> Connection.UpdateSecretOk:
        raise NotImplementedError


class AbstractRobustQueue(AbstractQueue):
    """A queue that is redeclared (and re-consumed) after a reconnect."""

    __slots__ = ()

    @abstractmethod
    def restore(self) -> Awaitable[None]:
        raise NotImplementedError

    @abstractmethod
    async def bind(
        self,
        exchange: ExchangeParamType,
        routing_key: str | None = None,
        *,
        arguments: Arguments = None,
        timeout: TimeoutType = None,
        robust: bool = True,
    ) -> Queue.BindOk:
        raise NotImplementedError

    @abstractmethod
    async def consume(
        self,
        callback: Callable[[AbstractIncomingMessage], Any],
        no_ack: bool = False,
        exclusive: bool = False,
        arguments: Arguments = None,
        consumer_tag: ConsumerTag | None = None,
        timeout: TimeoutType = None,
        robust: bool = True,
    ) -> ConsumerTag:
        raise NotImplementedError


class AbstractRobustExchange(AbstractExchange):
    """An exchange that is redeclared (and rebound) after a reconnect."""

    @abstractmethod
    def restore(self) -> Awaitable[None]:
        raise NotImplementedError

    @abstractmethod
    async def bind(
        self,
        exchange: ExchangeParamType,
        routing_key: str = "",
        *,
        arguments: Arguments = None,
        timeout: TimeoutType = None,
        robust: bool = True,
    ) -> Exchange.BindOk:
        raise NotImplementedError


class AbstractRobustChannel(AbstractChannel):
    """A channel that reopens and restores its topology after a reconnect."""

    reopen_callbacks: CallbackCollection[AbstractRobustChannel, []]

    @abstractmethod
    def reopen(self) -> Awaitable[None]:
        raise NotImplementedError

    @abstractmethod
    async def restore(self) -> None:
        raise NotImplementedError

    @abstractmethod
    async def ready(self) -> None:
        """Wait until the connection is ready and the channel is restored."""
        raise NotImplementedError

    @abstractmethod
    async def declare_exchange(
        self,
        name: str,
        type: ExchangeType | str = ExchangeType.DIRECT,
        *,
        durable: bool = False,
        auto_delete: bool = False,
        internal: bool = False,
        passive: bool = False,
        arguments: Arguments = None,
        timeout: TimeoutType = None,
        robust: bool = True,
    ) -> AbstractRobustExchange:
        raise NotImplementedError

    @abstractmethod
    async def declare_queue(
        self,
        name: str | None = None,
        *,
        durable: bool = False,
        exclusive: bool = False,
        passive: bool = False,
        auto_delete: bool = False,
        arguments: Arguments = None,
        timeout: TimeoutType = None,
        robust: bool = True,
    ) -> AbstractRobustQueue:
        raise NotImplementedError


class AbstractRobustConnection(AbstractConnection):
    """A connection that reconnects by itself."""

    reconnect_callbacks: CallbackCollection[AbstractRobustConnection, []]

    @property
    @abstractmethod
    def reconnecting(self) -> bool:
        raise NotImplementedError

    @abstractmethod
    def reconnect(self) -> Awaitable[None]:
        raise NotImplementedError

    @abstractmethod
    def channel(
        self,
        channel_number: int | None = None,
        publisher_confirms: bool = True,
        on_return_raises: bool = False,
    ) -> AbstractRobustChannel:
        raise NotImplementedError


ChannelCloseCallback = Callable[
    [AbstractChannel | None, BaseException | None],
    Any,
]
ConnectionCloseCallback = Callable[
    [AbstractConnection | None, BaseException | None],
    Any,
]
ConnectionType = TypeVar("ConnectionType", bound=AbstractConnection)


@singledispatch
def get_exchange_name(value: Any) -> str:
    """The name of an exchange given as an exchange object or a string."""
    raise ValueError(
        f"exchange argument must be an exchange instance or str not {value!r}"
    )


@get_exchange_name.register(AbstractExchange)
def _get_exchange_name_from_exchange(value: AbstractExchange) -> str:
    return value.name


@get_exchange_name.register(str)
def _get_exchange_name_from_str(value: str) -> str:
    return value
