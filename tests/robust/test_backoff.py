"""Backoff maths (exponential, capped, jittered) and the broker address rotation."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amqpio.robust_connection import Backoff, HostRotation


def test_doubles_from_the_base_up_to_the_cap() -> None:
    backoff = Backoff(0.5, 10, random=lambda: 0.0)  # no jitter drawn
    assert [backoff.delay(n) for n in range(8)] == [
        0.0,
        0.5,
        1.0,
        2.0,
        4.0,
        8.0,
        10.0,
        10.0,
    ]


def test_jitter_takes_off_up_to_its_fraction() -> None:
    assert Backoff(2, 60, random=lambda: 0.5).delay(3) == pytest.approx(6.0)
    assert Backoff(2, 60, jitter=0.5, random=lambda: 0.999999).delay(1) == (
        pytest.approx(1.0, rel=1e-5)
    )
    assert Backoff(2, 60, jitter=0.0, random=lambda: 0.9).delay(1) == 2.0
    assert Backoff(2, 60, jitter=1.0, random=lambda: 0.75).delay(1) == 0.5


def test_huge_retry_counts_stay_at_the_cap() -> None:
    backoff = Backoff(1, 30, random=lambda: 0.0)
    assert backoff.delay(10_000) == 30.0
    assert Backoff(1, 30, factor=1.0, random=lambda: 0.0).delay(50) == 1.0


def test_a_base_above_the_cap_raises_the_cap() -> None:
    # reconnect_interval is the base: a large one is never cut by the cap
    assert Backoff(45, 30, random=lambda: 0.0).delay(1) == 45


def test_zero_base_never_waits() -> None:
    backoff = Backoff(0, 0)
    assert {backoff.delay(n) for n in range(1, 20)} == {0.0}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base": -1, "cap": 1},
        {"base": 1, "cap": -1},
        {"base": 1, "cap": 2, "factor": 0.5},
        {"base": 1, "cap": 2, "jitter": 1.5},
    ],
)
def test_bad_parameters_are_value_errors(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)


@given(
    base=st.floats(0, 100),
    cap=st.floats(0, 1000),
    retry=st.integers(0, 10_000),
    jitter=st.floats(0, 1),
    draw=st.floats(0, 1, exclude_max=True),
)
def test_every_delay_is_within_the_jitter_band(
    base: float, cap: float, retry: int, jitter: float, draw: float
) -> None:
    backoff = Backoff(base, cap, jitter=jitter, random=lambda: draw)
    ceiling = backoff.ceiling(retry)
    delay = backoff.delay(retry)
    assert ceiling <= max(base, cap)
    assert ceiling * (1 - jitter) - 1e-9 <= delay <= ceiling + 1e-9


def test_seeded_delays_are_reproducible() -> None:
    first = Backoff(1, 30, random=random.Random(7).random)
    second = Backoff(1, 30, random=random.Random(7).random)
    assert [first.delay(n) for n in range(1, 10)] == [
        second.delay(n) for n in range(1, 10)
    ]


def test_rotation_visits_every_host_in_turn() -> None:
    rotation = HostRotation(["a", "b", "c", "d"], random.Random(3))
    order = rotation.hosts
    assert sorted(order) == ["a", "b", "c", "d"]
    assert rotation.current == order[0]
    seen = [rotation.advance() for _ in range(8)]
    assert seen == [*order[1:], *order, order[0]]


def test_rotation_is_shuffled() -> None:
    orders = {
        HostRotation(list(range(6)), random.Random(seed)).hosts for seed in range(20)
    }
    assert len(orders) > 1


def test_one_host_is_always_the_same() -> None:
    rotation = HostRotation(["only"])
    assert [rotation.advance() for _ in range(3)] == ["only"] * 3


def test_rotation_needs_a_host() -> None:
    with pytest.raises(ValueError):
        HostRotation([])
