from __future__ import annotations

import pytest

from helpers.broker import Pair, bytewise, whole


@pytest.fixture(params=[whole, bytewise], ids=["whole", "bytewise"])
def pair(request: pytest.FixtureRequest) -> Pair:
    """A fresh client/broker pair; every script runs whole and byte by byte."""
    return Pair(splitter=request.param)
