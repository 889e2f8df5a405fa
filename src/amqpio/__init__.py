"""amqpio: a pure-Python AMQP 0-9-1 client for asyncio, compatible with aio-pika."""

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
