"""Errors of the sans-IO core: who is at fault, and what to send.

``LocalProtocolError`` means the caller asked for something the protocol does
not allow now; nothing was changed. ``RemoteProtocolError`` means the broker's
bytes broke the spec; the core has already queued ``Connection.Close`` with
``reply_code`` and moved to CLOSING.
"""

from __future__ import annotations

from .events import Event

__all__ = ["LocalProtocolError", "ProtocolError", "RemoteProtocolError"]


class ProtocolError(Exception):
    """Base of every error the core raises for protocol reasons."""


class LocalProtocolError(ProtocolError):
    """A command is illegal in the current state; the state is unchanged."""


class RemoteProtocolError(ProtocolError):
    """The broker violated the spec.

    ``reply_code``, ``class_id`` and ``method_id`` are the fields of the
    ``Connection.Close`` the core queued. ``events`` holds the events that the
    same ``receive_data`` call produced before the violation, in order: the
    driver handles them first, so no event is lost whatever the chunking.
    """

    def __init__(
        self,
        reply_code: int,
        text: str,
        class_id: int = 0,
        method_id: int = 0,
    ) -> None:
        super().__init__(f"{reply_code} {text}")
        self.reply_code = reply_code
        self.text = text
        self.class_id = class_id
        self.method_id = method_id
        self.events: list[Event] = []
