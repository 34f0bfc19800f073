"""The single-flight promises of the QueryCache port, which every adapter keeps, the
one that caches nothing included: concurrent misses share one load, a failure reaches
every waiter, and no caller is handed a load that began before it arrived after an
invalidation."""

from __future__ import annotations

import asyncio

from audit_trail.core.ports import QueryCache
from tests.contracts.test_query_cache import Loader


async def test_concurrent_misses_share_one_load(any_query_cache: QueryCache) -> None:
    gate = asyncio.Event()
    load = Loader(b"shared", gate=gate)

    callers = [
        asyncio.ensure_future(any_query_cache.get_or_load("t1", "q", load)) for _ in range(20)
    ]
    await asyncio.wait_for(load.started.wait(), 5)
    await asyncio.sleep(0.05)  # let every caller reach the cache
    gate.set()

    assert await asyncio.gather(*callers) == [b"shared"] * 20
    assert load.calls == 1


async def test_a_failing_load_reaches_every_waiter_and_is_not_cached(
    any_query_cache: QueryCache,
) -> None:
    gate = asyncio.Event()
    load = Loader(b"never", gate=gate)
    load.error = RuntimeError("storage is down")

    callers = [
        asyncio.ensure_future(any_query_cache.get_or_load("t1", "q", load)) for _ in range(5)
    ]
    await asyncio.wait_for(load.started.wait(), 5)
    await asyncio.sleep(0.05)
    gate.set()
    results = await asyncio.gather(*callers, return_exceptions=True)

    assert all(isinstance(r, RuntimeError) and str(r) == "storage is down" for r in results)
    assert load.calls == 1
    assert await any_query_cache.get_or_load("t1", "q", Loader(b"recovered")) == b"recovered"


async def test_a_caller_after_an_invalidation_never_shares_a_load_begun_before_it(
    any_query_cache: QueryCache,
) -> None:
    gate = asyncio.Event()
    stale = Loader(b"stale", gate=gate)
    early_reader = asyncio.ensure_future(any_query_cache.get_or_load("t1", "q", stale))
    await asyncio.wait_for(stale.started.wait(), 5)

    await any_query_cache.invalidate("t1")  # a write was stored meanwhile
    late_reader = asyncio.ensure_future(any_query_cache.get_or_load("t1", "q", Loader(b"fresh")))
    await asyncio.sleep(0.05)
    gate.set()

    assert await early_reader == b"stale"
    assert await late_reader == b"fresh"
