"""The API suite's fixtures: every test runs against every app x every backend.

``BACKENDS`` maps a backend name to the Settings overrides it needs; helpers for
real servers add entries that take their server fixtures through ``request``
(``request.getfixturevalue("mongod_server")``). Tests never branch on the app or
the backend they got.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
from asgi_lifespan import LifespanManager

from audit_trail.entrypoints import litestar_app, quart_app
from audit_trail.entrypoints.container import Container
from audit_trail.entrypoints.settings import Settings
from tests.api.client import Api
from tests.api.tokens import AUDIENCE, ISSUER, KeyPair, Tokens
from tests.mongo import lease_database
from tests.servers import MongodServer, RedisServer

FRAMEWORKS: dict[str, Callable[..., Any]] = {
    "quart": quart_app.create_app,
    "litestar": litestar_app.create_app,
}


def _memory(request: pytest.FixtureRequest) -> dict[str, object]:
    return {"storage": "memory", "cache": "memory"}


def _sqlite_storage_redis_cache(request: pytest.FixtureRequest) -> dict[str, object]:
    server: RedisServer = request.getfixturevalue("redis_server")
    return {
        "storage": "sqlite",  # a fresh file per test (api_settings: sqlite_path)
        "cache": "redis",
        "redis_url": server.url,
        "redis_key_prefix": f"api-{uuid.uuid4().hex}",  # a fresh, empty cache per test
        "redis_timeout_ms": 1000,  # a busy CI machine must not trip the breaker
    }


def _mongo_storage(request: pytest.FixtureRequest) -> dict[str, object]:
    server: MongodServer = request.getfixturevalue("mongod_server")
    return {
        "storage": "mongo",
        "cache": "memory",
        "mongo_uri": server.uri,
        "mongo_database": lease_database(request, server.uri),  # empty, of this test alone
    }


BACKENDS: dict[str, Callable[[pytest.FixtureRequest], dict[str, object]]] = {
    "memory": _memory,
    "sqlite-redis": _sqlite_storage_redis_cache,
    "mongo": _mongo_storage,
}

MAX_BODY_BYTES = 64 * 1024
MAX_BATCH_ENTRIES = 20


def api_settings(keys: KeyPair, tmp_path: Path, **overrides: Any) -> Settings:
    """The settings every API test runs with: RS256 tokens from ``keys``, issuer and
    audience checked, small limits."""
    base = Settings(
        jwt_public_key=keys.public_pem,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwt_leeway_seconds=0,
        cursor_secret="api-suite-cursor-secret",
        dev_key_file=tmp_path / "dev-signing-key",
        sqlite_path=tmp_path / "audit-trail.db",
        max_body_bytes=MAX_BODY_BYTES,
        max_batch_entries=MAX_BATCH_ENTRIES,
    )
    return dataclasses.replace(base, **overrides)


class Serve(Protocol):
    def __call__(
        self, framework: str, settings: Settings, container: Container | None = None
    ) -> Awaitable[httpx.AsyncClient]: ...


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Starts apps (lifespan included) for a test; stops them and their clients after."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(
            framework: str, settings: Settings, container: Container | None = None
        ) -> httpx.AsyncClient:
            """``container``: the app's composition root, some providers overridden."""
            app = FRAMEWORKS[framework](settings, container)
            await stack.enter_async_context(LifespanManager(app))
            # The app itself, not the manager's: asgi-lifespan 2.1 hands one shared
            # state dict to every request, and Litestar keeps per-request state there.
            transport = httpx.ASGITransport(app=app)
            client = httpx.AsyncClient(transport=transport, base_url="http://api")
            return await stack.enter_async_context(client)

        yield start


APP_PARAMS = [
    pytest.param((framework, backend), id=f"{framework}-{backend}")
    for framework in FRAMEWORKS
    for backend in BACKENDS
]


@pytest.fixture(params=APP_PARAMS)
async def api(
    request: pytest.FixtureRequest,
    keys: KeyPair,
    tokens: Tokens,
    tmp_path: Path,
    serve: Serve,
) -> Api:
    """A client of one app on one backend, and the means to mint its tokens."""
    framework, backend = request.param
    settings = api_settings(keys, tmp_path, **BACKENDS[backend](request))
    return Api(await serve(framework, settings), tokens)


INDEX_MODES = [pytest.param(False, id="index-on-read"), pytest.param(True, id="index-on-write")]


@pytest.fixture(
    params=[(a.values[0], m.values[0]) for a in APP_PARAMS for m in INDEX_MODES],
    ids=[f"{a.id}-{m.id}" for a in APP_PARAMS for m in INDEX_MODES],
)
async def indexed_api(
    request: pytest.FixtureRequest, keys: KeyPair, tokens: Tokens, tmp_path: Path, serve: Serve
) -> Api:
    """Every app on every backend, with the query index kept by each write or built by
    reads."""
    (framework, backend), on_write = request.param
    overrides = {**BACKENDS[backend](request), "query_index_on_write": on_write}
    return Api(await serve(framework, api_settings(keys, tmp_path, **overrides)), tokens)
