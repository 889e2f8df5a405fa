"""What the robust tests against the scripted server share."""

from __future__ import annotations

import asyncio
from typing import Any

WAIT = 10.0
#: Reconnect at once: these tests count attempts, they do not time them.
FAST: dict[str, Any] = {"reconnect_interval": 0, "reconnect_max_interval": 0.05}


async def within(awaitable: Any, timeout: float = WAIT) -> Any:
    return await asyncio.wait_for(awaitable, timeout)


async def eventually(check: Any, timeout: float = WAIT) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, "condition not met"
        await asyncio.sleep(0.005)
