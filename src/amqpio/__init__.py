"""amqpio: a pure-Python AMQP 0-9-1 client for asyncio, compatible with aio-pika.

``import amqpio as aio_pika`` and existing aio-pika code keeps working.
"""

from . import abc
from ._version import __version__
from .abc import DeliveryMode
from .channel import Channel
from .connection import Connection, connect
from .exceptions import AMQPException, MessageProcessError
from .exchange import Exchange, ExchangeType
from .log import logger
from .message import IncomingMessage, Message
from .queue import Queue

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
    "__version__",
    "abc",
    "connect",
    "logger",
)
