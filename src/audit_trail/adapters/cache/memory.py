"""InMemoryQueryCache: the embedded default QueryCache, inside the process.

Values live under (tenant, tenant's generation, key); ``invalidate`` bumps the
generation and drops the tenant's values, so a load that began before a write is
never stored or shared with a read that began after it. Values expire after a TTL;
the cache holds at most ``max_entries`` values and ``max_bytes`` bytes of them,
evicting the least recently used; a value over ``max_page_bytes`` is returned but
not kept. Concurrent misses for one key share one call of ``load``, which runs in
a task of its own, so a caller that gives up does not cancel it for the others.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from audit_trail.adapters.cache.single_flight import SingleFlight

MIB = 1024 * 1024

_Key = tuple[str, int, str]  # (tenant, generation, key)


@dataclass(slots=True)
class CacheStats:
    """Counters since the cache was made: values served, values not found, calls of
    ``load``, and values evicted to stay within the bounds."""

    hits: int = 0
    misses: int = 0
    loads: int = 0
    evictions: int = 0


@dataclass(frozen=True, slots=True)
class _Stored:
    value: bytes
    expires_at: float


class InMemoryQueryCache:
    def __init__(
        self,
        *,
        ttl_seconds: float = 60,
        max_entries: int = 10_000,
        max_bytes: int = 64 * MIB,
        max_page_bytes: int = 1 * MIB,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if min(ttl_seconds, max_entries, max_bytes, max_page_bytes) <= 0:
            raise ValueError("the TTL and every bound must be positive")
        self.stats = CacheStats()
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._max_page_bytes = min(max_page_bytes, max_bytes)
        self._monotonic = monotonic
        self._values: OrderedDict[_Key, _Stored] = OrderedDict()
        self._by_tenant: dict[str, set[_Key]] = {}
        self._generations: dict[str, int] = {}
        self._flights: SingleFlight[_Key] = SingleFlight()
        self._bytes = 0

    def __len__(self) -> int:
        """How many values are held (expired ones until they are next looked up)."""
        return len(self._values)

    @property
    def size_bytes(self) -> int:
        """The total size of the values held."""
        return self._bytes

    async def get_or_load(
        self, tenant: str, key: str, load: Callable[[], Awaitable[bytes]]
    ) -> bytes:
        cache_key = (tenant, self._generations.get(tenant, 0), key)
        stored = self._values.get(cache_key)
        if stored is not None:
            if stored.expires_at > self._monotonic():
                self._values.move_to_end(cache_key)
                self.stats.hits += 1
                return stored.value
            self._remove(cache_key)
        self.stats.misses += 1
        return await self._flights.run(cache_key, lambda: self._load(cache_key, load))

    async def invalidate(self, tenant: str) -> None:
        self._generations[tenant] = self._generations.get(tenant, 0) + 1
        for cache_key in list(self._by_tenant.get(tenant, ())):
            self._remove(cache_key)

    async def forget(self, tenant: str) -> None:
        await self.invalidate(tenant)  # which removes the tenant's pages already

    async def _load(self, cache_key: _Key, load: Callable[[], Awaitable[bytes]]) -> bytes:
        self.stats.loads += 1
        value = await load()
        tenant, generation, _ = cache_key
        if self._generations.get(tenant, 0) == generation:
            self._store(cache_key, value)
        return value

    def _store(self, cache_key: _Key, value: bytes) -> None:
        if len(value) > self._max_page_bytes:
            return
        if cache_key in self._values:
            self._remove(cache_key)
        self._values[cache_key] = _Stored(value, self._monotonic() + self._ttl)
        self._by_tenant.setdefault(cache_key[0], set()).add(cache_key)
        self._bytes += len(value)
        while len(self._values) > self._max_entries or self._bytes > self._max_bytes:
            self._remove(next(iter(self._values)))
            self.stats.evictions += 1

    def _remove(self, cache_key: _Key) -> None:
        stored = self._values.pop(cache_key)
        self._bytes -= len(stored.value)
        tenant_keys = self._by_tenant[cache_key[0]]
        tenant_keys.discard(cache_key)
        if not tenant_keys:
            del self._by_tenant[cache_key[0]]
