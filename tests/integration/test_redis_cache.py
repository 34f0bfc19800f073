"""RedisQueryCache against a real redis-server: hits, invalidation, single flight, bounds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack

import pytest
import redis

from audit_trail.adapters.cache.redis import RedisQueryCache, open_redis_query_cache
from tests.integration.redis_cache_support import CountingRepository, Service, unique_prefix
from tests.servers import RedisServer

MIB = 1024 * 1024

MakeCache = Callable[..., Awaitable[RedisQueryCache]]


class Loader:
    """A ``load`` that counts its calls and may take its time."""

    def __init__(self, value: bytes = b"page", delay: float = 0.0) -> None:
        self.value, self.delay, self.calls = value, delay, 0

    async def __call__(self) -> bytes:
        self.calls += 1
        await asyncio.sleep(self.delay)
        return self.value


class StorageDown(Exception):
    pass


@pytest.fixture
def prefix() -> str:
    return unique_prefix()


@pytest.fixture
async def make_cache(redis_server: RedisServer, prefix: str) -> AsyncIterator[MakeCache]:
    """Opens caches ("processes") that share the session redis-server and one prefix."""
    async with AsyncExitStack() as stack:

        async def make(
            *,
            max_page_bytes: int = MIB,
            ttl_seconds: int = 60,
            lock_wait_seconds: float = 0.25,
        ) -> RedisQueryCache:
            return await stack.enter_async_context(
                open_redis_query_cache(
                    url=redis_server.url,
                    key_prefix=prefix,
                    ttl_seconds=ttl_seconds,
                    timeout_ms=1000,  # generous: these tests are not about slowness
                    max_page_bytes=max_page_bytes,
                    breaker_seconds=0.2,
                    lock_wait_seconds=lock_wait_seconds,
                )
            )

        yield make


@pytest.fixture
async def cache(make_cache: MakeCache) -> RedisQueryCache:
    return await make_cache()


@pytest.fixture
def sync_redis(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A plain connection, to look at and tamper with the keys behind the cache."""
    client = redis_server.client()
    yield client
    client.close()


async def test_a_second_read_is_a_hit_that_does_not_load(cache: RedisQueryCache) -> None:
    load = Loader(b"the page")
    assert await cache.get_or_load("acme", "q", load) == b"the page"
    assert await cache.get_or_load("acme", "q", Loader(b"other")) == b"the page"
    assert load.calls == 1
    assert (cache.stats.hits, cache.stats.misses, cache.stats.loads) == (1, 1, 1)


async def test_a_page_is_shared_between_processes(make_cache: MakeCache) -> None:
    first, second = await make_cache(), await make_cache()
    await first.get_or_load("acme", "q", Loader(b"from first"))
    assert await second.get_or_load("acme", "q", Loader(b"from second")) == b"from first"


async def test_keys_and_tenants_do_not_share_pages(cache: RedisQueryCache) -> None:
    await cache.get_or_load("acme", "q1", Loader(b"acme q1"))
    assert await cache.get_or_load("acme", "q2", Loader(b"acme q2")) == b"acme q2"
    assert await cache.get_or_load("umbrella", "q1", Loader(b"umbrella q1")) == b"umbrella q1"


async def test_invalidate_reaches_every_process_and_only_that_tenant(
    make_cache: MakeCache,
) -> None:
    writer, reader = await make_cache(), await make_cache()
    await reader.get_or_load("acme", "q", Loader(b"old"))
    await reader.get_or_load("umbrella", "q", Loader(b"umbrella"))
    await writer.invalidate("acme")
    assert await reader.get_or_load("acme", "q", Loader(b"new")) == b"new"
    assert await reader.get_or_load("umbrella", "q", Loader(b"reloaded")) == b"umbrella"


async def test_forget_deletes_the_tenants_pages_and_only_theirs(
    make_cache: MakeCache, sync_redis: redis.Redis, prefix: str
) -> None:
    writer, reader = await make_cache(), await make_cache()
    for query in ("q1", "q2", "q3"):
        await reader.get_or_load("acme", query, Loader(b"ada@example.org"))
    await reader.get_or_load("umbrella", "q1", Loader(b"umbrella"))
    assert len(list(sync_redis.scan_iter(f"{prefix}:page:acme:*"))) == 3

    await writer.forget("acme")

    assert list(sync_redis.scan_iter(f"{prefix}:page:acme:*")) == []
    strings = [k for k in sync_redis.scan_iter(f"{prefix}:*") if sync_redis.type(k) == b"string"]
    values = [sync_redis.get(k) for k in strings]
    assert not any(isinstance(v, bytes) and b"ada@example.org" in v for v in values)
    assert await reader.get_or_load("acme", "q1", Loader(b"new")) == b"new"
    assert await reader.get_or_load("umbrella", "q1", Loader(b"reloaded")) == b"umbrella"


async def test_concurrent_misses_load_once_per_process(cache: RedisQueryCache) -> None:
    load = Loader(b"slow page", delay=0.05)
    pages = await asyncio.gather(*(cache.get_or_load("acme", "q", load) for _ in range(20)))
    assert pages == [b"slow page"] * 20
    assert load.calls == 1


async def test_a_read_after_a_write_never_shares_a_load_begun_before_it(
    cache: RedisQueryCache,
) -> None:
    gate = asyncio.Event()

    async def load_before_the_write() -> bytes:
        await gate.wait()
        return b"old"

    before = asyncio.ensure_future(cache.get_or_load("acme", "q", load_before_the_write))
    await asyncio.sleep(0.05)  # its load has begun
    await cache.invalidate("acme")  # a write was stored and is being acknowledged
    after = asyncio.ensure_future(cache.get_or_load("acme", "q", Loader(b"new")))
    await asyncio.sleep(0.05)
    gate.set()
    assert await before == b"old"
    assert await after == b"new"
    assert await cache.get_or_load("acme", "q", Loader(b"newer")) == b"new"


async def test_concurrent_misses_in_two_processes_load_once(make_cache: MakeCache) -> None:
    first, second = await make_cache(), await make_cache()
    load = Loader(b"slow page", delay=0.05)
    pages = await asyncio.gather(
        *(cache.get_or_load("acme", "q", load) for cache in [first, second] * 5)
    )
    assert pages == [b"slow page"] * 10
    assert load.calls == 1


async def test_a_stalled_filler_delays_other_processes_only_briefly(
    make_cache: MakeCache,
) -> None:
    stalled, waiting = await make_cache(), await make_cache(lock_wait_seconds=0.1)
    never = asyncio.Event()

    async def stalled_load() -> bytes:
        await never.wait()
        return b"never"

    holder = asyncio.ensure_future(stalled.get_or_load("acme", "q", stalled_load))
    await asyncio.sleep(0.05)  # the stalled process holds the fill lock by now
    began = time.monotonic()
    assert await waiting.get_or_load("acme", "q", Loader(b"own load")) == b"own load"
    assert 0.08 <= time.monotonic() - began < 0.5
    holder.cancel()
    never.set()


async def test_load_errors_propagate_unchanged_and_are_not_cached(
    make_cache: MakeCache,
) -> None:
    first, second = await make_cache(), await make_cache(lock_wait_seconds=2.0)
    error = StorageDown("storage is down")

    async def failing() -> bytes:
        raise error

    with pytest.raises(StorageDown) as raised:
        await first.get_or_load("acme", "q", failing)
    assert raised.value is error
    began = time.monotonic()  # the fill lock was released: nobody waits for it
    assert await second.get_or_load("acme", "q", Loader(b"fine")) == b"fine"
    assert time.monotonic() - began < 1.0


async def test_a_caller_that_gives_up_does_not_cancel_the_load(cache: RedisQueryCache) -> None:
    load = Loader(b"page", delay=0.1)
    impatient = asyncio.ensure_future(cache.get_or_load("acme", "q", load))
    patient = asyncio.ensure_future(cache.get_or_load("acme", "q", load))
    await asyncio.sleep(0.03)
    impatient.cancel()
    assert await patient == b"page"
    assert await cache.get_or_load("acme", "q", Loader(b"later")) == b"page"
    assert load.calls == 1


async def test_pages_over_the_limit_are_served_but_not_cached(make_cache: MakeCache) -> None:
    cache = await make_cache(max_page_bytes=10)
    big = Loader(b"x" * 11)
    assert await cache.get_or_load("acme", "big", big) == b"x" * 11
    assert await cache.get_or_load("acme", "big", big) == b"x" * 11
    assert big.calls == 2
    small = Loader(b"x" * 10)
    await cache.get_or_load("acme", "small", small)
    await cache.get_or_load("acme", "small", small)
    assert small.calls == 1
    assert cache.stats.oversized == 2


async def test_pages_expire_after_the_ttl(
    make_cache: MakeCache, sync_redis: redis.Redis, prefix: str
) -> None:
    cache = await make_cache(ttl_seconds=7)
    await cache.get_or_load("acme", "q", Loader())
    (page_key,) = sync_redis.keys(f"{prefix}:page:*")
    assert 0 < sync_redis.ttl(page_key) <= 7


async def test_a_lost_generation_never_brings_old_pages_back(
    cache: RedisQueryCache, sync_redis: redis.Redis, prefix: str
) -> None:
    # A generation key can vanish (expiry, eviction); a counter that restarted
    # from the same value would find the pages of its first life again.
    generation = f"{prefix}:gen:acme"
    for version in range(3):
        await cache.invalidate("acme")
        assert await cache.get_or_load("acme", "q", Loader(b"v%d" % version)) == b"v%d" % version
        sync_redis.delete(generation)
    assert await cache.get_or_load("acme", "q", Loader(b"fresh")) == b"fresh"


async def test_a_lost_epoch_never_brings_old_pages_back(
    cache: RedisQueryCache, sync_redis: redis.Redis, prefix: str
) -> None:
    for version in range(3):
        assert await cache.get_or_load("acme", "q", Loader(b"v%d" % version)) == b"v%d" % version
        sync_redis.delete(f"{prefix}:epoch", f"{prefix}:gen:acme")
    assert await cache.get_or_load("acme", "q", Loader(b"fresh")) == b"fresh"


async def test_a_flushed_redis_is_a_cold_cache(
    cache: RedisQueryCache, sync_redis: redis.Redis
) -> None:
    service = Service(CountingRepository(), cache)
    first = await service.write()
    assert await service.read_ids() == {first}
    sync_redis.flushall()
    assert await service.read_ids() == {first}
    second = await service.write()
    sync_redis.flushall()
    assert await service.read_ids() == {first, second}
    assert cache.stats.errors == 0


async def test_a_hit_does_not_touch_storage(cache: RedisQueryCache) -> None:
    repository = CountingRepository()
    service = Service(repository, cache)
    written = await service.write()
    assert await service.read_ids() == {written}
    calls = repository.storage_calls
    assert await service.read_ids() == {written}
    assert repository.storage_calls == calls
    assert cache.stats.hits == 1


async def test_a_hit_is_the_stored_bytes_as_they_are(
    cache: RedisQueryCache, sync_redis: redis.Redis, prefix: str
) -> None:
    page = b'{"items": [ ],  "next_cursor":null}'  # not what a JSON encoder would write
    await cache.get_or_load("acme", "q", Loader(page))
    (page_key,) = sync_redis.keys(f"{prefix}:page:*")
    assert sync_redis.get(page_key) == page
    assert await cache.get_or_load("acme", "q", Loader(b"other")) == page


async def test_one_tenant_cannot_grow_redis_past_its_budget(
    redis_server: RedisServer, sync_redis: redis.Redis, prefix: str
) -> None:
    budget = 2 * MIB
    async with open_redis_query_cache(
        url=redis_server.url,
        key_prefix=prefix,
        ttl_seconds=60,
        timeout_ms=1000,
        max_page_bytes=MIB,
        breaker_seconds=0.2,
        tenant_max_bytes=budget,
    ) as cache:
        for number in range(40):  # one reader, distinct queries, ~0.3 MB pages: 12 MB
            page = b"%02d" % number + b"x" * 300_000
            assert await cache.get_or_load("acme", f"q{number}", Loader(page)) == page
        assert await cache.get_or_load("umbrella", "q", Loader(b"other tenant")) == b"other tenant"
        stored = sum(
            sync_redis.strlen(key) for key in sync_redis.scan_iter(f"{prefix}:page:acme:*")
        )
        assert budget - 300_000 <= stored <= budget
        assert cache.stats.evictions >= 30
        # the newest pages are the ones kept, and they are hits
        last = b"39" + b"x" * 300_000
        assert await cache.get_or_load("acme", "q39", Loader(b"reloaded")) == last
        assert await cache.get_or_load("umbrella", "q", Loader(b"x")) == b"other tenant"


async def test_fallback_reads_share_loads_but_never_one_begun_before_them(
    redis_server: RedisServer, prefix: str
) -> None:
    async with open_redis_query_cache(
        url=redis_server.url,
        key_prefix=prefix,
        ttl_seconds=60,
        timeout_ms=1000,
        max_page_bytes=MIB,
        breaker_seconds=60,
    ) as cache:
        cache._breaker.trip()  # Redis deemed down: every read goes to storage
        load = Loader(b"slow page", delay=0.05)
        pages = await asyncio.gather(*(cache.get_or_load("acme", "q", load) for _ in range(20)))
        assert pages == [b"slow page"] * 20
        assert load.calls == 1

        gate = asyncio.Event()

        async def load_before_the_write() -> bytes:
            await gate.wait()
            return b"old"

        before = asyncio.ensure_future(cache.get_or_load("acme", "q", load_before_the_write))
        await asyncio.sleep(0.02)  # its load has begun; then another process writes
        after = asyncio.ensure_future(cache.get_or_load("acme", "q", Loader(b"new")))
        also_after = asyncio.ensure_future(cache.get_or_load("acme", "q", Loader(b"newer")))
        await asyncio.sleep(0.02)
        gate.set()
        assert await before == b"old"
        assert await after == await also_after == b"new"  # one load, begun after them
