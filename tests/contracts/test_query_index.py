"""QueryIndex contract: every storage keeps the query index of its tenant logs, so that
query proofs verify on all of them, races between integrators included.

Runs on the ``repository`` fixture: each storage adapter exposes its index with
``query_index()``. The proofs are checked by the verifier (``verify.query``).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit_trail.adapters.signing import Ed25519NoteSigner
from audit_trail.core import Actor, Entry, Outcome, Target
from audit_trail.core.cursor import CursorCodec
from audit_trail.core.index.integrate import IndexIntegrator
from audit_trail.core.index.keys import IndexKey, IndexKind
from audit_trail.core.integrity.leaf import sealed_record
from audit_trail.core.integrity.merkle import leaf_hash
from audit_trail.core.ledger.checkpoints import Checkpoints
from audit_trail.core.ledger.tree import LogTree
from audit_trail.core.ports import EntryRepository
from audit_trail.core.ports.index import IndexHead, IndexWrite, PostingHead, PostingRun, QueryIndex
from audit_trail.core.ports.log import LogRecord, TenantLog
from audit_trail.core.principal import Principal
from audit_trail.core.query import EntryFilters, QuerySpec
from audit_trail.core.usecases.query_proof import ProveQuery, QueryProofRequest
from audit_trail.entrypoints.http.query_proofs import query_proof_json
from audit_trail.verify.query import QueryResult, check_query_pages, check_query_proof
from tests.unit.fakes import RedactingEntryProcessor

TENANT = "t1"
CURSORS = CursorCodec(b"query proofs, page cursors")
SIGNER = Ed25519NoteSigner("audit.example/log", Ed25519PrivateKey.generate())
READER = Principal("auditor", TENANT, frozenset({"audit:read"}))
AT = datetime(2024, 3, 5, 9, tzinfo=UTC)


class Storage(EntryRepository, TenantLog, Protocol):
    def query_index(self) -> QueryIndex: ...


@pytest.fixture
def storage(repository: EntryRepository) -> Storage:
    return cast(Storage, repository)


class _Shown(RedactingEntryProcessor):
    async def redact_for_reader(self, entry: Entry, principal: Principal) -> Entry:
        return entry


def entry(number: int, actor: str = "u-1", hours: int = 0) -> Entry:
    return Entry(
        id=f"qi-{number:04d}",
        tenant=TENANT,
        action="doc.read",
        outcome=Outcome.SUCCESS,
        actor=Actor(id=actor),
        occurred_at=AT + timedelta(hours=hours),
        recorded_at=AT,
        target=Target(type="doc", id="d-1"),
        recorded_by="writer",
    )


async def commit(storage: Storage, *revisions: Entry, prev: bytes | None = None) -> list[Entry]:
    records = [sealed_record(revision, prev) for revision in revisions]
    results = await storage.commit(TENANT, [[record] for record in records])
    assert all(isinstance(result, int) for result in results), results
    return [record.revision for record in records if record.revision is not None]


async def prove(
    storage: Storage, filters: EntryFilters, limit: int = 1000, cursor: str | None = None
) -> dict[str, Any]:
    tree = LogTree(storage)
    use_case = ProveQuery(
        storage,
        storage,
        storage.query_index(),
        tree=tree,
        checkpoints=Checkpoints(storage, tree, SIGNER, "audit.example/audit-trail"),
        processor=_Shown(),
        cursors=CURSORS,
    )
    request = QueryProofRequest(READER, filters, limit, cursor)
    return query_proof_json(await use_case.execute(request))


def verified(body: dict[str, Any], filters: EntryFilters) -> QueryResult:
    result = check_query_proof(body, SIGNER.vkey, filters)
    assert result.failures == ()
    return result


async def test_an_index_integrated_after_each_commit_proves_every_query(storage: Storage) -> None:
    integrator = IndexIntegrator(storage.query_index(), storage)
    stored = []
    for number in range(6):
        stored += await commit(storage, entry(number, actor=f"u-{number % 2}", hours=number * 7))
        await integrator.integrate(TENANT)
    [amended] = await commit(
        storage,
        stored[0].next_revision(AT, "writer", actor=Actor(id="u-1")),
        prev=stored[0].evidence.leaf_hash if stored[0].evidence else None,
    )
    await integrator.integrate(TENANT)
    for filters in (
        EntryFilters(actor_id="u-1"),
        EntryFilters(actor_id="u-0", since=AT, until=AT + timedelta(days=2)),
        EntryFilters(target_type="doc", target_id="d-1"),
        EntryFilters(since=AT, until=AT + timedelta(hours=20)),
    ):
        expected = await storage.query(TENANT, QuerySpec(filters=filters, limit=100))
        result = verified(await prove(storage, filters), filters)
        assert [e["id"] for e in result.entries] == [e.id for e in expected.items]
    assert amended.revision == 2


async def test_a_read_integrates_what_no_writer_did(storage: Storage) -> None:
    """The index is derived: a log written without it (or by a writer that died before
    integrating) is integrated by the first proof that needs it."""
    await commit(storage, entry(1), entry(2, actor="u-2"))
    filters = EntryFilters(actor_id="u-1")
    assert [e["id"] for e in verified(await prove(storage, filters), filters).entries] == [
        "qi-0001"
    ]
    head = await storage.query_index().head(TENANT)
    assert head == IndexHead(2, head.map_root if head else b"", 2)
    assert await storage.size(TENANT) == 3  # the two entries and the index leaf


async def test_concurrent_integrators_leave_one_consistent_index(storage: Storage) -> None:
    for number in range(8):
        await commit(storage, entry(number, actor=f"u-{number % 3}"))
        await asyncio.gather(
            *(IndexIntegrator(storage.query_index(), storage).integrate(TENANT) for _ in range(3))
        )
    filters = EntryFilters(actor_id="u-2")
    result = verified(await prove(storage, filters), filters)
    assert [e["id"] for e in result.entries] == ["qi-0005", "qi-0002"]


async def test_a_posting_log_written_in_runs_reads_back_any_range(storage: Storage) -> None:
    index = storage.query_index()
    key = IndexKey(IndexKind.ACTOR, "u-9", "all").map_key(await index.index_key(TENANT))
    flat = [f"posting {n}".encode() * (n % 3 + 1) for n in range(8)]
    head = None
    for covers, (start, end) in enumerate([(0, 3), (3, 4), (4, 8)], 1):
        write = IndexWrite(
            IndexHead(covers, bytes([covers]) * 32),
            postings=[PostingRun(key, start, tuple(flat[start:end]))],
            posting_heads={key: PostingHead(end, (b"\x02" * 32,))},
        )
        assert await index.write(TENANT, head, write)
        head = write.head
    for start in range(-1, 10):
        for end in range(max(start, 0), 11):
            assert await index.postings(TENANT, key, start, end) == flat[max(start, 0) : end]


async def test_a_write_lands_only_on_the_head_it_was_computed_from(storage: Storage) -> None:
    index = storage.query_index()
    key = IndexKey(IndexKind.ACTOR, "u-1", "all").map_key(await index.index_key(TENANT))
    first = IndexWrite(
        IndexHead(1, b"\x01" * 32),
        postings=[PostingRun(key, 0, (b"p0",))],
        posting_heads={key: PostingHead(1, (b"\x02" * 32,))},
        map_nodes={b"\x00": b"node"},
    )
    assert await index.write(TENANT, None, first)
    assert not await index.write(TENANT, None, first)  # the head moved: nothing applied
    assert await index.head(TENANT) == IndexHead(1, b"\x01" * 32)
    assert await index.postings(TENANT, key, 0, 5) == [b"p0"]
    assert await index.posting_heads(TENANT, [key, b"\x09" * 32]) == {
        key: PostingHead(1, (b"\x02" * 32,))
    }
    assert await index.map_nodes(TENANT, [b"\x00", b"\x01"]) == {b"\x00": b"node"}
    second = IndexWrite(
        IndexHead(2, b"\x03" * 32), postings=[], posting_heads={}, map_nodes={b"\x00": None}
    )
    assert await index.write(TENANT, IndexHead(1, b"\x01" * 32), second)
    assert await index.map_nodes(TENANT, [b"\x00"]) == {}
    await index.set_leaf_index(TENANT, 1, 7)  # a head that has moved on keeps its own
    await index.set_leaf_index(TENANT, 2, 9)
    assert await index.head(TENANT) == IndexHead(2, b"\x03" * 32, 9)
    assert await index.head("another tenant") is None


async def test_the_index_key_is_made_once_per_tenant(storage: Storage) -> None:
    index = storage.query_index()
    first = await index.index_key(TENANT)
    assert len(first) == 32
    assert await storage.query_index().index_key(TENANT) == first
    assert await index.index_key("t2") != first


async def test_changes_are_the_logs_leaves_with_the_revisions_they_replace(
    storage: Storage,
) -> None:
    [first] = await commit(storage, entry(1))
    assert first.evidence is not None
    bare = LogRecord(leaf=b"not a revision", leaf_hash=leaf_hash(b"not a revision"))
    await storage.commit(TENANT, [[bare]])
    await commit(
        storage, first.next_revision(AT, "writer", deleted=True), prev=first.evidence.leaf_hash
    )
    changes = await storage.query_index().changes(TENANT, 0, 10)
    assert [c.index for c in changes] == [0, 1, 2]
    record, other, deletion = changes
    assert (record.revision.id if record.revision else None, record.previous) == (first.id, None)
    assert record.leaf_hash == first.evidence.leaf_hash
    assert (other.revision, other.leaf_hash) == (None, bare.leaf_hash)
    assert deletion.revision is not None
    assert deletion.revision.deleted
    assert deletion.previous is not None
    assert (deletion.previous.id, deletion.previous.revision) == (first.id, 1)


async def test_an_empty_log_proves_an_empty_answer(storage: Storage) -> None:
    filters = EntryFilters(actor_id="u-1")
    assert verified(await prove(storage, filters), filters).entries == ()
    assert await storage.size(TENANT) == 1  # the index leaf of the empty map


async def test_a_walk_stays_pinned_while_the_buckets_ahead_of_it_grow(storage: Storage) -> None:
    """A later page finds the size of a bucket as of the pin from its postings: here
    the buckets it reaches have grown since page 1, and it still proves page 1's state."""
    stored = await commit(storage, *(entry(n, hours=24 * (n // 2)) for n in range(6)))
    filters = EntryFilters(actor_id="u-1", since=AT, until=AT + timedelta(days=3))
    expected = [e.id for e in (await storage.query(TENANT, QuerySpec(filters=filters))).items]
    pages = [await prove(storage, filters, limit=1)]
    moved = stored[2].next_revision(AT, "writer", occurred_at=AT + timedelta(days=2))
    assert stored[2].evidence is not None
    await commit(storage, moved, prev=stored[2].evidence.leaf_hash)
    await commit(storage, *(entry(n, hours=24 * (n - 4)) for n in range(6, 9)))
    await IndexIntegrator(storage.query_index(), storage).integrate(TENANT)
    while (cursor := pages[-1]["next_cursor"]) is not None:
        pages.append(await prove(storage, filters, 2, cursor))
    assert [sum(len(b["postings"]) for b in page["buckets"]) for page in pages] == [1, 2, 2, 1]
    result = check_query_pages(pages, SIGNER.vkey, filters)
    assert result.failures == ()
    assert [e["id"] for e in result.entries] == expected
