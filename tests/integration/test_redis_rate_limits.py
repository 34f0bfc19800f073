"""Rate limits in Redis: two app instances share one budget; a Redis outage limits nothing.

Two in-process apps (one Quart, one Litestar: two "processes") on one redis-server of
the test's own, free to be stopped and paused.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from audit_trail.adapters.ratelimit.redis import RedisRateLimiter
from audit_trail.entrypoints import litestar_app, quart_app
from audit_trail.entrypoints.container import Container, build_container
from audit_trail.entrypoints.settings import Settings
from tests.api.client import Api, entry
from tests.api.tokens import AUDIENCE, ISSUER, KeyPair, Tokens
from tests.servers import RedisServer

BURST = 4
TIMEOUT_MS = 100


class Instance:
    def __init__(self, api: Api, container: Container) -> None:
        self.api = api
        self.container = container

    async def write(self, tenant: str = "acme") -> int:
        response = await self.api.call("POST", "/entries", json=entry(), tenant=tenant)
        return response.status_code

    async def limiter(self) -> RedisRateLimiter:
        limiter: Any = self.container.rate_limiter()
        if inspect.isawaitable(limiter):
            limiter = await limiter
        assert isinstance(limiter, RedisRateLimiter)
        return limiter


@pytest.fixture
async def instances(
    own_redis: RedisServer, keys: KeyPair, tokens: Tokens, tmp_path: Path
) -> AsyncIterator[list[Instance]]:
    prefix = f"rate-{uuid.uuid4().hex}"
    started = []
    async with AsyncExitStack() as stack:
        for number, create_app in enumerate((quart_app.create_app, litestar_app.create_app)):
            settings = Settings(
                storage="memory",
                cache="memory",
                rate_limit_store="redis",
                redis_url=own_redis.url,
                redis_key_prefix=prefix,
                redis_timeout_ms=TIMEOUT_MS,
                redis_breaker_seconds=0.5,
                rate_limit_writes_per_second=0.01,  # no refill while the test runs
                rate_limit_writes_burst=BURST,
                jwt_public_key=keys.public_pem,
                jwt_issuer=ISSUER,
                jwt_audience=AUDIENCE,
                dev_key_file=tmp_path / f"key-{number}",
            )
            container = build_container(settings)
            app: Any = create_app(settings, container)
            await stack.enter_async_context(LifespanManager(app))
            http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://a")
            await stack.enter_async_context(http)
            started.append(Instance(Api(http, tokens), container))
        yield started


async def test_two_instances_share_one_budget(instances: list[Instance]) -> None:
    first, second = instances
    statuses = [await (first if i % 2 else second).write() for i in range(BURST)]
    assert statuses == [201] * BURST
    assert await first.write() == 429
    assert await second.write() == 429
    assert await second.write("globex") == 201


async def test_redis_stopped_limits_nothing_and_fails_open(
    instances: list[Instance], own_redis: RedisServer
) -> None:
    first, second = instances
    assert await first.write() == 201
    own_redis.stop()
    statuses = [await instance.write() for _ in range(2 * BURST) for instance in instances]
    assert statuses == [201] * (4 * BURST)
    assert (await first.limiter()).stats.failed_open > 0
    assert (await second.limiter()).stats.breaker_opened >= 1


async def test_redis_paused_limits_nothing_and_stays_fast(
    instances: list[Instance], own_redis: RedisServer
) -> None:
    first, _ = instances
    assert await first.write() == 201
    pid = own_redis.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        statuses = [await first.write() for _ in range(3 * BURST)]
        elapsed = time.monotonic() - started
    finally:
        os.kill(pid, signal.SIGCONT)
    assert statuses == [201] * (3 * BURST)
    # a few timed-out takes until the breaker opens, then none wait for Redis
    assert elapsed < 3 * BURST * TIMEOUT_MS / 1000
    limiter = await first.limiter()
    assert limiter.stats.failed_open >= 3 * BURST
    assert limiter.stats.breaker_opened >= 1
    await asyncio.sleep(0.6)  # the breaker half-opens: Redis decides again
    for _ in range(20):
        if await first.write() == 429:
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the limiter never came back after Redis resumed")
