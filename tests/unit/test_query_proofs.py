"""Query proofs end to end over the in-memory storage: random histories whose honest
proofs verify to exactly what a query finds, and each lie of a server caught."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit_trail.adapters.signing import Ed25519NoteSigner
from audit_trail.adapters.storage.memory import InMemoryEntryRepository
from audit_trail.core import Actor, Entry, Outcome, Target
from audit_trail.core.cursor import CursorCodec
from audit_trail.core.errors import ValidationFailed
from audit_trail.core.index.integrate import IndexIntegrator
from audit_trail.core.integrity.leaf import b64, sealed_record
from audit_trail.core.ledger.checkpoints import Checkpoints
from audit_trail.core.ledger.tree import LogTree
from audit_trail.core.ports.index import QueryIndex
from audit_trail.core.principal import Principal
from audit_trail.core.query import MAX_LIMIT, EntryFilters, QuerySpec
from audit_trail.core.serialization import entry_to_json
from audit_trail.core.timestamps import to_utc_millis
from audit_trail.core.usecases.query_proof import ProveQuery, QueryProofRequest
from audit_trail.entrypoints.http.query_proofs import query_proof_json
from audit_trail.verify.query import QueryResult, check_query_proof

from .fakes import MeddlingEntryProcessor

TENANT = "acme"
ORIGIN = "audit.example/audit-trail"
CURSORS = CursorCodec(b"query proofs, page cursors")
SIGNER = Ed25519NoteSigner("audit.example/log", Ed25519PrivateKey.generate())
READER = Principal("auditor", TENANT, frozenset({"audit:read"}))
START = datetime(2024, 3, 1, tzinfo=UTC)
ACTORS = ("u-1", "u-2", "u-3")
ACTIONS = ("doc.read", "doc.write")


class _Quiet(MeddlingEntryProcessor):
    async def redact_for_reader(self, entry: Entry, principal: Principal) -> Entry:
        return entry


@dataclass
class World:
    """The in-memory storage, its index, and what the use cases need of them."""

    repository: InMemoryEntryRepository = field(default_factory=InMemoryEntryRepository)
    index: QueryIndex = field(init=False)
    current: dict[str, Entry] = field(default_factory=dict)
    count: int = 0

    def __post_init__(self) -> None:
        self.index = self.repository.query_index()

    async def commit(self, revisions: list[Entry]) -> None:
        records = []
        for revision in revisions:
            before = self.current.get(revision.id) if revision.revision > 1 else None
            prev = None if before is None else before.evidence.leaf_hash  # type: ignore[union-attr]
            record = sealed_record(revision, prev=prev)
            assert record.revision is not None
            self.current[revision.id] = record.revision
            records.append([record])
        results = await self.repository.commit(TENANT, records)
        assert all(isinstance(r, int) for r in results), results
        await IndexIntegrator(self.index, self.repository).integrate(TENANT)

    def record(self, actor: str, action: str, hours: float, target: str | None) -> Entry:
        self.count += 1
        at = to_utc_millis(START + timedelta(hours=hours))  # as the service stores it
        return Entry(
            id=f"e{self.count:04d}",
            tenant=TENANT,
            action=action,
            outcome=Outcome.SUCCESS,
            actor=Actor(id=actor),
            occurred_at=at,
            recorded_at=at,
            target=None if target is None else Target(type="doc", id=target),
            recorded_by="writer",
        )

    async def prove(
        self, filters: EntryFilters, limit: int = MAX_LIMIT, cursor: str | None = None
    ) -> dict[str, Any]:
        """One page of the answer: page 1, or the one ``cursor`` names."""
        tree = LogTree(self.repository)
        use_case = ProveQuery(
            self.repository,
            self.repository,
            self.index,
            tree=tree,
            checkpoints=Checkpoints(self.repository, tree, SIGNER, ORIGIN),
            processor=_Quiet(),
            cursors=CURSORS,
        )
        proof = await use_case.execute(QueryProofRequest(READER, filters, limit, cursor))
        return query_proof_json(proof)

    async def walk(self, filters: EntryFilters, limit: int) -> list[dict[str, Any]]:
        """Every page of the answer, following next_cursor."""
        pages = [await self.prove(filters, limit)]
        while pages[-1]["next_cursor"] is not None:
            pages.append(await self.prove(filters, limit, pages[-1]["next_cursor"]))
        return pages

    async def expected(self, filters: EntryFilters) -> list[str]:
        page = await self.repository.query(TENANT, QuerySpec(filters=filters, limit=1000))
        return [entry.id for entry in page.items]


def verdict(body: dict[str, Any], filters: EntryFilters) -> QueryResult:
    return check_query_proof(body, SIGNER.vkey, filters)


operations = st.lists(
    st.tuples(
        st.sampled_from(["record", "record", "amend", "delete"]),
        st.sampled_from(ACTORS),
        st.sampled_from(ACTIONS),
        st.floats(0, 72, allow_nan=False),  # three days of hours; late ones included
        st.sampled_from([None, "d-1", "d-2"]),
        st.integers(0, 1000),  # which entry an amendment or deletion picks
    ),
    min_size=1,
    max_size=25,
)
queries = st.sampled_from(
    [
        EntryFilters(actor_id="u-1"),
        EntryFilters(
            actor_id="u-2", since=START + timedelta(hours=20), until=START + timedelta(hours=50)
        ),
        EntryFilters(action="doc.write"),
        EntryFilters(action="doc.read", since=START, until=START + timedelta(hours=30)),
        EntryFilters(target_type="doc", target_id="d-1"),
        EntryFilters(since=START + timedelta(hours=10), until=START + timedelta(hours=40)),
        EntryFilters(actor_id="u-3", outcome=Outcome.SUCCESS, action_prefix="doc."),
    ]
)


async def history(ops: list[tuple[str, str, str, float, str | None, int]]) -> World:
    world = World()
    batch: list[Entry] = []
    for op, actor, action, hours, target, pick in ops:
        live = sorted(
            e for e, r in world.current.items() if not r.deleted and e not in {b.id for b in batch}
        )
        if op == "record" or not live:
            batch.append(world.record(actor, action, hours, target))
        else:
            current = world.current[live[pick % len(live)]]
            at = to_utc_millis(START + timedelta(hours=hours))  # as the service stores it
            if op == "amend":
                batch.append(
                    current.next_revision(at, "writer", actor=Actor(id=actor), occurred_at=at)
                )
            else:
                batch.append(current.next_revision(at, "writer", deleted=True))
        if pick % 3 == 0:
            await world.commit(batch)
            batch = []
    if batch:
        await world.commit(batch)
    return world


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations, queries)
async def test_an_honest_proof_verifies_to_exactly_what_the_query_finds(
    ops: list[tuple[str, str, str, float, str | None, int]], filters: EntryFilters
) -> None:
    world = await history(ops)
    result = verdict(await world.prove(filters), filters)
    assert result.failures == ()
    assert [entry["id"] for entry in result.entries] == await world.expected(filters)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations, queries, st.data())
async def test_every_single_omission_insertion_stale_revision_or_reordering_fails(
    ops: list[tuple[str, str, str, float, str | None, int]],
    filters: EntryFilters,
    data: st.DataObject,
) -> None:
    world = await history(ops)
    honest = await world.prove(filters)
    attacks = _attacks(honest)
    for name, forged in attacks:
        result = verdict(forged, filters)
        assert result.failures, name
    if honest["entries"]:
        forged = copy.deepcopy(honest)
        dropped = forged["entries"].pop(data.draw(st.integers(0, len(forged["entries"]) - 1)))
        failures = [str(f) for f in verdict(forged, filters).failures]
        assert failures == [
            f"entry {dropped['entry']['id']}: missing: revision "
            f"{dropped['entry']['revision']} is current"
        ]


def _attacks(honest: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    attacks: list[tuple[str, dict[str, Any]]] = []
    for b, bucket in enumerate(honest["buckets"]):
        for p in range(len(bucket["postings"])):
            forged = copy.deepcopy(honest)
            del forged["buckets"][b]["postings"][p]
            attacks.append((f"posting {p} of bucket {b} dropped", forged))
        if len(bucket["postings"]) > 1:
            forged = copy.deepcopy(honest)
            postings = forged["buckets"][b]["postings"]
            postings[0], postings[-1] = postings[-1], postings[0]
            if postings != bucket["postings"]:
                attacks.append((f"postings of bucket {b} reordered", forged))
    for e, item in enumerate(honest["entries"]):
        forged = copy.deepcopy(honest)
        forged["entries"][e]["entry"]["actor"]["id"] = "u-intruder"
        attacks.append((f"entry {e}'s actor changed", forged))
        forged = copy.deepcopy(honest)
        forged["entries"].append(copy.deepcopy(item))
        forged["entries"][-1]["entry"]["id"] = "e-extra"
        attacks.append(("an extra entry", forged))
    return attacks


async def test_an_older_revision_served_as_current_is_named_stale() -> None:
    world = World()
    first = world.record("u-1", "doc.read", 1, None)
    await world.commit([first])
    original = world.current[first.id]
    await world.commit([original.next_revision(START, "writer", action="doc.write")])
    filters = EntryFilters(actor_id="u-1")
    honest = await world.prove(filters)
    forged = copy.deepcopy(honest)
    forged["entries"][0]["entry"] = entry_to_json(original)
    assert original.evidence is not None
    forged["entries"][0]["salts"] = {p: b64(s) for p, s in original.evidence.salts.items()}
    forged["entries"][0]["prev"] = None
    failures = [str(f) for f in verdict(forged, filters).failures]
    assert failures == [f"entry {first.id}: stale: revision 1 served, 2 is current"]


async def test_an_entry_deleted_from_storage_is_named_missing() -> None:
    world = World()
    kept, doomed = (
        world.record("u-1", "doc.read", 1, None),
        world.record("u-1", "doc.read", 2, None),
    )
    await world.commit([kept, doomed])
    del world.repository._revisions[(TENANT, doomed.id)]  # someone with database access
    filters = EntryFilters(actor_id="u-1")
    failures = [str(f) for f in verdict(await world.prove(filters), filters).failures]
    assert failures == [f"entry {doomed.id}: missing: revision 1 is current"]


async def test_a_query_no_filter_proves_is_refused_naming_what_can_be_proven() -> None:
    world = World()
    await world.commit([world.record("u-1", "doc.read", 1, None)])
    with pytest.raises(ValidationFailed, match="actor_id, target_type with target_id"):
        await world.prove(EntryFilters(action_prefix="doc."))


async def test_a_proof_is_checked_against_the_key_that_signed_it() -> None:
    world = World()
    await world.commit([world.record("u-1", "doc.read", 1, None)])
    filters = EntryFilters(actor_id="u-1")
    other = Ed25519NoteSigner("audit.example/log", Ed25519PrivateKey.generate())
    result = check_query_proof(await world.prove(filters), other.vkey, filters)
    assert not result.ok
    assert [f.subject for f in result.failures] == ["checkpoint"]
    assert replace(result, failures=()).entries == ()
