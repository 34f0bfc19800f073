"""Fixtures of the contract suites: each runs every shared test against every adapter.

Add an adapter with one line in ``REPOSITORY_FACTORIES`` or ``CACHE_FACTORIES``: a
factory takes the pytest request (to reach session fixtures such as a server) and
either a fresh temporary folder (repositories) or the TTL in seconds (caches), and
returns an async context manager that yields a ready adapter and closes it on exit.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from audit_trail.adapters.cache.memory import InMemoryQueryCache
from audit_trail.adapters.cache.none import NoQueryCache
from audit_trail.adapters.cache.redis import open_redis_query_cache
from audit_trail.adapters.storage.memory import InMemoryEntryRepository
from audit_trail.adapters.storage.sqlite import SqliteEntryRepository
from audit_trail.core.ports import EntryRepository, QueryCache
from tests.mongo import motor_repository, pymongo_repository
from tests.servers import RedisServer

RepositoryFactory = Callable[
    [pytest.FixtureRequest, Path], AbstractAsyncContextManager[EntryRepository]
]
CacheFactory = Callable[[pytest.FixtureRequest, float], AbstractAsyncContextManager[QueryCache]]

DEFAULT_TTL_SECONDS = 60.0
SHORT_TTL_SECONDS = 1.0


@asynccontextmanager
async def memory_repository(
    request: pytest.FixtureRequest, folder: Path
) -> AsyncIterator[EntryRepository]:
    yield InMemoryEntryRepository()


@asynccontextmanager
async def sqlite_repository(
    request: pytest.FixtureRequest, folder: Path
) -> AsyncIterator[EntryRepository]:
    async with await SqliteEntryRepository.open(folder / "audit.db") as repository:
        yield repository


@asynccontextmanager
async def memory_cache(
    request: pytest.FixtureRequest, ttl_seconds: float
) -> AsyncIterator[QueryCache]:
    yield InMemoryQueryCache(ttl_seconds=ttl_seconds)


@asynccontextmanager
async def redis_cache(
    request: pytest.FixtureRequest, ttl_seconds: float
) -> AsyncIterator[QueryCache]:
    server: RedisServer = request.getfixturevalue("redis_server")
    async with open_redis_query_cache(
        url=server.url,
        key_prefix=f"contract-{uuid.uuid4().hex}",  # a fresh, empty cache per test
        ttl_seconds=ttl_seconds,
        timeout_ms=1000,
        max_page_bytes=1024 * 1024,
        breaker_seconds=1.0,
    ) as cache:
        yield cache


REPOSITORY_FACTORIES: dict[str, RepositoryFactory] = {
    "memory": memory_repository,
    "sqlite": sqlite_repository,
    "mongo-pymongo": pymongo_repository,
    "mongo-motor": motor_repository,
}

CACHE_FACTORIES: dict[str, CacheFactory] = {
    "memory": memory_cache,
    "redis": redis_cache,
}


@pytest.fixture(params=sorted(REPOSITORY_FACTORIES))
async def repository(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[EntryRepository]:
    """An empty repository of each adapter in turn."""
    async with REPOSITORY_FACTORIES[request.param](request, tmp_path) as adapter:
        yield adapter


@pytest.fixture(params=sorted(CACHE_FACTORIES))
async def query_cache(request: pytest.FixtureRequest) -> AsyncIterator[QueryCache]:
    """An empty cache of each adapter in turn, with a TTL longer than any test."""
    async with CACHE_FACTORIES[request.param](request, DEFAULT_TTL_SECONDS) as adapter:
        yield adapter


@pytest.fixture(params=[*sorted(CACHE_FACTORIES), "none"])
async def any_query_cache(request: pytest.FixtureRequest) -> AsyncIterator[QueryCache]:
    """An empty cache of each adapter in turn, and NoQueryCache, which keeps nothing but
    keeps the port's single-flight promises."""
    if request.param == "none":
        yield NoQueryCache()
        return
    async with CACHE_FACTORIES[request.param](request, DEFAULT_TTL_SECONDS) as adapter:
        yield adapter


@pytest.fixture(params=sorted(CACHE_FACTORIES))
async def short_lived_query_cache(request: pytest.FixtureRequest) -> AsyncIterator[QueryCache]:
    """An empty cache of each adapter in turn whose values expire after one second."""
    async with CACHE_FACTORIES[request.param](request, SHORT_TTL_SECONDS) as adapter:
        yield adapter
