"""GET /ready against real servers: 503 naming what is down while mongod or
redis-server is stopped, 200 again once it is back, without restarting the app;
/check-port answers 200 throughout (liveness asks nothing)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from tests.api.client import Api, problem
from tests.api.conftest import FRAMEWORKS, api_settings
from tests.api.tokens import KeyPair, Tokens
from tests.servers import MongodServer, RedisServer

READY_SECONDS = 1.0
RECOVERY_SECONDS = 20.0

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def tokens() -> Tokens:
    return Tokens(KeyPair.generate(), KeyPair.generate())


@pytest.fixture(params=sorted(FRAMEWORKS))
def framework(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@asynccontextmanager
async def serving(
    framework: str, tokens: Tokens, tmp_path: Path, **settings: Any
) -> AsyncIterator[Api]:
    app = FRAMEWORKS[framework](
        api_settings(tokens.keys, tmp_path, ready_timeout_seconds=READY_SECONDS, **settings)
    )
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            yield Api(http, tokens)


async def ready(api: Api) -> httpx.Response:
    return await api.call("GET", "/ready", anonymous=True)


async def check_down_then_back(api: Api, name: str, server: MongodServer | RedisServer) -> None:
    assert (await ready(api)).status_code == 200
    await asyncio.to_thread(server.stop)

    began = time.monotonic()
    body = problem(await ready(api), 503)
    assert time.monotonic() - began < READY_SECONDS + 1.0
    assert body["detail"].startswith(name), body
    assert body["checks"][name] != "ok"
    assert body["checks"]["signer"] == "ok"
    assert (await api.call("GET", "/check-port", anonymous=True)).status_code == 200

    await asyncio.to_thread(server.start)
    deadline = time.monotonic() + RECOVERY_SECONDS
    while (response := await ready(api)).status_code != 200:
        assert time.monotonic() < deadline, response.text
        await asyncio.sleep(0.2)
    assert response.json()["checks"][name] == "ok"


@pytest.fixture
def own_mongod(tmp_path: Path) -> Iterator[MongodServer]:
    with MongodServer(tmp_path / "mongod") as server:
        yield server


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "redis") as server:
        yield server


async def test_ready_is_503_naming_storage_while_mongod_is_down(
    framework: str, own_mongod: MongodServer, tokens: Tokens, tmp_path: Path
) -> None:
    async with serving(
        framework,
        tokens,
        tmp_path,
        storage="mongo",
        cache="none",
        mongo_uri=own_mongod.uri,
        mongo_database=f"ready_{uuid.uuid4().hex}",
        mongo_timeout_ms=500,
    ) as api:
        await check_down_then_back(api, "storage", own_mongod)


async def test_ready_is_503_naming_redis_while_redis_server_is_down(
    framework: str, own_redis: RedisServer, tokens: Tokens, tmp_path: Path
) -> None:
    async with serving(
        framework,
        tokens,
        tmp_path,
        storage="sqlite",
        cache="redis",
        redis_url=own_redis.url,
        redis_key_prefix=f"ready-{uuid.uuid4().hex}",
    ) as api:
        await check_down_then_back(api, "redis", own_redis)
