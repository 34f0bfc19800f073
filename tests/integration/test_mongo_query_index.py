"""The query index on a real mongod (standalone and replica set): writers that die.

A writer is "killed" by running the steps of ``MongoQueryIndex.write`` (claim,
journal, apply, finish) up to some point and then stopping, as a process SIGKILLed
there would; the survivors are repositories of their own on the same database (a
fresh process: no cached index key, no cached head). After each, a query proof made
by the survivor must verify and name exactly the entries a query finds.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import pytest
from pymongo import AsyncMongoClient

from audit_trail.adapters.storage import mongo_index_journal
from audit_trail.adapters.storage.mongo import MongoEntryRepository
from audit_trail.adapters.storage.mongo_index import MongoQueryIndex
from audit_trail.adapters.storage.mongo_index_journal import IndexCollections, apply_write
from audit_trail.core.index.integrate import IndexIntegrator
from audit_trail.core.model import Actor
from audit_trail.core.ports.index import IndexHead, IndexWrite
from audit_trail.core.query import EntryFilters, QuerySpec
from tests.contracts.test_query_index import AT, TENANT, Storage, commit, entry, prove, verified
from tests.mongo import pymongo_database
from tests.servers import MongodServer

SHORT_LEASE = 0.2


class Killed(Exception):
    """Where the simulated process died."""


@dataclass(slots=True)
class Left:
    """What a killed writer left behind: its claim and the write it was making."""

    token: str
    seq: int
    write: IndexWrite


class DyingIndex(MongoQueryIndex):
    """A MongoQueryIndex whose ``write`` dies after its claim (``journal=False``) or
    after its journal and half of its apply (``journal=True``)."""

    def __init__(self, collections: IndexCollections, *, journal: bool) -> None:
        super().__init__(collections)
        self._collections = collections
        self._journal = journal
        self.left: Left | None = None

    async def write(self, tenant: str, expected: IndexHead | None, write: IndexWrite) -> bool:
        token = uuid.uuid4().hex
        seq = await self.claim(tenant, expected, token)
        assert seq is not None
        self.left = Left(token, seq, write)
        if self._journal:
            assert await self.store_journal(tenant, token, write)
            await apply_write(self._collections, tenant, seq, _half(write))
        raise Killed


def _half(write: IndexWrite) -> IndexWrite:
    """The first half of each part of ``write``: an apply cut short."""
    heads = list(write.posting_heads.items())
    nodes = list(write.map_nodes.items())
    return IndexWrite(
        write.head,
        postings=write.postings[: len(write.postings) // 2],
        posting_heads=dict(heads[: len(heads) // 2]),
        map_nodes=dict(nodes[: len(nodes) // 2]),
    )


@dataclass(frozen=True, slots=True)
class Database:
    uri: str
    database: Any


@pytest.fixture(params=["mongod_server", "mongod_replset"], ids=["standalone", "replica-set"])
async def database(request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    server: MongodServer = request.getfixturevalue(request.param)
    async with pymongo_database(server.uri) as found:
        yield Database(server.uri, found)


@asynccontextmanager
async def survivor(database: Database) -> AsyncIterator[MongoEntryRepository]:
    """A repository on a client of its own: another process on the same database."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(database.uri, timeoutMS=10_000)
    try:
        yield await MongoEntryRepository.open(client[database.database.name])
    finally:
        await client.close()


async def history(storage: Storage) -> None:
    """Six entries over two actors, integrated, then an amendment that moves one of
    them to the other actor and two more entries, not integrated yet."""
    stored = []
    for number in range(6):
        stored += await commit(storage, entry(number, actor=f"u-{number % 2}", hours=number))
    await IndexIntegrator(storage.query_index(), storage).integrate(TENANT)
    first = stored[0]
    assert first.evidence is not None
    moved = first.next_revision(AT, "writer", actor=Actor(id="u-1"))
    await commit(storage, moved, prev=first.evidence.leaf_hash)
    await commit(storage, entry(6, actor="u-0"), entry(7, actor="u-1"))


async def assert_proves_every_query(storage: Storage) -> None:
    for filters in (
        EntryFilters(actor_id="u-0"),
        EntryFilters(actor_id="u-1"),
        EntryFilters(target_type="doc", target_id="d-1"),
    ):
        expected = await storage.query(TENANT, QuerySpec(filters=filters, limit=100))
        result = verified(await prove(storage, filters), filters)
        assert [e["id"] for e in result.entries] == [e.id for e in expected.items]


async def test_a_writer_killed_half_way_through_its_apply_is_completed(database: Database) -> None:
    repository = await MongoEntryRepository.open(database.database)
    await history(cast(Storage, repository))
    dying = DyingIndex(repository.index_collections, journal=True)
    with pytest.raises(Killed):
        await IndexIntegrator(dying, repository).integrate(TENANT)
    assert dying.left is not None
    stored = await database.database["index_heads"].find_one({"_id": TENANT})
    assert (stored["covers"], "pending" in stored) == (6, True)  # the old head, claimed
    async with survivor(database) as other:
        # the next reader completes the journal: the head it reads is the dead write's
        assert await other.query_index().head(TENANT) == dying.left.write.head
        assert await database.database["index_journal"].count_documents({}) == 0
        await assert_proves_every_query(cast(Storage, other))
        # the dead writer, come back late, re-applies its whole write: nothing changes
        head = await other.query_index().head(TENANT)
        left = dying.left
        await dying.complete(TENANT, left.token, left.seq, left.write)
        assert await other.query_index().head(TENANT) == head
        await assert_proves_every_query(cast(Storage, other))


async def test_a_claim_without_a_journal_is_taken_back_after_its_lease(database: Database) -> None:
    repository = await MongoEntryRepository.open(database.database)
    await history(cast(Storage, repository))
    dying = DyingIndex(repository.index_collections, journal=False)
    with pytest.raises(Killed):
        await IndexIntegrator(dying, repository).integrate(TENANT)
    assert dying.left is not None
    async with survivor(database) as other:
        impatient = MongoQueryIndex(other.index_collections, lease_seconds=SHORT_LEASE)
        before = await impatient.head(TENANT)  # the claim is live: the committed head
        assert before is not None
        assert before.covers == 6
        await asyncio.sleep(SHORT_LEASE)
        head = await IndexIntegrator(impatient, other).integrate(TENANT)
        assert head.covers == await other.size(TENANT) - 1
        await assert_proves_every_query(cast(Storage, other))
        # the dead writer, come back late, finds its claim taken back: nothing applied
        left = dying.left
        assert not await dying.store_journal(TENANT, left.token, left.write)
        assert await impatient.head(TENANT) == head
        await assert_proves_every_query(cast(Storage, other))


async def test_a_late_writer_never_undoes_a_newer_write(database: Database) -> None:
    """A writer killed half-way, completed by another, then outrun by one more write:
    its late re-apply is fenced off by the newer write's ``seq``."""
    repository = await MongoEntryRepository.open(database.database)
    storage = cast(Storage, repository)
    await history(storage)
    dying = DyingIndex(repository.index_collections, journal=True)
    with pytest.raises(Killed):
        await IndexIntegrator(dying, repository).integrate(TENANT)
    assert dying.left is not None
    async with survivor(database) as other:
        await IndexIntegrator(other.query_index(), other).integrate(TENANT)
        await commit(storage, entry(8, actor="u-0"), entry(9, actor="u-1"))
        newer = await IndexIntegrator(other.query_index(), other).integrate(TENANT)
        left = dying.left
        await dying.complete(TENANT, left.token, left.seq, left.write)
        assert await other.query_index().head(TENANT) == newer
        await assert_proves_every_query(cast(Storage, other))


async def test_a_write_applied_in_many_small_bulk_writes_proves_every_query(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    bulks: list[int] = []
    real = mongo_index_journal._bulk_once

    async def counted(collection: Any, requests: Any) -> None:
        bulks.append(len(requests))
        await real(collection, requests)

    monkeypatch.setattr(mongo_index_journal, "BULK_REQUESTS", 3)
    monkeypatch.setattr(mongo_index_journal, "_bulk_once", counted)
    repository = await MongoEntryRepository.open(database.database)
    await history(cast(Storage, repository))
    await IndexIntegrator(repository.query_index(), repository).integrate(TENANT)
    assert max(bulks) == 3
    assert len(bulks) > 10  # the map's nodes and the posting logs, three at a time
    await assert_proves_every_query(cast(Storage, repository))
