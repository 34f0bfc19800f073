"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.api.tokens import KeyPair, Tokens
from tests.servers import MongodServer, RedisServer

# --- tokens ---
# The API and the client suites' token signing key, and tokens from it.


@pytest.fixture(scope="session")
def keys() -> KeyPair:
    return KeyPair.generate()


@pytest.fixture(scope="session")
def tokens(keys: KeyPair) -> Tokens:
    return Tokens(keys, KeyPair.generate())


# --- real servers ---
# Session-wide servers on free ports in temporary folders. A server that cannot
# start raises ServerStartError (with its log tail): tests fail, never skip.
# Tests that stop or kill a server build their own (function-scoped) instance.


@pytest.fixture(scope="session")
def mongod_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongodServer]:
    """A standalone mongod; connect with ``mongod_server.uri``."""
    with MongodServer(tmp_path_factory.mktemp("mongod")) as server:
        yield server


@pytest.fixture(scope="session")
def mongod_replset(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongodServer]:
    """A one-node replica set ``rs0`` (transactions, change streams)."""
    with MongodServer(tmp_path_factory.mktemp("mongod-rs0"), replica_set="rs0") as server:
        yield server


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server without persistence; connect with ``redis_server.url``."""
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test alone, free to be stopped, paused and started."""
    with RedisServer(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def admin(own_redis: RedisServer) -> Iterator[redis.Redis]:
    """A second connection, to pause, flush and inspect Redis behind the app's back."""
    client = own_redis.client(socket_timeout=10)
    yield client
    client.close()
