"""InMemoryRateLimiter: each tenant's buckets in a dict of this process.

Memory is bounded: buckets are kept in order of last use, and each take forgets the
least recently used ones that have refilled (a forgotten bucket comes back full, so
forgetting a full one changes nothing). Past ``max_buckets`` the least recently used
bucket is forgotten even when not full: that tenant gets a fresh burst, the price of
the bound (it needs more tenants active at once than ``max_buckets``).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import replace

from audit_trail.adapters.ratelimit.stats import RateLimitStats
from audit_trail.core.rate_limit import Bucket, Decision, RateKind, RatePolicy, refill, take

MAX_BUCKETS = 100_000
SWEEP = 2  # idle buckets looked at per take: amortised, never a full scan


class InMemoryRateLimiter:
    def __init__(
        self,
        policies: Mapping[RateKind, RatePolicy],
        *,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        if max_buckets < 1:
            raise ValueError("max_buckets must be at least 1")
        self._policies = dict(policies)
        self._clock = clock
        self._max = max_buckets
        self._buckets: OrderedDict[tuple[str, RateKind], Bucket] = OrderedDict()
        self._stats = RateLimitStats()

    @property
    def stats(self) -> RateLimitStats:
        """Counters since the limiter was made (it never fails open: nothing to fail)."""
        return replace(self._stats)

    def __len__(self) -> int:
        return len(self._buckets)

    async def take(self, tenant: str, kind: RateKind) -> Decision | None:
        policy = self._policies.get(kind)
        if policy is None:
            return None
        now = self._clock()
        key = (tenant, kind)
        bucket, decision = take(policy, self._buckets.pop(key, None), now)
        self._buckets[key] = bucket  # the most recently used is last
        self._forget_idle(now)
        if decision.allowed:
            self._stats.allowed += 1
        else:
            self._stats.limited += 1
        return decision

    def _forget_idle(self, now: float) -> None:
        for _ in range(SWEEP):
            if len(self._buckets) <= 1:
                return
            (tenant, kind), oldest = next(iter(self._buckets.items()))
            policy = self._policies[kind]
            if refill(policy, oldest, now).tokens < policy.burst:
                break
            del self._buckets[(tenant, kind)]
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
