"""InMemoryQueryCache beyond the contract: its bounds, its clock, its counters; and
NoQueryCache, which keeps nothing."""

from __future__ import annotations

import asyncio

import pytest

from audit_trail.adapters.cache.memory import CacheStats, InMemoryQueryCache
from audit_trail.adapters.cache.none import NoQueryCache
from tests.contracts.test_query_cache import Loader


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def cached(cache: InMemoryQueryCache | NoQueryCache, key: str) -> bool:
    """Whether (t1, key) is served without loading."""
    load = Loader(b"reloaded")
    await cache.get_or_load("t1", key, load)
    return load.calls == 0


async def test_the_least_recently_used_value_goes_beyond_max_entries() -> None:
    cache = InMemoryQueryCache(max_entries=3)
    for key in ("k1", "k2", "k3"):
        await cache.get_or_load("t1", key, Loader(b"v"))
    await cache.get_or_load("t1", "k1", Loader(b"v"))  # k1 is now the most recent

    await cache.get_or_load("t2", "k4", Loader(b"v"))

    assert len(cache) == 3
    assert not await cached(cache, "k2")
    assert await cached(cache, "k1")
    assert cache.stats.evictions >= 1


async def test_values_are_evicted_beyond_max_bytes() -> None:
    cache = InMemoryQueryCache(max_bytes=100)
    await cache.get_or_load("t1", "k1", Loader(b"x" * 40))
    await cache.get_or_load("t1", "k2", Loader(b"x" * 40))
    assert cache.size_bytes == 80

    await cache.get_or_load("t1", "k3", Loader(b"x" * 40))

    assert cache.size_bytes == 80
    assert await cached(cache, "k3")
    assert await cached(cache, "k2")
    assert not await cached(cache, "k1")


async def test_a_page_over_max_page_bytes_is_returned_but_not_kept() -> None:
    cache = InMemoryQueryCache(max_page_bytes=10)
    big, fits = b"x" * 11, b"y" * 10

    assert await cache.get_or_load("t1", "big", Loader(big)) == big
    assert await cache.get_or_load("t1", "fits", Loader(fits)) == fits

    assert cache.size_bytes == 10
    assert await cached(cache, "fits")
    assert not await cached(cache, "big")


async def test_a_page_over_max_bytes_is_not_kept_and_evicts_nothing() -> None:
    cache = InMemoryQueryCache(max_bytes=10, max_page_bytes=1000)
    await cache.get_or_load("t1", "small", Loader(b"s"))

    assert await cache.get_or_load("t1", "big", Loader(b"x" * 11)) == b"x" * 11

    assert await cached(cache, "small")
    assert not await cached(cache, "big")


async def test_values_live_exactly_the_ttl_on_the_injected_clock() -> None:
    clock = FakeMonotonic()
    cache = InMemoryQueryCache(ttl_seconds=30, monotonic=clock)
    await cache.get_or_load("t1", "q", Loader(b"v"))

    clock.now += 29.999
    assert await cached(cache, "q")
    clock.now += 0.001
    assert not await cached(cache, "q")


async def test_an_expired_value_frees_its_room() -> None:
    clock = FakeMonotonic()
    cache = InMemoryQueryCache(ttl_seconds=1, monotonic=clock)
    await cache.get_or_load("t1", "q", Loader(b"12345"))

    clock.now += 2
    await cache.get_or_load("t1", "q", Loader(b"123"))

    assert cache.size_bytes == 3
    assert len(cache) == 1


async def test_invalidate_frees_the_tenants_room_only() -> None:
    cache = InMemoryQueryCache()
    await cache.get_or_load("t1", "a", Loader(b"1234"))
    await cache.get_or_load("t1", "b", Loader(b"1234"))
    await cache.get_or_load("t2", "a", Loader(b"12"))

    await cache.invalidate("t1")

    assert (len(cache), cache.size_bytes) == (1, 2)


async def test_a_load_that_ends_after_an_invalidation_takes_no_room() -> None:
    cache = InMemoryQueryCache()
    gate = asyncio.Event()
    stale = Loader(b"stale", gate=gate)
    reader = asyncio.ensure_future(cache.get_or_load("t1", "q", stale))
    await asyncio.wait_for(stale.started.wait(), 5)

    await cache.invalidate("t1")
    gate.set()

    assert await reader == b"stale"
    assert (len(cache), cache.size_bytes) == (0, 0)


async def test_counters_count_hits_misses_and_loads() -> None:
    cache = InMemoryQueryCache()
    await cache.get_or_load("t1", "a", Loader(b"v"))
    await cache.get_or_load("t1", "a", Loader(b"v"))
    await cache.get_or_load("t1", "a", Loader(b"v"))
    await cache.get_or_load("t1", "b", Loader(b"v"))

    assert cache.stats == CacheStats(hits=2, misses=2, loads=2, evictions=0)


@pytest.mark.parametrize(
    ("ttl_seconds", "max_entries", "max_bytes", "max_page_bytes"),
    [(0, 1, 1, 1), (1, 0, 1, 1), (1, 1, -1, 1), (1, 1, 1, 0)],
)
def test_bounds_must_be_positive(
    ttl_seconds: float, max_entries: int, max_bytes: int, max_page_bytes: int
) -> None:
    with pytest.raises(ValueError, match="positive"):
        InMemoryQueryCache(
            ttl_seconds=ttl_seconds,
            max_entries=max_entries,
            max_bytes=max_bytes,
            max_page_bytes=max_page_bytes,
        )


async def test_no_query_cache_loads_every_time() -> None:
    cache = NoQueryCache()
    load = Loader(b"v")

    for _ in range(3):
        assert await cache.get_or_load("t1", "q", load) == b"v"

    assert load.calls == 3


async def test_no_query_cache_passes_errors_on_and_invalidate_does_nothing() -> None:
    cache = NoQueryCache()
    load = Loader(b"v")
    load.error = RuntimeError("down")

    await cache.invalidate("t1")
    with pytest.raises(RuntimeError, match="down"):
        await cache.get_or_load("t1", "q", load)
