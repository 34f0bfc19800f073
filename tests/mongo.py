"""MongoEntryRepository for tests: on PyMongo's or Motor's client, one fresh database each.

The PyMongo flavour runs on the one-node replica set (``mongod_replset``: batches in
transactions, as in production), the Motor flavour on the standalone server
(``mongod_server``: batches with compensation), so the contract suite covers both
ways ``append_many`` keeps its all-or-nothing promise.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from motor.motor_asyncio import AsyncIOMotorClient
from pymongo import AsyncMongoClient, MongoClient
from pymongo.asynchronous.database import AsyncDatabase

from audit_trail.adapters.storage.mongo import MongoEntryRepository
from audit_trail.core.ports import EntryRepository
from tests.servers import MongodServer

TEST_TIMEOUT_MS = 10_000


def unique_database_name() -> str:
    """A database name no other test uses."""
    return f"audit_{uuid.uuid4().hex[:16]}"


# Database names per server URI, free for the next test. Dropping a database costs a
# tenth of a second on a replica set (the drop waits for the majority commit point),
# so a test takes a database another test has finished with and empties it first:
# as independent as a fresh one, and the indexes are in place already.
_FREE_DATABASES: dict[str, list[str]] = {}


@asynccontextmanager
async def _empty_database(database: Any, uri: str) -> AsyncIterator[Any]:
    free = _FREE_DATABASES.setdefault(uri, [])
    for name in await database.list_collection_names():
        await database[name].delete_many({})
    try:
        yield database
    finally:
        free.append(database.name)


def _database_name(uri: str) -> str:
    free = _FREE_DATABASES.get(uri)
    return free.pop() if free else unique_database_name()


def lease_database(request: pytest.FixtureRequest, uri: str) -> str:
    """The name of an empty database for the test of ``request`` (for settings, where
    the service opens its own client); free for another test when this one ends."""
    name = _database_name(uri)
    client: MongoClient[dict[str, Any]] = MongoClient(uri, timeoutMS=TEST_TIMEOUT_MS)
    with client:
        for collection in client[name].list_collection_names():
            client[name][collection].delete_many({})
    request.addfinalizer(lambda: _FREE_DATABASES.setdefault(uri, []).append(name))
    return name


@asynccontextmanager
async def pymongo_database(
    uri: str, *, timeout_ms: int = TEST_TIMEOUT_MS
) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """An empty database of its own on a PyMongo async client (closed afterwards)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        uri, timeoutMS=timeout_ms, serverSelectionTimeoutMS=timeout_ms
    )
    try:
        async with _empty_database(client[_database_name(uri)], uri) as database:
            yield database
    finally:
        await client.close()


@asynccontextmanager
async def motor_database(uri: str, *, timeout_ms: int = TEST_TIMEOUT_MS) -> AsyncIterator[Any]:
    """An empty database of its own on a Motor client (closed afterwards)."""
    client: Any = AsyncIOMotorClient(uri, timeoutMS=timeout_ms, serverSelectionTimeoutMS=timeout_ms)
    try:
        async with _empty_database(client[_database_name(uri)], uri) as database:
            yield database
    finally:
        client.close()


@asynccontextmanager
async def pymongo_repository(
    request: pytest.FixtureRequest, folder: Path
) -> AsyncIterator[EntryRepository]:
    server: MongodServer = request.getfixturevalue("mongod_replset")
    async with pymongo_database(server.uri) as database:
        yield await MongoEntryRepository.open(database)


@asynccontextmanager
async def motor_repository(
    request: pytest.FixtureRequest, folder: Path
) -> AsyncIterator[EntryRepository]:
    server: MongodServer = request.getfixturevalue("mongod_server")
    async with motor_database(server.uri) as database:
        yield await MongoEntryRepository.open(database)
