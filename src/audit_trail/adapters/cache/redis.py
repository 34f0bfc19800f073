"""RedisQueryCache: the production QueryCache, one cache shared by every process.

A page lives under ``P:page:<tenant>:<epoch>:<generation>:<sha256(query)>`` for
``ttl_seconds`` (layout and scripts in ``redis_keys``). ``invalidate(tenant)`` INCRs
the tenant's generation; a global epoch, also part of every page key, is bumped
when an invalidation was lost.

Why no read gets a page older than a write it could know about:

1. A page is stored only under the epoch and generation that its loader read
   *before* it called ``load``. The write is stored, then the generation INCRed,
   then the write acknowledged; a read that began after the acknowledgement reads
   the new generation, so the only pages it can find were loaded after the INCR,
   hence after the write was stored. The counters live in Redis, so this holds
   across processes, and for the in-process single flight and the Redis fill lock
   too: both are keyed by the full page key, which each caller computes from
   counters it read itself.
2. Counters never repeat. A missing epoch or generation (never set, expired,
   evicted, flushed, Redis restarted without persistence) is created with a fresh
   random 62-bit value, not 0, and INCR goes on from there, so a lost counter never
   climbs back to a value old pages are stored under. Generations expire a day
   (at least ten TTLs) after their last bump; pages after ``ttl_seconds``.
3. Lost invalidations. When the INCR fails (Redis down, slow, paused) the write is
   still acknowledged -- a cache never fails a request -- so the process records
   the loss, answers its own reads from storage, and a background task retries,
   every ``recovery_interval``, an INCR of the global epoch until one lands. That
   makes every page cached before it unreachable, for every process. A bump covers
   only the losses recorded before it was sent (sequence numbers), so a loss that
   races a bump is never forgotten.
   Limit: between Redis answering again and that bump landing (one retry interval),
   another process that lost nothing may still read a page of the old epoch (if
   the losing process dies first: until the page's TTL). The only record of the
   loss is in the process that lost it; no cache that must not fail writes can do
   better. If Redis lost its data (restart without persistence, FLUSHALL), there
   is nothing stale to serve.

Failures: every command is bounded by ``timeout_ms`` (socket timeouts plus an
``asyncio.timeout`` guard, no retries); a failure is counted in a circuit breaker
that, once open, keeps requests away from Redis for ``breaker_seconds`` and then
lets one probe through. Whatever Redis does, requests are answered from ``load()``;
exceptions of ``load()`` itself propagate unchanged.

No stampede: concurrent misses of one page key share one ``load`` per process, and
across processes the first to SET NX the page's short-lived lock loads while the
others poll for the page for up to ``lock_wait_seconds``, then load themselves.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, replace
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from audit_trail.adapters.cache import redis_keys as rk
from audit_trail.adapters.cache.breaker import BreakerState, CircuitBreaker
from audit_trail.adapters.cache.single_flight import SingleFlight

log = logging.getLogger(__name__)

T = TypeVar("T")
Load = Callable[[], Awaitable[bytes]]

DAY = 86_400


@dataclass(slots=True)
class RedisCacheStats:
    """Counters since the cache was made, and the breaker's state."""

    hits: int = 0
    misses: int = 0
    loads: int = 0
    errors: int = 0
    bypasses: int = 0
    oversized: int = 0
    breaker_opened: int = 0
    breaker_state: BreakerState = BreakerState.CLOSED


class _Unavailable(Exception):
    """A Redis command failed or timed out (already counted)."""


class RedisQueryCache:
    def __init__(
        self,
        client: redis.asyncio.Redis,
        *,
        key_prefix: str,
        ttl_seconds: float,
        timeout_ms: int,
        max_page_bytes: int,
        breaker: CircuitBreaker,
        lock_wait_seconds: float = 0.25,
        lock_ttl_ms: int = 2000,
        recovery_interval: float = 0.1,
    ) -> None:
        if min(ttl_seconds, timeout_ms, max_page_bytes, lock_ttl_ms) <= 0:
            raise ValueError("the TTL, the timeout and the bounds must be positive")
        self._client = client
        self._keys = rk.KeyLayout(key_prefix)
        self._ttl = ttl_seconds
        self._ttl_ms = max(1, round(ttl_seconds * 1000))
        self._generation_ttl = max(DAY, 10 * math.ceil(ttl_seconds))
        self._timeout = timeout_ms / 1000
        self._max_page_bytes = max_page_bytes
        self._breaker = breaker
        self._lock_wait = lock_wait_seconds
        self._lock_ttl_ms = lock_ttl_ms
        self._recovery_interval = recovery_interval
        self._read = client.register_script(rk.READ)
        self._bump = client.register_script(rk.BUMP)
        self._claim = client.register_script(rk.CLAIM)
        self._peek = client.register_script(rk.PEEK)
        self._store = client.register_script(rk.STORE)
        self._stats = RedisCacheStats()
        self._flights: SingleFlight[str] = SingleFlight()
        self._lost = 0  # invalidations that did not reach Redis, ever
        self._covered = 0  # how many of them an epoch bump has made harmless
        self._recovery: asyncio.Task[None] | None = None

    @property
    def stats(self) -> RedisCacheStats:
        return replace(
            self._stats,
            breaker_state=self._breaker.state,
            breaker_opened=self._breaker.opened_count,
        )

    @property
    def recovery_pending(self) -> bool:
        """Whether an invalidation was lost and the epoch not bumped since."""
        return self._covered < self._lost

    async def ping(self) -> bool:
        """Whether Redis answers (it then knows the scripts); if not, the breaker
        opens at once."""
        try:
            await self._command(self._load_scripts)
        except _Unavailable as exc:
            self._breaker.trip(exc.__cause__)
            return False
        return True

    async def _load_scripts(self) -> None:
        # One round trip now spares the first requests a NOSCRIPT and a SCRIPT LOAD.
        async with self._client.pipeline(transaction=False) as pipe:
            for script in (self._read, self._bump, self._claim, self._peek, self._store):
                pipe.script_load(script.script)
            await pipe.execute()

    async def get_or_load(self, tenant: str, key: str, load: Load) -> bytes:
        if self.recovery_pending or not self._breaker.allow():
            self._stats.bypasses += 1
            return await self._load(load)
        digest = rk.digest(key)
        args = [rk.fresh_counter(), rk.fresh_counter(), self._generation_ttl]
        try:
            epoch, generation, page = await self._command(
                lambda: self._read(
                    keys=[self._keys.epoch, self._keys.generation(tenant)],
                    args=[*args, self._keys.page_stem(tenant), digest],
                )
            )
        except _Unavailable:
            self._stats.bypasses += 1
            return await self._load(load)
        if page is not None:
            self._stats.hits += 1
            return bytes(page)
        self._stats.misses += 1
        keys = self._keys.page(tenant, epoch.decode(), generation.decode(), digest)
        return await self._flights.run(keys.page, lambda: self._fill(keys, load))

    async def invalidate(self, tenant: str) -> None:
        if self._breaker.allow():
            try:
                await self._command(
                    lambda: self._bump(
                        keys=[self._keys.generation(tenant)],
                        args=[rk.fresh_counter(), self._generation_ttl],
                    )
                )
            except _Unavailable:
                pass
            else:
                return
        self._lose_invalidation()

    async def aclose(self) -> None:
        """Stop the recovery task, after one last try at the epoch bump it is due."""
        task, self._recovery = self._recovery, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self.recovery_pending and not await self._bump_epoch():
            log.warning(
                "Redis query cache: closing with %d lost invalidation(s) not covered; "
                "other processes may serve older pages until they expire (%g s)",
                self._lost - self._covered,
                self._ttl,
            )

    # -- filling a page ---------------------------------------------------
    async def _fill(self, keys: rk.PageKeys, load: Load) -> bytes:
        token = secrets.token_hex(8)
        try:
            status, *found = await self._command(
                lambda: self._claim(keys=[keys.page, keys.lock], args=[token, self._lock_ttl_ms])
            )
        except _Unavailable:
            return await self._load(load)
        if status == rk.FOUND:
            return bytes(found[0])
        if status == rk.CLAIMED:
            try:
                value = await self._load(load)
            except Exception:
                await self._save(keys, None, token)  # release the lock for the others
                raise
            await self._save(keys, value, token)
            return value
        page = await self._wait_for(keys)
        if page is not None:
            return page
        value = await self._load(load)
        await self._save(keys, value, "")
        return value

    async def _wait_for(self, keys: rk.PageKeys) -> bytes | None:
        """The page another process is filling, if it arrives within the lock wait."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._lock_wait
        delay = 0.005
        while (left := deadline - loop.time()) > 0:
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, 0.05)
            try:
                status, *found = await self._command(
                    lambda: self._peek(keys=[keys.page, keys.lock])
                )
            except _Unavailable:
                return None
            if status == rk.FOUND:
                return bytes(found[0])
            if status == rk.FREE:  # the filler gave up or its page was too large
                return None
        return None

    async def _save(self, keys: rk.PageKeys, value: bytes | None, token: str) -> None:
        if value is not None and len(value) > self._max_page_bytes:
            self._stats.oversized += 1
            value = None
        if value is None and not token:
            return
        args: list[bytes | str | int] = [
            value or b"",
            self._ttl_ms,
            token,
            "0" if value is None else "1",
        ]
        with suppress(_Unavailable):
            await self._command(lambda: self._store(keys=[keys.page, keys.lock], args=args))

    async def _load(self, load: Load) -> bytes:
        self._stats.loads += 1
        return await load()

    # -- lost invalidations -----------------------------------------------
    def _lose_invalidation(self) -> None:
        if not self.recovery_pending:
            log.warning(
                "Redis query cache: an invalidation did not reach Redis; answering "
                "from storage here until the cache epoch is bumped"
            )
        self._lost += 1
        if self._recovery is None or self._recovery.done():
            self._recovery = asyncio.ensure_future(self._recover())

    async def _recover(self) -> None:
        while self.recovery_pending:
            if not await self._bump_epoch():
                await asyncio.sleep(self._recovery_interval)
        log.info("Redis query cache: epoch bumped, older pages are unreachable")

    async def _bump_epoch(self) -> bool:
        covers = self._lost  # the losses recorded before the bump is sent
        try:
            await self._command(
                lambda: self._bump(keys=[self._keys.epoch], args=[rk.fresh_counter(), 0])
            )
        except _Unavailable:
            return False
        self._covered = max(self._covered, covers)
        return True

    # -- every command ----------------------------------------------------
    async def _command(self, call: Callable[[], Awaitable[T]]) -> T:
        try:
            async with asyncio.timeout(self._timeout):
                result = await call()
        except (RedisError, OSError) as exc:  # TimeoutError is an OSError
            self._stats.errors += 1
            self._breaker.record_failure(exc)
            raise _Unavailable from exc
        self._breaker.record_success()
        return result


@asynccontextmanager
async def open_redis_query_cache(
    *,
    url: str,
    key_prefix: str,
    ttl_seconds: float,
    timeout_ms: int,
    max_page_bytes: int,
    breaker_seconds: float,
    **options: Any,
) -> AsyncIterator[RedisQueryCache]:
    """A RedisQueryCache on its own client, closed on exit.

    Never fails because Redis is down: the cache then starts with its breaker open
    and says so in the log. ``options`` go to ``RedisQueryCache``."""
    timeout = timeout_ms / 1000
    client = redis.asyncio.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )
    breaker = CircuitBreaker(reset_seconds=breaker_seconds, name="Redis query cache")
    cache = RedisQueryCache(
        client,
        key_prefix=key_prefix,
        ttl_seconds=ttl_seconds,
        timeout_ms=timeout_ms,
        max_page_bytes=max_page_bytes,
        breaker=breaker,
        **options,
    )
    try:
        if not await cache.ping():
            log.warning(
                "Redis query cache: %s did not answer at start-up; answering from storage",
                _without_password(url),
            )
        yield cache
    finally:
        await cache.aclose()
        await client.aclose()


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{'' if parts.port is None else f':{parts.port}'}{parts.path}"
