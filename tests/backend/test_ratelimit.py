"""The handshake admission's fairness, on a fake clock (the socket tests cover the endpoint)."""

from __future__ import annotations

from backend.ratelimit import Admission, SharedBuckets
from tests.backend.conftest import FakeClock


def _admitted(take, seconds: float, clock: FakeClock, every: float = 0.001) -> int:
    """How many of the requests made every ``every`` seconds for ``seconds`` got in."""
    admitted = 0
    for _ in range(round(seconds / every)):
        clock.advance(every)
        admitted += take()
    return admitted


def test_a_key_alone_gets_the_whole_rate(clock):
    buckets = SharedBuckets(rate=100.0, burst=5, clock=clock)
    assert 100 <= _admitted(lambda: buckets.take("storm"), 1.0, clock) <= 105


def test_keys_asking_at_once_share_the_rate(clock):
    buckets = SharedBuckets(rate=100.0, burst=5, clock=clock)
    hog = fair = 0
    for step in range(1000):
        clock.advance(0.001)
        hog += buckets.take("hog")
        if step % 20 == 0:  # the other key asks 50 times a second
            fair += buckets.take("fair")
    assert fair >= 45 and hog <= 60


def test_a_flood_from_one_address_leaves_the_allowance_to_the_others(clock):
    admission = Admission(rate=100.0, burst=10, key_burst=6, clock=clock)
    others = 0
    for step in range(1000):
        clock.advance(0.001)
        admission.admit("203.0.113.7", b"hog")
        if step % 10 == 0:  # ten other users, each asking ten times a second
            others += admission.admit(f"198.51.100.{step % 100}", bytes([step % 100]))
    assert others >= 90


def test_memory_is_bounded_and_quiet_keys_are_forgotten(clock):
    buckets = SharedBuckets(rate=10.0, burst=1, clock=clock, idle=10.0, max_keys=100)
    for index in range(1000):
        assert buckets.take(index)
    assert len(buckets) == 100
    clock.advance(10.0)
    buckets.take("late")
    assert len(buckets) == 1


def test_a_token_given_back_is_there_for_the_next_try(clock):
    buckets = SharedBuckets(rate=1.0, burst=1, clock=clock)
    assert buckets.take("a") and not buckets.take("a")
    buckets.give_back("a")
    buckets.give_back("never seen")  # nothing to give back to: no entry is made
    assert buckets.take("a") and len(buckets) == 1
