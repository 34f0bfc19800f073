"""RateLimiter: per-tenant token buckets, stored somewhere (``core.rate_limit`` decides)."""

from __future__ import annotations

from typing import Protocol

from audit_trail.core.rate_limit import Decision, RateKind


class RateLimiter(Protocol):
    async def take(self, tenant: str, kind: RateKind) -> Decision | None:
        """Take one token from ``tenant``'s ``kind`` bucket.

        Returns the decision, or None when ``kind`` is not limited or when the limiter
        cannot decide (its store is down): the request then goes on (fail open), and
        the adapter logs and counts that. Never raises because its store failed."""
        ...
