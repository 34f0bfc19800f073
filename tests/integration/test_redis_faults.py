"""The Redis query cache when Redis stops, pauses, is flushed or is down at start-up.

Each test runs its own redis-server, free to be stopped and paused. ``CLIENT PAUSE``
(from a second connection) makes every command block past the cache's timeout,
which is how a slow Redis, or an INCR that never happens, is simulated.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import redis
from asgi_lifespan import LifespanManager

from audit_trail.adapters.cache.breaker import BreakerState
from audit_trail.adapters.cache.redis import RedisQueryCache, open_redis_query_cache
from audit_trail.entrypoints import litestar_app, quart_app
from audit_trail.entrypoints.settings import Settings
from tests.integration.redis_cache_support import CountingRepository, Service, unique_prefix
from tests.servers import RedisServer

TIMEOUT_MS = 100  # the default is 50; more slack for a loaded CI machine
BREAKER_SECONDS = 0.5
# What a request may cost while Redis hangs: a few timed-out commands, and slack
# for a busy two-core machine.
SLOW_REDIS_BUDGET = 4 * TIMEOUT_MS / 1000 + 0.25

OpenCache = Callable[..., AbstractAsyncContextManager[RedisQueryCache]]


@pytest.fixture
def open_cache(own_redis: RedisServer) -> OpenCache:
    """Opens caches ("processes") on ``own_redis`` that share one key prefix."""
    prefix = unique_prefix()

    def open_one(**options: Any) -> AbstractAsyncContextManager[RedisQueryCache]:
        return open_redis_query_cache(
            url=own_redis.url,
            key_prefix=prefix,
            ttl_seconds=60,
            timeout_ms=TIMEOUT_MS,
            max_page_bytes=1024 * 1024,
            breaker_seconds=BREAKER_SECONDS,
            **options,
        )

    return open_one


@pytest.fixture
async def cache(open_cache: OpenCache) -> AsyncIterator[RedisQueryCache]:
    async with open_cache() as opened:
        yield opened


async def pause(admin: redis.Redis, milliseconds: int) -> None:
    """Make Redis hold every command for ``milliseconds`` (returns at once)."""
    await asyncio.to_thread(admin.execute_command, "CLIENT", "PAUSE", milliseconds, "ALL")


async def wait_until_answering(admin: redis.Redis) -> None:
    await asyncio.to_thread(admin.ping)  # blocks until a pause is over


async def eventually(condition: Callable[[], object], within: float = 3.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def caching_resumes(service: Service, cache: RedisQueryCache) -> None:
    """Reads until one is a hit (the breaker has to let a probe through first)."""
    expected = await service.read_ids()
    hits = cache.stats.hits
    deadline = time.monotonic() + BREAKER_SECONDS + 3.0
    while cache.stats.hits == hits:
        assert time.monotonic() < deadline, f"no hit since Redis came back: {cache.stats}"
        assert await service.read_ids() == expected
        await asyncio.sleep(0.02)
    assert cache.stats.breaker_state is BreakerState.CLOSED


async def test_redis_stopping_mid_run_fails_no_request_and_caching_resumes(
    own_redis: RedisServer, cache: RedisQueryCache, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="audit_trail.adapters.cache")
    service = Service(CountingRepository(), cache)
    written = {await service.write()}
    stopper = asyncio.ensure_future(asyncio.sleep(0.15))
    stopped = False
    for _ in range(40):
        if stopper.done() and not stopped:
            await asyncio.to_thread(own_redis.stop)
            stopped = True
        results = await asyncio.gather(
            service.write(), *(service.read_ids() for _ in range(5)), return_exceptions=True
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        assert failures == []
        new_id, *reads = results
        assert isinstance(new_id, str)
        # every read began before this write was acknowledged: it may or may not see it
        assert all(written <= ids <= written | {new_id} for ids in reads if isinstance(ids, set))
        written.add(new_id)
        await asyncio.sleep(0.01)
    assert stopped
    assert await service.read_ids() == written
    assert cache.stats.breaker_state is BreakerState.OPEN
    assert cache.stats.errors > 0
    assert cache.stats.bypasses > 0

    await asyncio.to_thread(own_redis.start)
    await caching_resumes(service, cache)
    # Logged once per state change, not per request (on a loaded machine, a
    # spurious timeout may add a cycle or two; the log still follows the states).
    messages = [r.getMessage() for r in caplog.records]
    changes = [
        m.split("circuit ")[1].split(",")[0].split(" -> ") for m in messages if "circuit " in m
    ]
    assert changes[0][0] == "closed", messages
    assert changes[-1][1] == "closed", messages
    assert all(a[1] == b[0] != b[1] for a, b in itertools.pairwise(changes)), messages
    assert sum(new == "open" for _, new in changes) == cache.stats.breaker_opened
    losses = sum("did not reach Redis" in m for m in messages)
    assert losses == sum("epoch bumped" in m for m in messages) >= 1, messages
    assert len(messages) < 40 * 6 / 10, messages  # vs 240 requests during the outage


async def test_a_paused_redis_costs_requests_only_its_timeout(
    admin: redis.Redis, cache: RedisQueryCache
) -> None:
    service = Service(CountingRepository(), cache)
    written = {await service.write()}
    assert await service.read_ids() == written
    await pause(admin, 1000)
    for _ in range(4):  # each read waits out one timeout, until the breaker opens
        began = time.monotonic()
        assert await service.read_ids() == written
        assert time.monotonic() - began < SLOW_REDIS_BUDGET
    assert cache.stats.breaker_state is BreakerState.OPEN
    before = cache.stats  # an open breaker keeps requests away from Redis
    assert await service.read_ids() == written
    assert cache.stats.errors == before.errors
    assert cache.stats.bypasses == before.bypasses + 1
    written.add(await service.write())
    assert await service.read_ids() == written
    await wait_until_answering(admin)
    await caching_resumes(service, cache)
    assert await service.read_ids() == written


async def test_a_lost_invalidation_is_never_served_once_redis_is_back(
    admin: redis.Redis, open_cache: OpenCache
) -> None:
    repository = CountingRepository()
    # The writer waits for its INCR for less than Redis is paused: the write is
    # acknowledged with its invalidation not known to have landed.
    async with open_cache(invalidate_timeout_ms=200) as writer_cache, open_cache() as reader_cache:
        writer, reader = Service(repository, writer_cache), Service(repository, reader_cache)
        first = await writer.write()
        await caching_resumes(reader, reader_cache)  # the page is cached,
        await caching_resumes(writer, writer_cache)  # in both processes' view

        await pause(admin, 500)
        second = await writer.write()  # stored; its INCR is still queued in Redis
        assert writer_cache.recovery_pending
        assert writer_cache.stats.lost_invalidations == 1
        assert await writer.read_ids() == {first, second}
        await wait_until_answering(admin)
        # The queued INCR and epoch renewal run before any command sent after them.
        assert await reader.read_ids() == {first, second}
        assert await writer.read_ids() == {first, second}
        await eventually(lambda: not writer_cache.recovery_pending)
        assert await reader.read_ids() == {first, second}
        assert await writer.read_ids() == {first, second}
        await caching_resumes(writer, writer_cache)


async def test_an_invalidation_while_redis_is_stopped_is_not_lost(
    own_redis: RedisServer, open_cache: OpenCache
) -> None:
    repository = CountingRepository()
    async with open_cache() as writer_cache, open_cache() as reader_cache:
        writer, reader = Service(repository, writer_cache), Service(repository, reader_cache)
        first = await writer.write()
        assert await reader.read_ids() == {first}
        await asyncio.to_thread(own_redis.stop)
        second = await writer.write()
        assert await reader.read_ids() == {first, second}
        await asyncio.to_thread(own_redis.start)
        assert await writer.read_ids() == {first, second}
        assert await reader.read_ids() == {first, second}
        await eventually(lambda: not writer_cache.recovery_pending)
        await caching_resumes(reader, reader_cache)
        assert await writer.read_ids() == {first, second}


async def test_a_flush_mid_run_changes_nothing_a_client_sees(
    admin: redis.Redis, open_cache: OpenCache
) -> None:
    repository = CountingRepository()
    async with open_cache() as one, open_cache() as two:
        services = [Service(repository, one), Service(repository, two)]
        written: set[str] = set()
        for step in range(12):
            written.add(await services[step % 2].write())
            if step % 4 == 2:
                await asyncio.to_thread(admin.flushall)
            for service in services:
                assert await service.read_ids() == written
                assert await service.read_ids() == written
        assert one.stats.hits > 0
        assert two.stats.hits > 0
        assert one.stats.errors == two.stats.errors == 0


async def test_the_cache_opens_while_redis_is_down_and_starts_caching_later(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = RedisServer(tmp_path / "redis")  # a free port, nothing listening yet
    async with open_redis_query_cache(
        url=server.url,
        key_prefix=unique_prefix(),
        ttl_seconds=60,
        timeout_ms=TIMEOUT_MS,
        max_page_bytes=1024 * 1024,
        breaker_seconds=BREAKER_SECONDS,
    ) as cache:
        assert "did not answer at start-up" in caplog.text
        assert cache.stats.breaker_state is BreakerState.OPEN
        service = Service(CountingRepository(), cache)
        written = {await service.write()}
        assert await service.read_ids() == written
        with server:
            await caching_resumes(service, cache)
            written.add(await service.write())
            assert await service.read_ids() == written


JWT_SECRET = "a-test-secret-of-at-least-32-bytes!"
BASE = "/apiv3/audit_trail"


def bearer() -> dict[str, str]:
    claims = {
        "sub": "tester",
        "tenant": "acme",
        "scope": "audit:read audit:write",
        "exp": datetime.now(UTC) + timedelta(minutes=5),
    }
    return {"authorization": f"Bearer {jwt.encode(claims, JWT_SECRET, algorithm='HS256')}"}


def metric(text: str, name: str) -> float:
    """The value of the sample ``name`` (with its labels) in a Prometheus text scrape."""
    (value,) = [line.split()[-1] for line in text.splitlines() if line.split()[0] == name]
    return float(value)


@pytest.mark.parametrize(
    "create_app", [quart_app.create_app, litestar_app.create_app], ids=["quart", "litestar"]
)
async def test_the_api_fails_no_request_while_redis_stops_and_caches_again_after(
    own_redis: RedisServer, tmp_path: Path, create_app: Callable[[Settings], Any]
) -> None:
    settings = Settings(
        storage="memory",
        cache="redis",
        redis_url=own_redis.url,
        redis_key_prefix=unique_prefix(),
        redis_timeout_ms=TIMEOUT_MS,
        redis_breaker_seconds=BREAKER_SECONDS,
        jwt_secret=JWT_SECRET,
        dev_key_file=tmp_path / "dev-key",
    )
    app = create_app(settings)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http,
    ):

        async def write() -> str:
            response = await http.post(
                f"{BASE}/entries", json={"action": "doc.update"}, headers=bearer()
            )
            assert response.status_code == 201, response.text
            entry_id: str = response.json()["id"]
            return entry_id

        async def read() -> set[str]:
            response = await http.get(f"{BASE}/entries?limit=1000", headers=bearer())
            assert response.status_code == 200, response.text
            return {item["id"] for item in response.json()["items"]}

        async def metrics() -> str:
            return (await http.get(f"{BASE}/metrics")).text

        written = {await write()}
        for step in range(30):
            if step == 10:
                await asyncio.to_thread(own_redis.stop)
            written.add(await write())
            reads = await asyncio.gather(read(), read(), read())
            assert list(reads) == [written] * 3
        assert metric(await metrics(), 'audit_trail_cache_breaker_state{state="open"}') == 1

        await asyncio.to_thread(own_redis.start)
        hits = metric(await metrics(), "audit_trail_cache_hits_total")
        deadline = time.monotonic() + BREAKER_SECONDS + 3.0
        while metric(await metrics(), "audit_trail_cache_hits_total") == hits:
            assert time.monotonic() < deadline, await metrics()
            assert await read() == written
            await asyncio.sleep(0.02)
        assert metric(await metrics(), 'audit_trail_cache_breaker_state{state="closed"}') == 1


async def test_the_api_starts_and_answers_while_redis_is_down(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis")  # a free port, nothing listening
    settings = Settings(
        storage="memory",
        cache="redis",
        redis_url=server.url,
        redis_key_prefix=unique_prefix(),
        jwt_secret=JWT_SECRET,
        dev_key_file=tmp_path / "dev-key",
    )
    app: Any = litestar_app.create_app(settings)  # an ASGI app, as httpx sees it
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http,
    ):
        posted = await http.post(f"{BASE}/entries", json={"action": "doc.update"}, headers=bearer())
        assert posted.status_code == 201, posted.text
        found = await http.get(f"{BASE}/entries", headers=bearer())
        assert found.status_code == 200, found.text
        assert [item["id"] for item in found.json()["items"]] == [posted.json()["id"]]
        metrics = (await http.get(f"{BASE}/metrics")).text
        assert metric(metrics, 'audit_trail_cache_breaker_state{state="open"}') == 1


@pytest.mark.serial  # its 50 ms timings need the CPUs to itself (scripts/test)
async def test_a_starved_event_loop_does_not_open_the_breaker(
    redis_server: RedisServer,
) -> None:
    # Redis is healthy; the event loop is not: callbacks block it for 60-120 ms at a
    # time, longer than the 50 ms default timeout, while reads and writes go on.
    async with open_redis_query_cache(
        url=redis_server.url,
        key_prefix=unique_prefix(),
        ttl_seconds=60,
        timeout_ms=50,
        max_page_bytes=1024 * 1024,
        breaker_seconds=BREAKER_SECONDS,
    ) as cache:
        service = Service(CountingRepository(), cache)
        written = {await service.write()}
        loop = asyncio.get_running_loop()
        starving = True

        def block() -> None:
            time.sleep(0.06 + 0.06 * (len(written) % 2))  # the loop does nothing else
            if starving:
                loop.call_later(0.005, block)

        loop.call_soon(block)
        for _ in range(15):
            write = asyncio.ensure_future(service.write())
            reads = await asyncio.gather(*(service.read_ids() for _ in range(8)))
            assert all(written <= ids for ids in reads)
            written.add(await write)
            # the first read fills the page after the write, the second is served by it
            assert await service.read_ids() == written
            assert await service.read_ids() == written
        starving = False
        assert cache.stats.breaker_opened == 0
        assert cache.stats.errors == 0
        assert cache.stats.bypasses == 0
        assert cache.stats.hits >= 15
        assert await service.read_ids() == written


async def test_a_restart_that_brings_old_pages_back_serves_none_of_them(
    own_redis: RedisServer, admin: redis.Redis, open_cache: OpenCache
) -> None:
    repository = CountingRepository()
    async with open_cache() as writer_cache, open_cache() as reader_cache:
        writer, reader = Service(repository, writer_cache), Service(repository, reader_cache)
        first = await writer.write()
        await caching_resumes(reader, reader_cache)  # a page with `first` alone is cached
        await asyncio.to_thread(admin.save)  # ... and in the snapshot
        second = await writer.write()  # its INCR lands, but not in the snapshot
        assert await reader.read_ids() == {first, second}
        admin.close()
        await asyncio.to_thread(own_redis.kill)  # no shutdown save
        await asyncio.to_thread(own_redis.start)  # loads the snapshot: the old page is back
        assert await reader.read_ids() == {first, second}
        assert await writer.read_ids() == {first, second}
        await caching_resumes(reader, reader_cache)
        assert await reader.read_ids() == {first, second}
