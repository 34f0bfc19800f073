"""The use cases, driven through their commands with real in-memory adapters and fakes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from audit_trail.adapters.clock import FixedClock
from audit_trail.adapters.ids import UlidIdFactory
from audit_trail.adapters.processing import PassThroughEntryProcessor
from audit_trail.adapters.storage.memory import InMemoryEntryRepository
from audit_trail.core import (
    Actor,
    CursorCodec,
    DuplicateEntry,
    Entry,
    EntryDraft,
    EntryNotFound,
    Forbidden,
    Outcome,
    Principal,
    QuerySpec,
    RevisionConflict,
    Target,
    ValidationFailed,
    parse_query,
    validate_entry,
)
from audit_trail.core.ledger.committer import GroupCommitter
from audit_trail.core.ports import EntryProcessor, IdFactory
from audit_trail.core.usecases import (
    AmendEntry,
    AmendEntryCommand,
    DeleteEntry,
    DeleteEntryCommand,
    EntryHistory,
    EntryHistoryQuery,
    GetEntry,
    GetEntryQuery,
    QueryEntries,
    QueryEntriesQuery,
    QueryResult,
    RecordEntries,
    RecordEntriesCommand,
    RecordEntry,
    RecordEntryCommand,
)
from audit_trail.core.usecases.record import EntryFactory
from tests.unit.fakes import (
    CountingQueryCache,
    FixedIdFactory,
    MeddlingEntryProcessor,
    RedactingEntryProcessor,
)

NOW = datetime(2026, 11, 28, 9, 30, 0, 123000, tzinfo=UTC)
ALL_SCOPES = frozenset({"audit:read", "audit:write", "audit:admin"})
WRITER = Principal("svc-billing", "acme", frozenset({"audit:write"}))
READER = Principal("auditor", "acme", frozenset({"audit:read"}))
ADMIN = Principal("root", "acme", frozenset({"audit:admin"}))
STRANGER = Principal("spy", "globex", ALL_SCOPES)


@dataclass
class Service:
    repository: InMemoryEntryRepository
    cache: CountingQueryCache
    clock: FixedClock
    record_one: RecordEntry
    record_many: RecordEntries
    get_one: GetEntry
    query_entries: QueryEntries
    amend_one: AmendEntry
    delete_one: DeleteEntry
    history_of: EntryHistory

    async def record(self, principal: Principal = WRITER, **fields: Any) -> Entry:
        return await self.record_one.execute(RecordEntryCommand(principal, draft(**fields)))

    async def get(self, entry_id: str, principal: Principal = READER) -> Entry:
        return await self.get_one.execute(GetEntryQuery(principal, entry_id))

    async def query(self, principal: Principal = READER, /, **params: str) -> QueryResult:
        request = parse_query({name: [value] for name, value in params.items()})
        return await self.query_entries.execute(QueryEntriesQuery(principal, request))

    async def amend(
        self,
        entry_id: str,
        principal: Principal = ADMIN,
        expected_revision: int | None = None,
        **fields: Any,
    ) -> Entry:
        command = AmendEntryCommand(principal, entry_id, draft(**fields), expected_revision)
        return await self.amend_one.execute(command)

    async def delete(
        self, entry_id: str, principal: Principal = ADMIN, expected_revision: int | None = None
    ) -> None:
        await self.delete_one.execute(DeleteEntryCommand(principal, entry_id, expected_revision))

    async def history(self, entry_id: str, principal: Principal = READER) -> list[Entry]:
        return (await self.history_of.execute(EntryHistoryQuery(principal, entry_id))).items


def draft(**fields: Any) -> EntryDraft:
    return validate_entry({"action": "document.update"} | fields)


def build(
    processor: EntryProcessor | None = None,
    ids: IdFactory | None = None,
    cache: CountingQueryCache | None = None,
    repository: InMemoryEntryRepository | None = None,
) -> Service:
    repository = repository or InMemoryEntryRepository()
    cache = cache or CountingQueryCache()
    processor = processor or PassThroughEntryProcessor()
    clock = FixedClock(NOW)
    factory = EntryFactory(processor, clock, ids or UlidIdFactory())
    committer = GroupCommitter(repository, cache)
    return Service(
        repository=repository,
        cache=cache,
        clock=clock,
        record_one=RecordEntry(committer, processor, factory),
        record_many=RecordEntries(committer, processor, factory),
        get_one=GetEntry(repository, processor),
        query_entries=QueryEntries(repository, cache, processor, CursorCodec(b"k" * 32)),
        amend_one=AmendEntry(repository, committer, processor, clock),
        delete_one=DeleteEntry(repository, committer, clock),
        history_of=EntryHistory(repository, processor),
    )


@pytest.fixture
def service() -> Service:
    return build()


# --- scopes ---

Call = Callable[[Service, Principal, str], Awaitable[object]]
CALLS: dict[str, tuple[str, Call]] = {
    "record": ("audit:write", lambda s, p, i: s.record(p)),
    "record many": (
        "audit:write",
        lambda s, p, i: s.record_many.execute(RecordEntriesCommand(p, [draft()])),
    ),
    "get": ("audit:read", lambda s, p, i: s.get(i, p)),
    "query": ("audit:read", lambda s, p, i: s.query(p)),
    "history": ("audit:read", lambda s, p, i: s.history(i, p)),
    "amend": ("audit:admin", lambda s, p, i: s.amend(i, p, action="changed")),
    "delete": ("audit:admin", lambda s, p, i: s.delete(i, p)),
}


@pytest.mark.parametrize("name", list(CALLS))
async def test_each_use_case_needs_its_scope(service: Service, name: str) -> None:
    scope, call = CALLS[name]
    entry = await service.record()
    invalidations = len(service.cache.invalidations)
    for scopes in (frozenset(), ALL_SCOPES - {scope}):
        with pytest.raises(Forbidden, match=scope):
            await call(service, Principal("someone", "acme", scopes), entry.id)
    assert await service.history(entry.id) == [entry]  # nothing changed
    assert len(service.cache.invalidations) == invalidations
    assert len((await service.query()).items) == 1


@pytest.mark.parametrize("name", list(CALLS))
async def test_each_use_case_works_with_its_scope(service: Service, name: str) -> None:
    scope, call = CALLS[name]
    entry = await service.record()
    await call(service, Principal("someone", "acme", frozenset({scope})), entry.id)


# --- recording ---


async def test_a_recorded_entry_gets_its_server_fields() -> None:
    service = build(ids=FixedIdFactory("01JID"))
    entry = await service.record(outcome="denied", tags=["ui"], metadata={"k": "v"})
    assert entry == Entry(
        id="01JID",
        tenant="acme",
        action="document.update",
        outcome=Outcome.DENIED,
        actor=Actor(id="svc-billing"),
        occurred_at=NOW,
        recorded_at=NOW,
        recorded_by="svc-billing",
        revision=1,
        tags=("ui",),
        metadata={"k": "v"},
    )
    assert await service.get("01JID") == entry


async def test_the_actor_defaults_to_the_callers_subject(service: Service) -> None:
    assert (await service.record()).actor == Actor(id="svc-billing")
    given = {"id": "u-42", "type": "user", "name": "Ada"}
    assert (await service.record(actor=given)).actor == Actor(id="u-42", type="user", name="Ada")


async def test_occurred_at_defaults_to_now_and_is_kept_when_given(service: Service) -> None:
    service.clock.advance(timedelta(minutes=5))
    later = NOW + timedelta(minutes=5)
    assert (await service.record()).occurred_at == later
    explicit = await service.record(occurred_at="2020-01-01T01:00:00.5+01:00")
    assert explicit.occurred_at == datetime(2020, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)
    assert explicit.recorded_at == later


async def test_the_tenant_comes_from_the_caller(service: Service) -> None:
    entry = await service.record(Principal("svc", "globex", frozenset({"audit:write"})))
    assert entry.tenant == "globex"
    with pytest.raises(EntryNotFound):
        await service.get(entry.id, READER)
    assert await service.get(entry.id, STRANGER) == entry


async def test_a_plugin_cannot_change_what_identifies_an_entry() -> None:
    processor = MeddlingEntryProcessor()
    service = build(processor=processor, ids=FixedIdFactory("01JA"))
    entry = await service.record(tags=["ui"])
    assert (entry.id, entry.tenant, entry.revision) == ("01JA", "acme", 1)
    assert (entry.recorded_at, entry.deleted) == (NOW, False)
    assert entry.tags == ("ui", "enriched")  # what plugins may change, they do
    assert await service.get("01JA") == entry
    assert processor.recorded_entries == [entry]
    with pytest.raises(EntryNotFound):
        await service.get("HIJACKED", Principal("x", "someone-else", ALL_SCOPES))


async def test_a_plugin_cannot_change_what_identifies_an_amendment() -> None:
    processor = MeddlingEntryProcessor()
    service = build(processor=processor, ids=FixedIdFactory("01JA"))
    await service.record()
    service.clock.advance(timedelta(seconds=1))
    amended = await service.amend("01JA", action="fixed")
    assert (amended.id, amended.tenant, amended.revision, amended.deleted) == (
        "01JA",
        "acme",
        2,
        False,
    )
    assert amended.recorded_at == NOW + timedelta(seconds=1)
    assert amended.recorded_by == "root"
    assert [r.revision for r in await service.history("01JA")] == [1, 2]


async def test_plugins_hear_of_an_entry_once_it_is_stored() -> None:
    repository = InMemoryEntryRepository()
    stored_when_told: list[Entry | None] = []

    class Listener(PassThroughEntryProcessor):
        async def recorded(self, entry: Entry) -> None:
            stored_when_told.append(await repository.get(entry.tenant, entry.id))

    service = build(processor=Listener(), repository=repository)
    entry = await service.record()
    assert stored_when_told == [entry]


async def test_recording_the_same_id_twice_is_refused_and_changes_nothing() -> None:
    service = build(ids=FixedIdFactory("01JA", "01JA"))
    first = await service.record(action="first")
    invalidations = len(service.cache.invalidations)
    with pytest.raises(DuplicateEntry):
        await service.record(action="second")
    assert await service.get("01JA") == first
    assert len(service.cache.invalidations) == invalidations


async def test_a_batch_is_stored_whole(service: Service) -> None:
    drafts = [draft(action=f"step.{i}") for i in range(3)]
    stored = await service.record_many.execute(RecordEntriesCommand(WRITER, drafts))
    assert [e.action for e in stored] == ["step.0", "step.1", "step.2"]
    assert all(e.tenant == "acme" and e.actor == Actor(id="svc-billing") for e in stored)
    assert [await service.get(e.id) for e in stored] == stored
    assert service.cache.invalidations == ["acme"]


async def test_a_batch_that_cannot_be_stored_whole_stores_nothing() -> None:
    service = build(ids=FixedIdFactory("01JA", "01JB", "01JA"))
    drafts = [draft(), draft(), draft()]
    with pytest.raises(DuplicateEntry):
        await service.record_many.execute(RecordEntriesCommand(WRITER, drafts))
    assert (await service.query()).items == []
    assert service.cache.invalidations == []


async def test_a_batch_names_the_items_whose_fields_are_refused(service: Service) -> None:
    nameless = Principal("s" * 201, "acme", frozenset({"audit:write"}))
    drafts = [draft(actor={"id": "u-1"}), draft(), draft(actor={"id": "u-3"}), draft()]
    with pytest.raises(ValidationFailed) as refused:
        await service.record_many.execute(RecordEntriesCommand(nameless, drafts))
    assert [e.field for e in refused.value.errors] == ["[1].actor.id", "[3].actor.id"]
    assert (await service.query()).items == []


async def test_an_empty_batch_stores_nothing(service: Service) -> None:
    assert await service.record_many.execute(RecordEntriesCommand(WRITER, [])) == []
    assert service.cache.invalidations == []


# --- reading ---


async def test_an_unknown_or_foreign_id_is_not_found(service: Service) -> None:
    entry = await service.record()
    for entry_id, principal in (("nope", READER), (entry.id, STRANGER)):
        with pytest.raises(EntryNotFound):
            await service.get(entry_id, principal)
        with pytest.raises(EntryNotFound):
            await service.history(entry_id, principal)


async def test_history_of_an_unknown_id_is_not_found(service: Service) -> None:
    with pytest.raises(EntryNotFound):
        await service.history("01JNOTHERE")


# --- amending ---


async def test_amending_keeps_every_revision(service: Service) -> None:
    original = await service.record(
        actor={"id": "u-1"},
        occurred_at="2026-01-01T00:00:00Z",
        target={"type": "doc", "id": "d-1"},
        tags=["ui"],
        metadata={"old": 1},
    )
    service.clock.advance(timedelta(hours=1))
    amended = await service.amend(original.id, action="document.fix", outcome="failure")
    assert amended == Entry(
        id=original.id,
        tenant="acme",
        action="document.fix",
        outcome=Outcome.FAILURE,
        actor=Actor(id="u-1"),  # the body has no actor: the event's actor is kept
        occurred_at=original.occurred_at,  # likewise when it happened
        recorded_at=NOW + timedelta(hours=1),
        recorded_by="root",  # who made this revision, not who recorded the entry
        revision=2,
        target=None,  # the rest of the body replaces the entry's fields
        tags=(),
        metadata={},
    )
    assert await service.get(original.id) == amended
    assert await service.history(original.id) == [original, amended]


async def test_amending_may_change_actor_and_time(service: Service) -> None:
    entry = await service.record()
    amended = await service.amend(
        entry.id,
        actor={"id": "u-2"},
        occurred_at="2025-06-01T12:00:00+02:00",
        target={"type": "doc", "id": "d-2"},
    )
    assert amended.actor == Actor(id="u-2")
    assert amended.occurred_at == datetime(2025, 6, 1, 10, tzinfo=UTC)
    assert amended.target == Target(type="doc", id="d-2")


async def test_amending_with_the_current_revision_succeeds(service: Service) -> None:
    entry = await service.record()
    assert (await service.amend(entry.id, expected_revision=1)).revision == 2
    assert (await service.amend(entry.id, expected_revision=2)).revision == 3


async def test_amending_a_revision_the_caller_has_not_seen_is_a_conflict(
    service: Service,
) -> None:
    entry = await service.record()
    await service.amend(entry.id, action="first.fix")
    invalidations = len(service.cache.invalidations)
    with pytest.raises(RevisionConflict) as caught:
        await service.amend(entry.id, expected_revision=1, action="second.fix")
    assert (caught.value.expected, caught.value.actual) == (1, 2)
    assert (await service.get(entry.id)).action == "first.fix"
    assert len(service.cache.invalidations) == invalidations


async def test_amending_an_unknown_deleted_or_foreign_entry_is_not_found(
    service: Service,
) -> None:
    entry = await service.record()
    with pytest.raises(EntryNotFound):
        await service.amend("nope")
    with pytest.raises(EntryNotFound):
        await service.amend(entry.id, STRANGER)
    assert await service.history(entry.id) == [entry]
    await service.delete(entry.id)
    with pytest.raises(EntryNotFound):
        await service.amend(entry.id)


# --- deleting ---


async def test_a_deleted_entry_is_gone_but_its_history_stays(service: Service) -> None:
    entry = await service.record()
    service.clock.advance(timedelta(seconds=3))
    await service.delete(entry.id)
    with pytest.raises(EntryNotFound):
        await service.get(entry.id)
    assert (await service.query()).items == []
    history = await service.history(entry.id)
    assert history[0] == entry
    assert (history[1].revision, history[1].deleted) == (2, True)
    assert history[1].recorded_at == NOW + timedelta(seconds=3)
    assert len(history) == 2


async def test_deleting_twice_is_not_found(service: Service) -> None:
    entry = await service.record()
    await service.delete(entry.id)
    with pytest.raises(EntryNotFound):
        await service.delete(entry.id)


async def test_deleting_a_stale_revision_or_a_foreign_entry_changes_nothing(
    service: Service,
) -> None:
    entry = await service.record()
    amended = await service.amend(entry.id, action="fixed")
    with pytest.raises(RevisionConflict):
        await service.delete(entry.id, expected_revision=1)
    with pytest.raises(EntryNotFound):
        await service.delete(entry.id, STRANGER)
    assert await service.get(entry.id) == amended
    await service.delete(entry.id, expected_revision=2)


# --- the cache ---


async def test_every_write_invalidates_the_writers_tenant(service: Service) -> None:
    entry = await service.record()
    assert service.cache.invalidations == ["acme"]
    await service.record_many.execute(RecordEntriesCommand(WRITER, [draft()]))
    await service.amend(entry.id)
    await service.delete(entry.id)
    assert service.cache.invalidations == ["acme"] * 4


async def test_a_cached_page_is_served_until_a_write(service: Service) -> None:
    await service.record(action="one")
    first = await service.query()
    assert await service.query() == first
    assert service.cache.loads == 1
    await service.record(action="two")
    assert [e.action for e in (await service.query()).items] == ["two", "one"]
    assert service.cache.loads == 2


async def test_equal_queries_written_differently_share_a_cached_page(service: Service) -> None:
    await service.record()
    await service.query(since="2026-11-28T09:00:00Z")
    await service.query(since="2026-11-28T10:00:00+01:00", limit="50", sort="-occurred_at")
    assert service.cache.loads == 1
    await service.query(since="2026-11-28T09:00:00.001Z")
    assert service.cache.loads == 2


async def test_the_cache_is_invalidated_after_the_write_is_stored() -> None:
    repository = InMemoryEntryRepository()
    seen: list[int] = []

    class Watching(CountingQueryCache):
        async def invalidate(self, tenant: str) -> None:
            seen.append(len((await repository.query(tenant, QuerySpec())).items))
            await super().invalidate(tenant)

    service = build(cache=Watching(), repository=repository)
    await service.record()
    await service.record()
    assert seen == [1, 2]


# --- queries ---


async def record_at_minutes(service: Service, minutes: list[int]) -> list[Entry]:
    return [
        await service.record(action=f"at.{m}", occurred_at=(NOW + timedelta(minutes=m)).isoformat())
        for m in minutes
    ]


async def all_pages(service: Service, **params: str) -> tuple[list[Entry], int]:
    items: list[Entry] = []
    pages = 0
    cursor: str | None = None
    while True:
        page = await service.query(**params, **({"cursor": cursor} if cursor else {}))
        items += page.items
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            return items, pages


async def test_paging_through_a_query_sees_every_entry_once_newest_first(
    service: Service,
) -> None:
    recorded = await record_at_minutes(service, [3, 1, 6, 0, 5, 2, 4])
    items, pages = await all_pages(service, limit="3")
    assert pages == 3
    assert items == sorted(recorded, key=lambda e: e.occurred_at, reverse=True)


async def test_paging_oldest_first(service: Service) -> None:
    recorded = await record_at_minutes(service, [3, 1, 6, 0, 5, 2])
    items, pages = await all_pages(service, limit="2", sort="occurred_at")
    assert pages == 3
    assert items == sorted(recorded, key=lambda e: e.occurred_at)


async def test_paging_through_entries_of_the_same_instant(service: Service) -> None:
    recorded = [await service.record() for _ in range(5)]  # all at NOW, ids ordered
    items, _ = await all_pages(service, limit="2", sort="occurred_at")
    assert items == recorded


async def test_the_last_page_has_no_next_cursor(service: Service) -> None:
    await record_at_minutes(service, [1, 2])
    assert (await service.query(limit="2")).next_cursor is None
    assert (await service.query(limit="1")).next_cursor is not None


async def test_a_query_sees_only_matching_entries_of_the_callers_tenant(
    service: Service,
) -> None:
    mine = await service.record(actor={"id": "u-1"}, action="doc.read")
    await service.record(actor={"id": "u-2"}, action="doc.read")
    await service.record(actor={"id": "u-1"}, action="user.login")
    await service.record(
        Principal("svc", "globex", frozenset({"audit:write"})),
        actor={"id": "u-1"},
        action="doc.read",
    )
    assert (await service.query(actor_id="u-1", action="doc.*")).items == [mine]
    assert len((await service.query(STRANGER)).items) == 1


async def test_a_cursor_from_another_query_or_tenant_is_refused(service: Service) -> None:
    await record_at_minutes(service, [1, 2, 3])
    await service.record(Principal("svc", "globex", frozenset({"audit:write"})))
    cursor = (await service.query(limit="1")).next_cursor
    assert cursor is not None
    attempts: list[tuple[Principal, dict[str, str]]] = [
        (READER, {"tag": "ui"}),
        (READER, {"sort": "occurred_at"}),
        (READER, {"action": "at.*"}),
        (STRANGER, {}),
    ]
    for principal, params in attempts:
        with pytest.raises(ValidationFailed) as caught:
            await service.query(principal, cursor=cursor, **params)
        assert [e.field for e in caught.value.errors] == ["cursor"]
    assert len((await service.query(cursor=cursor, limit="5")).items) == 2  # limit may change


# --- what readers see ---


async def test_every_returned_entry_is_redacted_for_its_reader() -> None:
    processor = RedactingEntryProcessor()
    service = build(processor=processor)
    hidden = {"secret": "s3cr3t"}
    redacted = RedactingEntryProcessor.REDACTED

    recorded = await service.record(metadata=hidden)
    batch = await service.record_many.execute(
        RecordEntriesCommand(WRITER, [draft(metadata=hidden)] * 2)
    )
    got = await service.get(recorded.id)
    fresh = await service.query()
    cached = await service.query()
    amended = await service.amend(recorded.id, metadata=hidden)
    history = await service.history(recorded.id)

    returned = [recorded, *batch, got, *fresh.items, *cached.items, amended, *history]
    assert len(fresh.items) == 3
    assert all(e.metadata == redacted for e in returned)
    # a cached page is stored as its reader sees it: a hit redacts nothing again
    assert processor.redactions == len(returned) - len(cached.items)
    stored = await service.repository.get("acme", recorded.id)
    assert stored is not None
    assert stored.metadata == hidden  # redaction is for readers, not for storage
