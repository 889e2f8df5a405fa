"""amqpio: a pure-Python AMQP 0-9-1 client for asyncio, compatible with aio-pika.

``import amqpio as aio_pika`` and existing aio-pika code keeps working.
"""

from . import abc, patterns, pool
from ._install import install_as_aio_pika
from ._version import __version__
from .abc import DeliveryMode
from .channel import Channel
from .connection import Connection, connect
from .exceptions import AMQPException, MessageProcessError
from .exchange import Exchange, ExchangeType
from .log import logger
from .message import IncomingMessage, Message
from .queue import Queue
from .robust_channel import RobustChannel
from .robust_connection import RobustConnection, connect_robust
from .robust_exchange import RobustExchange
from .robust_queue import RobustQueue

__all__ = (
    "AMQPException",
    "Channel",
    "Connection",
    "DeliveryMode",
    "Exchange",
    "ExchangeType",
    "IncomingMessage",
    "Message",
    "MessageProcessError",
    "Queue",
    "RobustChannel",
    "RobustConnection",
    "RobustExchange",
    "RobustQueue",
    "__version__",
    "abc",
    "connect",
    "connect_robust",
    "install_as_aio_pika",
    "logger",
    "patterns",
    "pool",
)
