"""The ``amqpio`` logger and the helper that names module loggers under it."""

from __future__ import annotations

import logging

__all__ = ("get_logger", "logger")

#: Root logger of the library (aio-pika's is named ``aio_pika``).
logger: logging.Logger = logging.getLogger("amqpio")


def get_logger(name: str) -> logging.Logger:
    """The child of :data:`logger` for ``name``, usually a module's ``__name__``.

    ``"amqpio.message"`` gives ``amqpio.message``; any other dotted name is
    nested below the package logger (``"x.y"`` gives ``amqpio.x.y``).
    """
    if name == logger.name:
        return logger
    package, _, module = name.partition(".")
    if package == logger.name:
        name = module
    return logger.getChild(name)
