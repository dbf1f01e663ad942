from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.net.backoff import Backoff


@pytest.mark.parametrize(
    ("attempt", "window"),
    [
        (0, (0.5, 1.0)),
        (1, (0.5, 1.5)),
        (2, (0.5, 2.5)),
        (3, (0.5, 4.5)),
        (5, (0.5, 16.5)),
        (6, (0.5, 20.0)),
        (50, (0.5, 20.0)),
        (10_000, (0.5, 20.0)),
    ],
)
def test_exact_windows(attempt, window):
    assert Backoff().window(attempt) == window


@given(attempt=st.integers(0, 10_000), seed=st.integers())
def test_delay_stays_in_its_window(attempt, seed):
    low, high = Backoff().window(attempt)
    assert low <= Backoff().delay(attempt, random.Random(seed)) <= high <= 20.0


def test_delays_are_jittered():
    rng = random.Random(7)
    delays = {round(Backoff().delay(4, rng), 6) for _ in range(50)}
    assert len(delays) > 40
