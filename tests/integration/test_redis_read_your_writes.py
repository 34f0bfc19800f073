"""No read gets a page older than a write acknowledged before the read began.

Fifty writers and fifty readers on one tenant, spread over two cache instances (two
"processes") that share one redis-server and one repository. Loads read storage
and then take a little while to return, as a slow store does, so pages loaded
before a write are regularly stored after it was acknowledged.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from contextlib import AbstractAsyncContextManager

from audit_trail.adapters.cache.redis import RedisQueryCache, open_redis_query_cache
from tests.integration.redis_cache_support import CountingRepository, Service, unique_prefix
from tests.servers import RedisServer

WRITERS = READERS = 50


async def test_every_read_contains_every_write_acknowledged_before_it_began(
    redis_server: RedisServer,
) -> None:
    # Seeded, so that a failing interleaving can be replayed (jitter, not secrets).
    rng = random.Random(20261128)  # noqa: S311
    repository = CountingRepository(query_delay=0.01, rng=random.Random(1128))  # noqa: S311
    prefix = unique_prefix()
    ticks = itertools.count()  # one event loop: the order of ticks is the real order
    acknowledged: dict[str, int] = {}
    reads: list[tuple[int, set[str]]] = []

    def cache() -> AbstractAsyncContextManager[RedisQueryCache]:
        return open_redis_query_cache(
            url=redis_server.url,
            key_prefix=prefix,
            ttl_seconds=60,
            timeout_ms=1000,
            max_page_bytes=1024 * 1024,
            breaker_seconds=1.0,
        )

    async with cache() as one, cache() as two:
        services = [Service(repository, one), Service(repository, two)]

        async def writer(number: int) -> None:
            for _ in range(3):
                await asyncio.sleep(rng.uniform(0, 0.03))
                entry_id = await services[number % 2].write()
                acknowledged[entry_id] = next(ticks)

        async def reader(number: int) -> None:
            for _ in range(8):
                await asyncio.sleep(rng.uniform(0, 0.02))
                began = next(ticks)
                reads.append((began, await services[number % 2].read_ids()))

        await asyncio.gather(
            *(writer(n) for n in range(WRITERS)), *(reader(n) for n in range(READERS))
        )
        hits = one.stats.hits + two.stats.hits

    missed = [
        (entry_id, acked, began)
        for began, ids in reads
        for entry_id, acked in acknowledged.items()
        if acked < began and entry_id not in ids
    ]
    assert missed == []
    assert len(acknowledged) == 3 * WRITERS
    assert hits > 0, "no read was served from the cache: the test proves nothing"
