"""Master/Worker and RPC patterns, as aio-pika's ``aio_pika.patterns``.

Both serialize with pickle by default, as aio-pika does. Unpickling runs code
chosen by the sender: use :class:`JsonMaster` / :class:`JsonRPC` unless every
peer is trusted with code execution (see :mod:`amqpio.patterns.base`).
"""

from .master import (
    CompressedJsonMaster,
    JsonMaster,
    Master,
    NackMessage,
    RejectMessage,
    Worker,
)
from .rpc import RPC, JsonRPC

__all__ = (
    "RPC",
    "CompressedJsonMaster",
    "JsonMaster",
    "JsonRPC",
    "Master",
    "NackMessage",
    "RejectMessage",
    "Worker",
)
