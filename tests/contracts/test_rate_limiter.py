"""RateLimiter contract, for every adapter: in process, and in Redis.

Rates are slow enough (one token a thousand seconds) that no bucket refills while a
test runs, whichever clock the adapter reads; refill itself is the core's arithmetic
(tests/unit/test_rate_limit.py) and the API suite's (on an injected clock).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis

from audit_trail.adapters.ratelimit.memory import InMemoryRateLimiter
from audit_trail.adapters.ratelimit.redis import open_redis_rate_limiter
from audit_trail.core.ports.rate_limit import RateLimiter
from audit_trail.core.rate_limit import RateKind, RatePolicy
from tests.servers import RedisServer

SLOW = 0.001
POLICIES = {RateKind.WRITES: RatePolicy(SLOW, 3), RateKind.READS: RatePolicy(SLOW, 2)}


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[RateLimiter]:
    if request.param == "memory":
        yield InMemoryRateLimiter(POLICIES)
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    async with open_redis_rate_limiter(
        url=server.url,
        policies=POLICIES,
        key_prefix=f"rate-{uuid.uuid4().hex}",
        timeout_ms=1000,
        breaker_seconds=5,
    ) as redis_limiter:
        yield redis_limiter


async def outcomes(limiter: RateLimiter, tenant: str, kind: RateKind, n: int) -> list[bool]:
    seen = []
    for _ in range(n):
        decision = await limiter.take(tenant, kind)
        assert decision is not None
        seen.append(decision.allowed)
    return seen


async def test_a_burst_passes_then_the_next_is_refused(limiter: RateLimiter) -> None:
    remaining = []
    for _ in range(3):
        decision = await limiter.take("t1", RateKind.WRITES)
        assert decision is not None
        assert decision.allowed
        remaining.append(decision.remaining)
    refused = await limiter.take("t1", RateKind.WRITES)

    assert remaining == [2, 1, 0]
    assert refused is not None
    assert not refused.allowed
    assert refused.remaining == 0
    assert 990 < refused.retry_after <= 1000  # a token a thousand seconds
    assert refused.retry_after <= refused.reset_seconds <= 3000


async def test_tenants_and_kinds_have_their_own_buckets(limiter: RateLimiter) -> None:
    assert await outcomes(limiter, "t1", RateKind.WRITES, 4) == [True] * 3 + [False]
    assert await outcomes(limiter, "t2", RateKind.WRITES, 4) == [True] * 3 + [False]
    assert await outcomes(limiter, "t1", RateKind.READS, 3) == [True] * 2 + [False]


async def test_a_refused_request_takes_nothing(limiter: RateLimiter) -> None:
    assert await outcomes(limiter, "t1", RateKind.READS, 10) == [True] * 2 + [False] * 8
    decision = await limiter.take("t1", RateKind.READS)
    assert decision is not None
    assert decision.reset_seconds <= 2 / SLOW


async def test_a_kind_without_a_policy_is_not_limited() -> None:
    limiter = InMemoryRateLimiter({RateKind.WRITES: RatePolicy(SLOW, 1)})
    assert await limiter.take("t1", RateKind.READS) is None


async def test_redis_buckets_carry_a_tenant_hash_tag_and_expire(redis_server: RedisServer) -> None:
    prefix = f"rate-{uuid.uuid4().hex}"
    async with open_redis_rate_limiter(
        url=redis_server.url,
        policies={RateKind.WRITES: RatePolicy(10, 20)},
        key_prefix=prefix,
        timeout_ms=1000,
        breaker_seconds=5,
    ) as limiter:
        await limiter.take("acme", RateKind.WRITES)
    client = redis.Redis.from_url(redis_server.url)
    try:
        key = f"{prefix}:rate:{{acme}}:writes"
        assert client.keys(f"{prefix}:*") == [key.encode()]
        assert 0 < client.pttl(key) <= 2000 + 1000  # full again after burst / rate = 2 s
    finally:
        client.close()
