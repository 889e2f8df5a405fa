from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .fake_server import FakeServer


@pytest.fixture
async def server() -> AsyncIterator[FakeServer]:
    """The scripted server on a loopback socket, closed after the test."""
    server = await FakeServer().start()
    try:
        yield server
    finally:
        await server.close()
