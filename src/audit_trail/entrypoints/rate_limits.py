# ruff: noqa: PLC0415  (the Redis adapter is imported lazily, inside its branch)
"""Opening the RateLimiter that the settings describe (``providers.Resource``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from audit_trail.core.ports.rate_limit import RateLimiter
from audit_trail.core.rate_limit import RateKind, RatePolicy
from audit_trail.entrypoints.settings import Settings


def rate_policies(settings: Settings) -> dict[RateKind, RatePolicy]:
    """The limited kinds and their policies; an unset rate is no limit."""
    policies = {}
    for kind, rate, burst in (
        (RateKind.WRITES, settings.rate_limit_writes_per_second, settings.rate_limit_writes_burst),
        (RateKind.READS, settings.rate_limit_reads_per_second, settings.rate_limit_reads_burst),
    ):
        if rate is not None:
            policies[kind] = RatePolicy.of(rate, burst)
    return policies


def uses_redis(settings: Settings) -> bool:
    if settings.rate_limit_store == "auto":
        return settings.cache == "redis"
    return settings.rate_limit_store == "redis"


async def open_rate_limiter(
    settings: Settings, clock: Callable[[], float]
) -> AsyncIterator[RateLimiter | None]:
    """None when nothing is limited; buckets in Redis (``AUDIT_REDIS_URL``, shared by
    every process) when ``uses_redis``, else in this process, measured by ``clock``."""
    policies = rate_policies(settings)
    if not policies:
        yield None
    elif uses_redis(settings):
        from audit_trail.adapters.ratelimit.redis import open_redis_rate_limiter

        async with open_redis_rate_limiter(
            url=settings.redis_url,
            policies=policies,
            key_prefix=settings.redis_key_prefix,
            timeout_ms=settings.redis_timeout_ms,
            breaker_seconds=settings.redis_breaker_seconds,
        ) as limiter:
            yield limiter
    else:
        from audit_trail.adapters.ratelimit.memory import InMemoryRateLimiter

        yield InMemoryRateLimiter(policies, clock=clock)
