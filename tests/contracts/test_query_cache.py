"""QueryCache contract: hits, per-tenant invalidation, expiry, and single flight across
invalidations. The flight promises every cache keeps, NoQueryCache included, are in
``test_query_cache_flights.py``."""

from __future__ import annotations

import asyncio

import pytest

from audit_trail.core.ports import QueryCache


class Loader:
    """A ``load`` function that counts its calls; it can wait for a gate, or fail."""

    def __init__(self, value: bytes, *, gate: asyncio.Event | None = None) -> None:
        self.value = value
        self.calls = 0
        self.started = asyncio.Event()
        self.gate = gate
        self.error: Exception | None = None

    async def __call__(self) -> bytes:
        self.calls += 1
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        return self.value


async def test_a_miss_loads_and_the_next_call_hits(query_cache: QueryCache) -> None:
    load = Loader(b'{"items":[]}')

    first = await query_cache.get_or_load("t1", "q", load)
    second = await query_cache.get_or_load("t1", "q", load)

    assert first == second == b'{"items":[]}'
    assert load.calls == 1


async def test_values_come_back_byte_for_byte(query_cache: QueryCache) -> None:
    value = bytes(range(256)) * 4 + "é🚀".encode()
    await query_cache.get_or_load("t1", "binary", Loader(value))

    assert await query_cache.get_or_load("t1", "binary", Loader(b"other")) == value


async def test_keys_are_separate(query_cache: QueryCache) -> None:
    await query_cache.get_or_load("t1", "a", Loader(b"A"))
    other = Loader(b"B")

    assert await query_cache.get_or_load("t1", "b", other) == b"B"
    assert other.calls == 1
    assert await query_cache.get_or_load("t1", "a", Loader(b"x")) == b"A"


async def test_keys_are_per_tenant(query_cache: QueryCache) -> None:
    await query_cache.get_or_load("t1", "q", Loader(b"one"))
    load_t2 = Loader(b"two")

    assert await query_cache.get_or_load("t2", "q", load_t2) == b"two"
    assert load_t2.calls == 1
    assert await query_cache.get_or_load("t1", "q", Loader(b"x")) == b"one"
    assert await query_cache.get_or_load("t2", "q", Loader(b"x")) == b"two"


@pytest.mark.parametrize("separator", [":", "|", "/", "\x00", " ", "{", "}"])
async def test_tenant_and_key_never_run_into_each_other(
    query_cache: QueryCache, separator: str
) -> None:
    await query_cache.get_or_load("a", f"b{separator}c", Loader(b"first"))
    second = Loader(b"second")

    assert await query_cache.get_or_load(f"a{separator}b", "c", second) == b"second"
    assert second.calls == 1


async def test_invalidate_makes_the_next_call_load_again(query_cache: QueryCache) -> None:
    await query_cache.get_or_load("t1", "q", Loader(b"before"))
    await query_cache.get_or_load("t1", "other", Loader(b"before"))

    await query_cache.invalidate("t1")
    load = Loader(b"after")

    assert await query_cache.get_or_load("t1", "q", load) == b"after"
    assert await query_cache.get_or_load("t1", "other", load) == b"after"
    assert await query_cache.get_or_load("t1", "q", load) == b"after"
    assert load.calls == 2


async def test_invalidating_one_tenant_keeps_the_others_values(query_cache: QueryCache) -> None:
    await query_cache.get_or_load("t1", "q", Loader(b"one"))
    await query_cache.get_or_load("t2", "q", Loader(b"two"))

    await query_cache.invalidate("t1")
    load = Loader(b"fresh")

    assert await query_cache.get_or_load("t2", "q", load) == b"two"
    assert load.calls == 0


async def test_invalidating_a_tenant_with_nothing_cached_is_harmless(
    query_cache: QueryCache,
) -> None:
    await query_cache.invalidate("never-seen")
    await query_cache.invalidate("never-seen")

    assert await query_cache.get_or_load("never-seen", "q", Loader(b"v")) == b"v"


async def test_forget_makes_the_next_call_load_again_for_that_tenant_only(
    query_cache: QueryCache,
) -> None:
    await query_cache.get_or_load("t1", "q", Loader(b"old"))
    await query_cache.get_or_load("t2", "q", Loader(b"kept"))
    await query_cache.forget("t1")
    reload = Loader(b"new")
    assert await query_cache.get_or_load("t1", "q", reload) == b"new"
    assert reload.calls == 1
    assert await query_cache.get_or_load("t2", "q", Loader(b"x")) == b"kept"


async def test_a_load_begun_before_an_invalidation_is_not_served_after_it(
    query_cache: QueryCache,
) -> None:
    gate = asyncio.Event()
    stale = Loader(b"stale", gate=gate)
    early_reader = asyncio.ensure_future(query_cache.get_or_load("t1", "q", stale))
    await asyncio.wait_for(stale.started.wait(), 5)

    await query_cache.invalidate("t1")  # a write was stored meanwhile
    fresh = Loader(b"fresh")
    late = await query_cache.get_or_load("t1", "q", fresh)
    gate.set()
    early = await early_reader

    assert (early, late) == (b"stale", b"fresh")
    assert fresh.calls == 1
    assert await query_cache.get_or_load("t1", "q", Loader(b"x")) == b"fresh"


async def test_a_cancelled_caller_does_not_fail_the_others(query_cache: QueryCache) -> None:
    gate = asyncio.Event()
    load = Loader(b"value", gate=gate)
    leaver = asyncio.ensure_future(query_cache.get_or_load("t1", "q", load))
    await asyncio.wait_for(load.started.wait(), 5)
    stayer = asyncio.ensure_future(query_cache.get_or_load("t1", "q", load))
    await asyncio.sleep(0.05)

    leaver.cancel()
    gate.set()

    assert await stayer == b"value"
    assert leaver.cancelled()
    assert await query_cache.get_or_load("t1", "q", Loader(b"x")) == b"value"


async def test_values_expire_after_the_ttl(short_lived_query_cache: QueryCache) -> None:
    cache = short_lived_query_cache
    await cache.get_or_load("t1", "q", Loader(b"old"))
    assert await cache.get_or_load("t1", "q", Loader(b"x")) == b"old"

    await asyncio.sleep(1.2)
    load = Loader(b"new")

    assert await cache.get_or_load("t1", "q", load) == b"new"
    assert load.calls == 1
