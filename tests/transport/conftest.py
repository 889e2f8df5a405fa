from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Iterator

import pytest

from helpers.broker import Splitter, bytewise, whole

from .fakes import Harness, connect, pending_futures, settle


@pytest.fixture(params=[whole, bytewise], ids=["whole", "bytewise"])
def splitter(request: pytest.FixtureRequest) -> Splitter:
    """How the broker's bytes are cut before ``data_received``."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    """A protocol whose handshake with the scripted broker has completed."""
    h = connect()
    await h.protocol.opened
    h.transport.writes.clear()
    yield h
    # Leave no transport open and no failed future unretrieved.
    leftovers = pending_futures(h.protocol)
    if not h.transport.lost:
        h.transport.lose()
    await settle()
    for future in leftovers:
        if future.done() and not future.cancelled():
            future.exception()


@pytest.fixture(autouse=True)
def no_unretrieved_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail on "exception was never retrieved" and other asyncio errors: every
    failed future must reach someone."""
    yield
    gc.collect()
    errors = [
        record.getMessage()
        for when in ("setup", "call", "teardown")
        for record in caplog.get_records(when)
        if record.name == "asyncio" and record.levelno >= logging.ERROR
    ]
    assert errors == []
