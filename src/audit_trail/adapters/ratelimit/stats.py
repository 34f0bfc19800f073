"""What a rate limiter counts, for the metrics endpoint to expose."""

from __future__ import annotations

from dataclasses import dataclass

from audit_trail.adapters.cache.breaker import BreakerState


@dataclass(slots=True)
class RateLimitStats:
    """Counters since the limiter was made, and its breaker's state."""

    allowed: int = 0
    limited: int = 0
    failed_open: int = 0  # takes let through because Redis could not decide
    breaker_opened: int = 0
    breaker_state: BreakerState = BreakerState.CLOSED
