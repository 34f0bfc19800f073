"""After an erasure the value is nowhere in the database: every table of the SQLite
file, every collection of the MongoDB database and every key of the Redis cache are
searched for it (issue 12's bar), and the full audit still passes."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pymongo
import pytest
from bson.raw_bson import RawBSONDocument

from audit_trail.entrypoints.settings import Settings
from tests.api.client import Api
from tests.api.conftest import BACKENDS, FRAMEWORKS, Serve, api_settings
from tests.api.test_erase import NAME, PHONE, erase, personal, verifier
from tests.api.tokens import KeyPair, Tokens
from tests.servers import RedisServer

Search = Callable[[bytes], list[str]]


def sqlite_search(path: Path) -> Search:
    def search(value: bytes) -> list[str]:
        found: list[str] = []
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            tables = [
                row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            ]
            for table in tables:
                for row in db.execute(f'SELECT * FROM "{table}"'):  # noqa: S608 - our own table names
                    cells = (c.encode() if isinstance(c, str) else c for c in row)
                    if any(isinstance(c, bytes) and value in c for c in cells):
                        found.append(table)
        return found

    return search


def mongo_search(uri: str, database: str) -> Search:
    def search(value: bytes) -> list[str]:
        client: pymongo.MongoClient[RawBSONDocument] = pymongo.MongoClient(
            uri, document_class=RawBSONDocument
        )
        try:
            db = client[database]
            return [
                name
                for name in db.list_collection_names()
                for document in db[name].find()
                if value in document.raw
            ]
        finally:
            client.close()

    return search


def redis_search(server: RedisServer, prefix: str) -> Search:
    def search(value: bytes) -> list[str]:
        client = server.client()
        try:
            return [
                key.decode()
                for key in client.scan_iter(f"{prefix}:*")
                if client.type(key) == b"string" and value in (client.get(key) or b"")
            ]
        finally:
            client.close()

    return search


@pytest.fixture(
    params=[(f, b) for f in FRAMEWORKS for b in ("sqlite-redis", "mongo")],
    ids=[f"{f}-{b}" for f in FRAMEWORKS for b in ("sqlite-redis", "mongo")],
)
async def stored(
    request: pytest.FixtureRequest, keys: KeyPair, tokens: Tokens, tmp_path: Path, serve: Serve
) -> tuple[Api, list[Search]]:
    """An app, and searches of everything its storage and cache hold."""
    framework, backend = request.param
    overrides: dict[str, Any] = BACKENDS[backend](request)
    settings: Settings = api_settings(keys, tmp_path, **overrides)
    api = Api(await serve(framework, settings), tokens)
    if backend == "mongo":
        return api, [mongo_search(settings.mongo_uri, settings.mongo_database)]
    server: RedisServer = request.getfixturevalue("redis_server")
    return api, [
        sqlite_search(settings.sqlite_path),
        redis_search(server, settings.redis_key_prefix),
    ]


async def test_the_erased_value_is_found_nowhere_and_the_log_verifies(
    stored: tuple[Api, list[Search]],
) -> None:
    api, searches = stored
    key = {"idempotency-key": '"erasure-bar"'}
    first = await api.call("POST", "/entries", json=personal(tags=["vip"]), headers=key)
    assert first.status_code == 201
    entry_id = first.json()["id"]
    assert (await api.call("PUT", f"/entries/{entry_id}", json=personal())).status_code == 200
    await api.record(personal(actor={"id": "u-43", "name": "Grace Hopper"}, metadata={}))
    proven = await api.call("GET", "/entries", params={"actor_id": "u-42", "proof": "1"})
    assert proven.status_code == 200  # the query index is built, and holds this entry
    await api.items("/entries", params={"actor_id": "u-42"})  # and a cached page
    everything = [found for search in searches for found in search(PHONE.encode())]
    assert everything, "the search must find the value before it is erased"

    response = await erase(api, entry_id, ["metadata.phone", "actor.name"])
    assert response.status_code == 200, response.text

    for value in (PHONE, NAME):
        assert [found for search in searches for found in search(value.encode())] == []
    assert [found for search in searches for found in search(b"Grace Hopper")]  # the other one
    checker = await verifier(api)
    latest = await checker.latest_checkpoint()
    assert latest.checkpoint is not None, latest.failures
    audit = await checker.full_audit(latest.checkpoint)
    assert audit.failures == ()
    assert audit.ok
    assert (await checker.verify_entry(entry_id, latest.checkpoint)).ok
