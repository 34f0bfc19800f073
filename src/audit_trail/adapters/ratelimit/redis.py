"""RedisRateLimiter: token buckets in Redis, one budget per tenant for every process.

Each take is one ``EVALSHA`` of ``TAKE``, which refills and takes atomically. The
script reads the time from Redis (``TIME``), not from the caller: every process,
on every host, then measures a bucket on the same clock, so clock skew between
hosts neither refills a bucket early nor starves it (with the caller's clock a host
running a second ahead would grant itself a second of tokens). Redis replicates a
script's effects (the default since 7; ``replicate_commands`` asks older servers),
so a script that reads ``TIME`` may write.

Keys: ``<prefix>:rate:{<tenant>}:<kind>``, a hash of ``t`` (tokens) and ``s`` (when,
in seconds of Redis's clock). The ``{tenant}`` hash tag keeps a tenant's buckets in
one slot of a Redis Cluster. Each expires once it would be full again, so an idle
bucket vanishes (a missing bucket is a full one: nothing changes).

Failures: any Redis error, a timeout (``AUDIT_REDIS_TIMEOUT_MS``) or an open circuit
breaker lets the request through (fail open): a rate limiter must never turn a
Redis outage into 429s or 5xx. Each such take is counted in ``stats.failed_open``;
the log says so at most once per ``LOG_INTERVAL`` seconds.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace

from redis.exceptions import RedisError

from audit_trail.adapters.cache.breaker import CircuitBreaker
from audit_trail.adapters.cache.redis_link import RedisLink, Script
from audit_trail.adapters.ratelimit.stats import RateLimitStats
from audit_trail.core.rate_limit import Decision, RateKind, RatePolicy, decide

log = logging.getLogger(__name__)

LOG_INTERVAL = 60.0
STALL_SECONDS = 10.0

# KEYS: the bucket. ARGV: rate (tokens/s), burst, cost, TTL (ms).
# Returns {1 if allowed else 0, tokens left (text: Lua numbers reach Redis as integers)}.
# The arithmetic is core.rate_limit.take's; tests hold the two to the same answers.
TAKE = """
if redis.replicate_commands then redis.replicate_commands() end
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local tokens, stamp = burst, now
local stored = redis.call('HMGET', KEYS[1], 't', 's')
if stored[1] and stored[2] then
  tokens, stamp = tonumber(stored[1]), tonumber(stored[2])
  if now > stamp then
    tokens = math.min(burst, tokens + (now - stamp) * rate)
    stamp = now
  end
end
local allowed = 0
if tokens >= cost - 1e-9 then  -- core.rate_limit.EPSILON
  tokens = tokens - cost
  allowed = 1
  redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens),
             's', string.format('%.17g', stamp))
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
return {allowed, string.format('%.17g', tokens)}
"""


class RedisRateLimiter:
    def __init__(
        self,
        link: RedisLink,
        policies: Mapping[RateKind, RatePolicy],
        *,
        key_prefix: str,
        timeout_ms: int,
        breaker: CircuitBreaker,
    ) -> None:
        if timeout_ms <= 0:
            raise ValueError("the timeout must be positive")
        self._link = link
        self._policies = dict(policies)
        self._prefix = key_prefix
        self._timeout = timeout_ms / 1000
        self._timeout_limit = max(1.0, 20 * self._timeout)
        self._breaker = breaker
        self._script = Script(TAKE)
        self._stats = RateLimitStats()
        self._logged_at = -math.inf

    @property
    def stats(self) -> RateLimitStats:
        return replace(
            self._stats,
            breaker_state=self._breaker.state,
            breaker_opened=self._breaker.opened_count,
        )

    def key(self, tenant: str, kind: RateKind) -> str:
        return f"{self._prefix}:rate:{{{tenant}}}:{kind.value}"

    async def take(self, tenant: str, kind: RateKind) -> Decision | None:
        policy = self._policies.get(kind)
        if policy is None:
            return None
        if not self._breaker.allow():
            self._fail_open(None)
            return None
        ttl_ms = math.ceil(policy.idle_seconds() * 1000) + 1000
        args = (repr(policy.rate), repr(policy.burst), 1, ttl_ms)
        try:
            allowed, tokens = await self._link.evalsha(
                self._script,
                (self.key(tenant, kind),),
                args,
                seconds=self._timeout,
                limit=self._timeout_limit,
            )
            decision = decide(policy, float(tokens), allowed=bool(allowed))
        except (RedisError, OSError, ValueError, TypeError) as exc:  # TimeoutError: OSError
            self._breaker.record_failure(exc)
            self._fail_open(exc)
            return None
        self._breaker.record_success()
        if decision.allowed:
            self._stats.allowed += 1
        else:
            self._stats.limited += 1
        return decision

    async def ping(self) -> bool:
        """Whether Redis answers (it then knows the script); if not, the breaker opens."""
        try:
            await self._link.call("SCRIPT", "LOAD", TAKE, seconds=5.0, limit=5.0)
        except (RedisError, OSError) as exc:
            self._breaker.trip(exc)
            return False
        self._breaker.record_success()
        return True

    def _fail_open(self, error: BaseException | None) -> None:
        self._stats.failed_open += 1
        now = time.monotonic()
        if now - self._logged_at >= LOG_INTERVAL:
            self._logged_at = now
            reason = "its circuit is open" if error is None else f"{type(error).__name__}"
            log.warning(
                "Redis rate limiter: letting requests through unlimited (%s);"
                " %d so far, logged at most every %g s",
                reason,
                self._stats.failed_open,
                LOG_INTERVAL,
            )


@asynccontextmanager
async def open_redis_rate_limiter(
    *,
    url: str,
    policies: Mapping[RateKind, RatePolicy],
    key_prefix: str,
    timeout_ms: int,
    breaker_seconds: float,
) -> AsyncIterator[RedisRateLimiter]:
    """A RedisRateLimiter on a link of its own, closed on exit. Never fails because
    Redis is down: it then starts with its breaker open (letting requests through)."""
    link = RedisLink(
        url,
        connect_seconds=max(1.0, timeout_ms / 1000),
        stall_seconds=max(STALL_SECONDS, 2 * timeout_ms / 1000),
    )
    breaker = CircuitBreaker(reset_seconds=breaker_seconds, name="Redis rate limiter")
    limiter = RedisRateLimiter(
        link, policies, key_prefix=key_prefix, timeout_ms=timeout_ms, breaker=breaker
    )
    try:
        if not await limiter.ping():
            log.warning("Redis rate limiter: Redis did not answer at start-up; not limiting")
        yield limiter
    finally:
        await link.aclose()
