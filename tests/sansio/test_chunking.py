"""Every scripted conversation yields the same events however its input is cut.

The scripts (``@scripted`` tests) already run whole and byte by byte through
the ``pair`` fixture; here each runs again with hypothesis-chosen split points
and its log of events and remote errors must equal the unsplit run's.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.broker import SCRIPTS, Pair, split_at, whole

from . import (  # noqa: F401  (imported for their @scripted registrations)
    test_channels,
    test_confirms,
    test_connection,
    test_content,
    test_handshake,
    test_sync,
)

_REFERENCE: dict[str, list[object]] = {}


def reference_log(name: str) -> list[object]:
    if name not in _REFERENCE:
        pair = Pair(splitter=whole)
        SCRIPTS[name](pair)
        _REFERENCE[name] = pair.log
    return _REFERENCE[name]


cut_points = st.lists(
    st.integers(min_value=1, max_value=64) | st.integers(min_value=1, max_value=60_000),
    max_size=40,
)


def test_scripts_are_registered() -> None:
    assert len(SCRIPTS) >= 30


@pytest.mark.parametrize("name", sorted(SCRIPTS))
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(points=cut_points)
def test_script_under_random_chunking(name: str, points: list[int]) -> None:
    expected = reference_log(name)
    pair = Pair(splitter=split_at(points))
    SCRIPTS[name](pair)
    assert pair.log == expected
