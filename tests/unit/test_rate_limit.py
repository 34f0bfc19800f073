"""Token buckets (core.rate_limit) and the rate-limit settings."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit_trail.adapters.ratelimit.memory import InMemoryRateLimiter
from audit_trail.core.rate_limit import Bucket, RateKind, RatePolicy, take
from audit_trail.entrypoints.settings import Settings, SettingsError, load_settings

policies = st.builds(
    RatePolicy,
    rate=st.floats(0.1, 1000),
    burst=st.floats(1, 1000),
)
gaps = st.lists(st.floats(0, 5), min_size=1, max_size=300)  # seconds between requests


def run(policy: RatePolicy, gaps: list[float]) -> list[tuple[float, bool]]:
    """(time, allowed) for a request after each gap, from a fresh bucket at t=0."""
    bucket: Bucket | None = None
    now, seen = 0.0, []
    for gap in gaps:
        now += gap
        bucket, decision = take(policy, bucket, now)
        seen.append((now, decision.allowed))
    return seen


@given(policies, gaps)
def test_no_window_allows_more_than_burst_plus_rate_times_its_length(
    policy: RatePolicy, gaps: list[float]
) -> None:
    allowed = [t for t, ok in run(policy, gaps) if ok]
    for i, start in enumerate(allowed):
        for j in range(i, len(allowed)):
            window = allowed[j] - start
            assert j - i + 1 <= policy.burst + policy.rate * window + 1e-6


@given(policies, st.integers(1, 200))
def test_a_client_that_keeps_to_the_rate_is_never_refused(policy: RatePolicy, n: int) -> None:
    assert all(ok for _, ok in run(policy, [1 / policy.rate] * n))


@given(policies)
def test_a_full_bucket_allows_its_burst_at_once_then_refuses(policy: RatePolicy) -> None:
    outcomes = [ok for _, ok in run(policy, [0.0] * (policy.quota + 1))]
    assert outcomes == [True] * policy.quota + [False]


@given(policies, st.floats(0, 10))
def test_a_refused_request_is_allowed_after_retry_after(policy: RatePolicy, wait: float) -> None:
    bucket: Bucket | None = None
    for _ in range(policy.quota):
        bucket, _ = take(policy, bucket, 0.0)
    bucket, refused = take(policy, bucket, 0.0)
    assert not refused.allowed
    assert refused.remaining == 0
    assert refused.retry_after <= refused.reset_seconds
    _, later = take(policy, bucket, refused.retry_after + 1e-9)
    assert later.allowed


def test_a_clock_that_goes_back_refills_nothing() -> None:
    policy = RatePolicy(rate=1, burst=1)
    bucket, first = take(policy, None, 100.0)
    _, second = take(policy, bucket, 50.0)
    assert first.allowed
    assert not second.allowed


def test_burst_defaults_to_twice_the_rate_and_names_quota_and_window() -> None:
    policy = RatePolicy.of(10)
    assert (policy.burst, policy.quota, policy.window) == (20, 20, 2)
    assert RatePolicy.of(0.2).burst == 1  # never below one request
    assert RatePolicy.of(5, 3).burst == 3


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (math.inf, 1), (1, 0.5)])
def test_policy_refuses_nonsense(rate: float, burst: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        RatePolicy(rate, burst)


async def test_the_in_process_limiter_forgets_idle_buckets() -> None:
    now = [0.0]
    limiter = InMemoryRateLimiter(
        {RateKind.WRITES: RatePolicy(rate=10, burst=2)}, clock=lambda: now[0], max_buckets=50
    )
    for tenant in range(200):
        decision = await limiter.take(f"t{tenant}", RateKind.WRITES)
        assert decision is not None
        assert decision.allowed
    assert len(limiter) <= 50
    now[0] += 1  # every bucket is full again
    for _ in range(3):
        await limiter.take("busy", RateKind.WRITES)
    assert len(limiter) < 50
    assert await limiter.take("t1", RateKind.READS) is None  # reads are not limited


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AUDIT_RATE_LIMIT_WRITES_PER_SECOND", "0"),
        ("AUDIT_RATE_LIMIT_WRITES_PER_SECOND", "-3"),
        ("AUDIT_RATE_LIMIT_READS_PER_SECOND", "nan"),
        ("AUDIT_RATE_LIMIT_READS_PER_SECOND", "many"),
    ],
)
def test_rates_must_be_positive_numbers(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_settings({variable: value})


def test_burst_must_be_at_least_one_and_needs_a_rate() -> None:
    with pytest.raises(SettingsError, match="AUDIT_RATE_LIMIT_WRITES_BURST"):
        load_settings(
            {"AUDIT_RATE_LIMIT_WRITES_PER_SECOND": "5", "AUDIT_RATE_LIMIT_WRITES_BURST": "0.5"}
        )
    with pytest.raises(SettingsError, match="AUDIT_RATE_LIMIT_READS_BURST: needs"):
        load_settings({"AUDIT_RATE_LIMIT_READS_BURST": "5"})


def test_unset_rates_are_unlimited() -> None:
    settings = Settings()
    assert settings.rate_limit_writes_per_second is None
    assert settings.rate_limit_reads_per_second is None
    loaded = load_settings({"AUDIT_RATE_LIMIT_READS_PER_SECOND": "2.5"})
    assert loaded.rate_limit_reads_per_second == 2.5
