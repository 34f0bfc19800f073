"""The wait before a failed delivery (webhook or sink) is tried again: exponential
from ``base``, capped, times a jitter factor in [0.5, 1)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit_trail.core.webhooks.backoff import Backoff


def test_the_wait_doubles_after_each_failure_until_the_cap() -> None:
    backoff = Backoff(base_seconds=1.0, cap_seconds=10.0)
    assert [backoff.delay(n, draw=1.0) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]
    assert backoff.delay(0, draw=1.0) == 1  # as after a first failure


@given(
    failures=st.integers(min_value=1, max_value=10_000),
    base=st.floats(min_value=0.01, max_value=60),
    cap=st.floats(min_value=0.01, max_value=3600),
)
def test_the_jittered_wait_is_within_half_and_all_of_the_unjittered_one(
    failures: int, base: float, cap: float
) -> None:
    backoff = Backoff(base, cap)
    full = backoff.delay(failures, draw=1.0)
    assert full <= cap
    for _ in range(5):
        wait = backoff.delay(failures)
        assert 0.5 * full <= wait < full


def test_the_jitter_spreads_the_waits() -> None:
    waits = {Backoff(1.0, 300.0).delay(5) for _ in range(50)}
    assert len(waits) > 40
    assert min(waits) >= 8
    assert max(waits) < 16
    assert max(waits) - min(waits) > 2  # not all in one corner of [8, 16)


@pytest.mark.parametrize("failures", [64, 65, 1_000_000])
def test_many_failures_wait_the_cap_without_overflow(failures: int) -> None:
    assert Backoff(1.0, 300.0).delay(failures, draw=1.0) == 300.0
