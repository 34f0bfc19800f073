"""RedisQueryCache: the production QueryCache, one cache shared by every process.

A page lives under ``P:page:<tenant>:<epoch>:<generation>:<sha256(query)>`` for
``ttl_seconds`` (layout and scripts in ``redis_keys``). ``invalidate(tenant)`` INCRs
the tenant's generation; a global epoch, also part of every page key, is renewed
when an invalidation was lost and whenever a connection reaches a Redis server run
that did not set it (``redis_fence``). A hit is one ``EVALSHA`` (``READ``) that
reads both counters and returns the page stored under them, as stored; on a miss the
same script takes the page's fill lock, so a miss costs that, the load and one
``STORE``.

The contract: a write is acknowledged only when no process can serve a page older
than it. How it holds:

1. A page is stored only under the epoch and generation that its loader read
   *before* it called ``load``; the single flight and the Redis fill lock are keyed
   by that full page key. The write is stored, then the generation INCRed, then the
   write acknowledged; a read that began after the acknowledgement reads the new
   generation, so the only pages it can find were loaded after the write was stored.
2. ``invalidate`` waits for the INCR's reply -- bounded by ``invalidate_timeout_ms``
   (seconds, not the 50 ms of a read), and measured from the command, so neither a
   slow event loop nor a few hundred milliseconds of Redis trouble cost an
   invalidation. A command that outlives the wait is never cancelled: it stays
   queued on its connection. While Redis is paused (``CLIENT PAUSE ... WRITE``) the
   INCR waits in Redis's queue, and so does ``READ`` (a script that may write: it
   creates missing counters), so nobody reads the old generation meanwhile, and
   paused clients are resumed in the order they were paused: the INCR lands before
   any read sent after the acknowledgement.
3. Counters never repeat. A missing epoch or generation (never set, expired,
   evicted, flushed) is created with a fresh random 62-bit value, not 0, and INCR
   goes on from there; a renewed epoch is a fresh random value too.
4. Restarts. A Redis server that comes back with an older state (RDB, AOF, a
   replica that took over) brings old generations and their pages back; each new
   connection first checks that the epoch was set on the server run it reached,
   and renews it if not (``redis_fence``), before it serves anything.
5. Lost invalidations. When the INCR cannot land in time (the wait is over, or the
   connection is refused: then no server runs there to serve old pages, and the
   next one is fenced by 4; the breaker plays no part), the write is still
   acknowledged -- a cache never fails a request -- so the process records the
   loss, answers its own reads from storage, and a background task renews the
   epoch until that lands, which makes every page cached before unreachable for
   every process. The renewal waits on its connection like the INCR above.
   Remaining limit: if Redis stays up but this process alone cannot reach it (a
   network partition, a killed client connection), another process may serve a
   page of the old epoch until the renewal lands or the page expires; no cache that
   must not fail writes can do better without asking storage on every hit.

Failures: reads are bounded by ``timeout_ms`` measured by a lag-aware deadline
(``deadline``): the timer counts only when it fires on time, so a busy event loop
neither cuts off a command Redis has answered nor counts as a Redis failure in the
circuit breaker. Every command of the process shares one pipelined connection
(``redis_link``): there is no pool to run out of, and a command never waits for
another's reply before it is sent. Whatever Redis does, requests are answered from
``load()``, through a single flight that never hands a caller a load begun before it
arrived (``FreshFlight``); exceptions of ``load()`` itself propagate unchanged.

Bounds: each tenant's pages are charged against ``tenant_max_bytes`` (their size
plus ``redis_keys.PAGE_OVERHEAD``); a store that would go over it first evicts the
tenant's oldest pages, and is dropped if that does not make room. The whole Redis is
bounded by its ``maxmemory`` and eviction policy (docs/deployment.md).

No stampede: concurrent misses of one page key share one ``load`` per process, and
across processes the first to SET NX the page's short-lived lock loads while the
others poll for the page for up to ``lock_wait_seconds``, then load themselves.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from redis.exceptions import RedisError

from audit_trail.adapters.cache import redis_keys as rk
from audit_trail.adapters.cache.breaker import BreakerState, CircuitBreaker
from audit_trail.adapters.cache.redis_fence import InstanceFence
from audit_trail.adapters.cache.redis_link import Arg, RedisLink, Script
from audit_trail.adapters.cache.single_flight import FreshFlight, SingleFlight

log = logging.getLogger(__name__)

Load = Callable[[], Awaitable[bytes]]

DAY = 86_400
MIB = 1024 * 1024
STALL_SECONDS = 10.0


@dataclass(slots=True)
class RedisCacheStats:
    """Counters since the cache was made, and the breaker's state."""

    hits: int = 0
    misses: int = 0
    loads: int = 0
    errors: int = 0
    bypasses: int = 0
    oversized: int = 0
    evictions: int = 0
    lost_invalidations: int = 0
    breaker_opened: int = 0
    breaker_state: BreakerState = BreakerState.CLOSED


class _Unavailable(Exception):
    """A Redis command failed or timed out (already counted)."""


class RedisQueryCache:
    def __init__(
        self,
        link: RedisLink,
        *,
        key_prefix: str,
        ttl_seconds: float,
        timeout_ms: int,
        max_page_bytes: int,
        breaker: CircuitBreaker,
        invalidate_timeout_ms: int = 5000,
        tenant_max_bytes: int = 64 * MIB,
        lock_wait_seconds: float = 0.25,
        lock_ttl_ms: int = 2000,
        recovery_interval: float = 0.1,
    ) -> None:
        bounds = (ttl_seconds, timeout_ms, max_page_bytes, lock_ttl_ms, invalidate_timeout_ms)
        if min(*bounds, tenant_max_bytes) <= 0:
            raise ValueError("the TTL, the timeouts and the bounds must be positive")
        self._link = link
        self._keys = rk.KeyLayout(key_prefix)
        self._ttl = ttl_seconds
        self._ttl_ms = max(1, round(ttl_seconds * 1000))
        self._generation_ttl = max(DAY, 10 * math.ceil(ttl_seconds))
        self._timeout = timeout_ms / 1000
        # However busy the event loop, a read gives up on Redis after this long.
        self._timeout_limit = max(1.0, 20 * self._timeout)
        self._invalidate_timeout = invalidate_timeout_ms / 1000
        self._max_page_bytes = max_page_bytes
        self._tenant_max_bytes = tenant_max_bytes
        self._breaker = breaker
        self._lock_wait = lock_wait_seconds
        self._lock_ttl_ms = lock_ttl_ms
        self._recovery_interval = recovery_interval
        self._read = Script(rk.READ)
        self._bump = Script(rk.BUMP)
        self._peek = Script(rk.PEEK)
        self._store = Script(rk.STORE)
        self._forget = Script(rk.FORGET)
        self._stats = RedisCacheStats()
        # fill-lock tokens, unique among holders: random per cache, then counted (no
        # system call for the CSPRNG on every read)
        self._token_stem = secrets.token_hex(8) + ":"
        self._tokens = itertools.count()
        self._flights: SingleFlight[str] = SingleFlight()
        self._fallbacks: FreshFlight[tuple[str, str]] = FreshFlight()
        self._lost = 0  # invalidations that did not reach Redis, ever
        self._covered = 0  # how many of them an epoch renewal has made harmless
        self._recovery: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[bool]] = set()
        self._abandoned: set[asyncio.Task[bool]] = set()  # no longer waited for

    @property
    def stats(self) -> RedisCacheStats:
        return replace(
            self._stats,
            lost_invalidations=self._lost,
            breaker_state=self._breaker.state,
            breaker_opened=self._breaker.opened_count,
        )

    @property
    def recovery_pending(self) -> bool:
        """Whether an invalidation was lost and the epoch not renewed since."""
        return self._covered < self._lost

    async def answers(self, seconds: float) -> None:
        """Returns once Redis answers a PING within ``seconds``, else raises: the
        readiness probe, which neither consults nor moves the breaker."""
        await self._link.call("PING", seconds=seconds, limit=seconds)

    async def ping(self) -> bool:
        """Whether Redis answers (it then knows the scripts); if not, the breaker
        opens at once."""
        # One round trip now spares the first requests a NOSCRIPT and an EVAL.
        scripts = (self._read, self._bump, self._peek, self._store)
        wait = self._invalidate_timeout  # at start-up the loop is busy: be generous
        try:
            await asyncio.gather(
                *(
                    self._link.call("SCRIPT", "LOAD", s.source, seconds=wait, limit=wait)
                    for s in scripts
                )
            )
        except (RedisError, OSError) as exc:
            self._stats.errors += 1
            self._breaker.trip(exc)
            return False
        self._breaker.record_success()
        return True

    async def get_or_load(self, tenant: str, key: str, load: Load) -> bytes:
        if self.recovery_pending or not self._breaker.allow():
            self._stats.bypasses += 1
            return await self._fallback(tenant, key, load)
        digest = rk.digest(key)
        token = f"{self._token_stem}{next(self._tokens)}"
        layout = self._keys
        try:
            epoch, generation, status, *found = await self._run(
                self._read,
                [layout.epoch, layout.generation(tenant)],
                [
                    rk.fresh_counter(),
                    rk.fresh_counter(),
                    self._generation_ttl,
                    layout.page_stem(tenant),
                    layout.lock_stem(tenant),
                    digest,
                    token,
                    self._lock_ttl_ms,
                ],
            )
        except _Unavailable:
            self._stats.bypasses += 1
            return await self._fallback(tenant, key, load)
        if status == rk.FOUND:
            self._stats.hits += 1
            return found[0]  # type: ignore[no-any-return]  # bytes, as stored
        self._stats.misses += 1
        keys = layout.page(tenant, epoch.decode(), generation.decode(), digest)
        if status != rk.CLAIMED:
            return await self._flights.run(keys.page, lambda: self._fill_after_other(keys, load))
        filling = False

        def fill() -> Awaitable[bytes]:
            nonlocal filling
            filling = True
            return self._fill(keys, token, load)

        try:
            return await self._flights.run(keys.page, fill)
        finally:
            if not filling:  # this process was filling the page already: not with our lock
                await self._save(keys, None, token)

    async def invalidate(self, tenant: str) -> None:
        """INCR the tenant's generation and wait until it has landed, for at most
        ``invalidate_timeout_ms``; past that the loss is recorded and repaired in the
        background (see the module docstring)."""
        # Even with the breaker open: a breaker opened by slowness while Redis still
        # answers must not let a write be acknowledged with its INCR never sent. A
        # Redis that refuses connections costs one refused attempt (_bump_generation).
        bump = asyncio.ensure_future(self._bump_generation(tenant))
        self._background.add(bump)
        bump.add_done_callback(self._bump_ended)  # runs before this coroutine resumes
        try:
            async with asyncio.timeout(self._invalidate_timeout):
                await asyncio.shield(bump)
        except TimeoutError:
            # The INCR goes on in its queue; the loss is recorded (and repaired) anyway.
            self._abandoned.add(bump)
            self._stats.errors += 1
            self._breaker.record_failure()
            self._lose_invalidation()

    async def forget(self, tenant: str) -> None:
        await self.invalidate(tenant)
        try:
            await self._link.evalsha(
                self._forget, [self._keys.index(tenant), self._keys.charged(tenant)], []
            )
        except (RedisError, OSError):  # unreachable now: its pages expire, unserved
            self._stats.errors += 1
            log.warning("could not delete the cached pages of tenant %r", tenant, exc_info=True)

    async def aclose(self) -> None:
        """Stop the background work, after one last try at the epoch renewal it is due."""
        task, self._recovery = self._recovery, None
        for pending in [task, *self._background]:
            if pending is not None:
                pending.cancel()
        await asyncio.gather(*[t for t in [task, *self._background] if t], return_exceptions=True)
        if self.recovery_pending and not await self._renew_epoch(self._timeout_limit):
            log.warning(
                "Redis query cache: closing with %d lost invalidation(s) not covered; "
                "other processes may serve older pages until they expire (%g s)",
                self._lost - self._covered,
                self._ttl,
            )

    # -- filling a page ---------------------------------------------------
    async def _fill(self, keys: rk.PageKeys, token: str, load: Load) -> bytes:
        """Loads the page whose fill lock ``token`` holds, stores it, frees the lock."""
        try:
            value = await self._load(load)
        except Exception:
            await self._save(keys, None, token)  # release the lock for the others
            raise
        await self._save(keys, value, token)
        return value

    async def _fill_after_other(self, keys: rk.PageKeys, load: Load) -> bytes:
        """The page another process is filling, or, if it does not come, our own load."""
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
                status, *found = await self._run(self._peek, [keys.page, keys.lock], [])
            except _Unavailable:
                return None
            if status == rk.FOUND:
                return found[0]  # type: ignore[no-any-return]
            if status == rk.FREE:  # the filler gave up or its page was too large
                return None
        return None

    async def _save(self, keys: rk.PageKeys, value: bytes | None, token: str) -> None:
        if value is not None and (
            len(value) > self._max_page_bytes
            or len(value) + rk.PAGE_OVERHEAD > self._tenant_max_bytes
        ):
            self._stats.oversized += 1
            value = None
        if value is None and not token:
            return
        args: list[Arg] = [
            value or b"",
            self._ttl_ms,
            token,
            "0" if value is None else "1",
            self._tenant_max_bytes,
            len(value or b"") + rk.PAGE_OVERHEAD,
            rk.MAX_EVICTIONS,
        ]
        with suppress(_Unavailable):
            _, evicted = await self._run(
                self._store, [keys.page, keys.lock, keys.index, keys.charged], args
            )
            self._stats.evictions += evicted

    async def _load(self, load: Load) -> bytes:
        self._stats.loads += 1
        return await load()

    async def _fallback(self, tenant: str, key: str, load: Load) -> bytes:
        """Straight from storage, sharing a load only among callers it began after."""
        return await self._fallbacks.run((tenant, key), lambda: self._load(load))

    # -- invalidations ----------------------------------------------------
    async def _bump_generation(self, tenant: str) -> bool:
        """INCR the generation, retrying failures until the invalidation wait is over;
        never cut off by a client-side timer. Gives up at once only when the
        connection is refused: then no Redis server runs there to serve old pages,
        and the next one to run there is fenced off (``redis_fence``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._invalidate_timeout
        delay = 0.01
        while True:
            try:
                await self._link.evalsha(
                    self._bump,
                    [self._keys.generation(tenant)],
                    [rk.fresh_counter(), self._generation_ttl],
                )
            except (RedisError, OSError) as exc:
                self._stats.errors += 1
                self._breaker.record_failure(exc)
                if _refused(exc):
                    return False
            else:
                self._breaker.record_success()
                return True
            if loop.time() + delay >= deadline:
                return False
            await asyncio.sleep(delay)
            delay = min(2 * delay, 0.2)

    def _bump_ended(self, bump: asyncio.Task[bool]) -> None:
        """Records the loss of a bump that did not land (also when its invalidate()
        was cancelled: the write is stored all the same)."""
        self._background.discard(bump)
        if bump in self._abandoned:
            self._abandoned.discard(bump)  # its loss is recorded already
        elif not bump.cancelled() and (bump.exception() is not None or not bump.result()):
            self._lose_invalidation()

    def _lose_invalidation(self) -> None:
        if not self.recovery_pending:
            log.warning(
                "Redis query cache: an invalidation did not reach Redis; answering "
                "from storage here until the cache epoch is renewed"
            )
        self._lost += 1
        if self._recovery is None or self._recovery.done():
            self._recovery = asyncio.ensure_future(self._recover())

    async def _recover(self) -> None:
        while self.recovery_pending:
            if not await self._renew_epoch(self._invalidate_timeout):
                await asyncio.sleep(self._recovery_interval)
        log.info("Redis query cache: epoch bumped, older pages are unreachable")

    async def _renew_epoch(self, wait: float) -> bool:
        covers = self._lost  # the losses recorded before the renewal is sent
        renewal = asyncio.ensure_future(
            self._link.send("SET", self._keys.epoch, rk.fresh_counter())
        )
        renewal.add_done_callback(_retrieved)  # may outlive the wait: it stays queued
        try:
            async with asyncio.timeout(wait):
                await asyncio.shield(renewal)
        except (RedisError, OSError):  # TimeoutError is an OSError
            return False
        self._covered = max(self._covered, covers)
        return True

    # -- reads ------------------------------------------------------------
    async def _run(self, script: Script, keys: Sequence[Arg], args: Sequence[Arg]) -> Any:
        try:
            result = await self._link.evalsha(
                script, keys, args, seconds=self._timeout, limit=self._timeout_limit
            )
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
    invalidate_timeout_ms: int = 5000,
    **options: Any,
) -> AsyncIterator[RedisQueryCache]:
    """A RedisQueryCache on a link of its own (one pipelined connection), closed on exit.

    Never fails because Redis is down: the cache then starts with its breaker open
    and says so in the log. ``options`` go to ``RedisQueryCache``."""
    # The connection's own bounds only catch a dead peer: the cache's deadlines, which
    # discount event-loop lag, are what bound a command. A command abandoned by its
    # caller stays queued in Redis (an INCR that a paused Redis will run before any
    # later read), so a connection is only cut after a long silence.
    generous = max(timeout_ms, invalidate_timeout_ms) / 1000
    link = RedisLink(
        url,
        connect_seconds=generous,
        stall_seconds=max(STALL_SECONDS, 2 * generous),
        on_connect=InstanceFence(rk.KeyLayout(key_prefix)).on_connect,
    )
    breaker = CircuitBreaker(reset_seconds=breaker_seconds, name="Redis query cache")
    cache = RedisQueryCache(
        link,
        key_prefix=key_prefix,
        ttl_seconds=ttl_seconds,
        timeout_ms=timeout_ms,
        max_page_bytes=max_page_bytes,
        breaker=breaker,
        invalidate_timeout_ms=invalidate_timeout_ms,
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
        await link.aclose()


def _refused(exc: BaseException) -> bool:
    """Whether ``exc`` comes from a refused connection (nothing listens there)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError) or "Connection refused" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _retrieved(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{'' if parts.port is None else f':{parts.port}'}{parts.path}"
