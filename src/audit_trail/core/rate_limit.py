"""Token buckets: the arithmetic of per-tenant rate limits, pure, with the time passed in.

A bucket holds up to ``burst`` tokens and refills at ``rate`` tokens a second; each
request takes one. So in any window of ``t`` seconds at most ``burst + rate * t``
requests are allowed, and a client that keeps to ``rate`` is never refused. The
adapters (in process, Redis) store buckets; this module alone decides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

# Tokens short of a whole request that still count as one: floating-point refills
# (a client exactly at the rate) land a hair below the token they earned.
EPSILON = 1e-9


class RateKind(StrEnum):
    """What a request spends: each tenant has one bucket of each kind."""

    WRITES = "writes"
    READS = "reads"


@dataclass(frozen=True, slots=True)
class RatePolicy:
    """``rate`` tokens a second, at most ``burst`` at once (both positive, burst >= 1)."""

    rate: float
    burst: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate) and self.rate > 0):
            raise ValueError("the rate must be a positive number")
        if not (math.isfinite(self.burst) and self.burst >= 1):
            raise ValueError("the burst must be at least 1")

    @classmethod
    def of(cls, rate: float, burst: float | None = None) -> RatePolicy:
        """The policy for ``rate``; its burst is twice the rate (at least 1) unless given."""
        return cls(rate, burst if burst is not None else max(1.0, 2 * rate))

    @property
    def quota(self) -> int:
        """The most requests a client can make at once: a full bucket."""
        return math.floor(self.burst + EPSILON)

    @property
    def window(self) -> int:
        """Seconds a bucket takes to refill from empty, rounded up: ``quota`` requests
        per ``window`` seconds is the sustained rate when burst / rate is whole."""
        return max(1, math.ceil(self.burst / self.rate))

    def idle_seconds(self) -> float:
        """After this long unused, any bucket is full again (and may be forgotten)."""
        return self.burst / self.rate


@dataclass(frozen=True, slots=True)
class Bucket:
    """A bucket's tokens as of ``stamp`` (seconds on the clock that measures it)."""

    tokens: float
    stamp: float


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to one request: whether it may go on; ``remaining`` whole tokens left;
    ``reset_seconds`` until the bucket is full; ``retry_after`` seconds until a
    refused request would be allowed (0 when allowed)."""

    policy: RatePolicy
    allowed: bool
    remaining: int
    reset_seconds: float
    retry_after: float


def refill(policy: RatePolicy, bucket: Bucket | None, now: float) -> Bucket:
    """``bucket`` as of ``now``: refilled for the time since its stamp, never above
    burst. A missing bucket is full. A clock that went back refills nothing."""
    if bucket is None:
        return Bucket(policy.burst, now)
    elapsed = now - bucket.stamp
    if elapsed <= 0:
        return bucket
    return Bucket(min(policy.burst, bucket.tokens + elapsed * policy.rate), now)


def take(
    policy: RatePolicy, bucket: Bucket | None, now: float, cost: float = 1.0
) -> tuple[Bucket, Decision]:
    """Take ``cost`` tokens from ``bucket`` at ``now``: the bucket to store, and the
    decision. A refused request takes nothing."""
    current = refill(policy, bucket, now)
    allowed = current.tokens >= cost - EPSILON
    if allowed:
        current = Bucket(current.tokens - cost, current.stamp)
    return current, decide(policy, current.tokens, allowed=allowed, cost=cost)


def decide(policy: RatePolicy, tokens: float, *, allowed: bool, cost: float = 1.0) -> Decision:
    """The decision for a bucket left with ``tokens`` (after the take, if allowed)."""
    tokens = max(0.0, tokens)
    return Decision(
        policy=policy,
        allowed=allowed,
        remaining=math.floor(tokens + EPSILON),
        reset_seconds=max(0.0, (policy.burst - tokens) / policy.rate),
        retry_after=0.0 if allowed else max(0.0, (cost - tokens) / policy.rate),
    )
