"""EntryRepository contract: appends, amendments, tombstones and history."""

from __future__ import annotations

import asyncio

import pytest

from audit_trail.core.errors import DuplicateEntry, EntryNotFound, RevisionConflict
from audit_trail.core.integrity.erasure import erased_revision
from audit_trail.core.integrity.leaf import sealed_leaf
from audit_trail.core.model import Actor, Outcome
from audit_trail.core.ports import EntryRepository
from audit_trail.core.query import EntryFilters, QuerySpec
from tests.contracts.builders import amended, make_entry, moment, tombstone


async def test_amend_makes_the_new_revision_current(repository: EntryRepository) -> None:
    entry = make_entry()
    await repository.append(entry)
    second = amended(entry, action="document.rename", metadata={"to": "Q4"})

    await repository.amend(second)

    assert await repository.get("t1", entry.id) == second


async def test_history_keeps_every_revision_oldest_first(repository: EntryRepository) -> None:
    first = make_entry()
    second = amended(first, outcome=Outcome.FAILURE)
    third = amended(second, tags=("fixed",), actor=Actor(id="u-9"))
    await repository.append(first)
    await repository.amend(second)
    await repository.amend(third)

    assert list(await repository.history("t1", first.id)) == [first, second, third]


async def test_history_of_an_entry_never_amended_is_its_one_revision(
    repository: EntryRepository,
) -> None:
    entry = make_entry()
    await repository.append(entry)

    assert list(await repository.history("t1", entry.id)) == [entry]


async def test_revisions_reads_the_wanted_revisions_of_the_tenant_at_once(
    repository: EntryRepository,
) -> None:
    first = make_entry(tags=("a", "b"))
    second = amended(first, outcome=Outcome.FAILURE)
    gone = tombstone(second)
    other = make_entry()
    foreign = make_entry(tenant="t2")
    await repository.append(first)
    await repository.amend(second)
    await repository.delete(gone)
    await repository.append(other)
    await repository.append(foreign)

    found = await repository.revisions(
        "t1",
        [(first.id, 1), (other.id, 1), (first.id, 3), (first.id, 1), (first.id, 9),
         (foreign.id, 1), ("no-such-id", 1)],
    )  # fmt: skip

    assert dict(found) == {(first.id, 1): first, (other.id, 1): other, (first.id, 3): gone}
    assert dict(await repository.revisions("t2", [(foreign.id, 1)])) == {(foreign.id, 1): foreign}
    assert dict(await repository.revisions("t1", [])) == {}


async def test_history_of_an_unknown_id_is_empty(repository: EntryRepository) -> None:
    assert list(await repository.history("t1", "no-such-id")) == []


async def test_amend_with_a_stale_revision_is_a_conflict(repository: EntryRepository) -> None:
    first = make_entry()
    await repository.append(first)
    await repository.amend(amended(first, action="a.first"))

    with pytest.raises(RevisionConflict):
        await repository.amend(amended(first, action="a.second"))

    current = await repository.get("t1", first.id)
    assert current is not None
    assert (current.revision, current.action) == (2, "a.first")


async def test_amend_that_skips_a_revision_is_a_conflict(repository: EntryRepository) -> None:
    first = make_entry()
    await repository.append(first)

    with pytest.raises(RevisionConflict):
        await repository.amend(amended(amended(first)))

    assert list(await repository.history("t1", first.id)) == [first]


async def test_amend_of_an_unknown_entry_is_not_found(repository: EntryRepository) -> None:
    with pytest.raises(EntryNotFound):
        await repository.amend(amended(make_entry()))


async def test_amend_of_a_deleted_entry_is_not_found(repository: EntryRepository) -> None:
    entry = make_entry()
    await repository.append(entry)
    gone = tombstone(entry)
    await repository.delete(gone)

    with pytest.raises(EntryNotFound):
        await repository.amend(amended(gone, deleted=False))


async def test_a_deleted_entry_is_gone_from_get_and_query(repository: EntryRepository) -> None:
    entry, other = make_entry(), make_entry()
    await repository.append_many([entry, other])

    await repository.delete(tombstone(entry))

    assert await repository.get("t1", entry.id) is None
    page = await repository.query("t1", QuerySpec())
    assert [e.id for e in page.items] == [other.id]
    tagged = await repository.query("t1", QuerySpec(filters=EntryFilters(tag="ui")))
    assert [e.id for e in tagged.items] == [other.id]


async def test_a_deleted_entry_keeps_its_history_with_the_tombstone_last(
    repository: EntryRepository,
) -> None:
    first = make_entry()
    second = amended(first, action="a.b")
    gone = tombstone(second)
    await repository.append(first)
    await repository.amend(second)

    await repository.delete(gone)

    history = list(await repository.history("t1", first.id))
    assert history == [first, second, gone]
    assert [r.deleted for r in history] == [False, False, True]


async def test_deleting_twice_is_not_found(repository: EntryRepository) -> None:
    entry = make_entry()
    await repository.append(entry)
    gone = tombstone(entry)
    await repository.delete(gone)

    with pytest.raises(EntryNotFound):
        await repository.delete(tombstone(gone))
    with pytest.raises(EntryNotFound):
        await repository.delete(gone)


async def test_delete_of_an_unknown_entry_is_not_found(repository: EntryRepository) -> None:
    with pytest.raises(EntryNotFound):
        await repository.delete(tombstone(make_entry()))


async def test_delete_with_a_stale_revision_is_a_conflict(repository: EntryRepository) -> None:
    first = make_entry()
    await repository.append(first)
    await repository.amend(amended(first))

    with pytest.raises(RevisionConflict):
        await repository.delete(tombstone(first))

    assert await repository.get("t1", first.id) is not None


async def test_query_sees_only_the_current_revision(repository: EntryRepository) -> None:
    first = make_entry(action="a.old", tags=("old",), occurred_at=moment(0))
    await repository.append(first)
    second = amended(first, action="a.new", tags=("new",), outcome=Outcome.DENIED)
    await repository.amend(second)

    everything = await repository.query("t1", QuerySpec())
    by_old_action = await repository.query("t1", QuerySpec(EntryFilters(action="a.old")))
    by_new_action = await repository.query("t1", QuerySpec(EntryFilters(action="a.new")))
    by_old_tag = await repository.query("t1", QuerySpec(EntryFilters(tag="old")))
    by_new_tag = await repository.query("t1", QuerySpec(EntryFilters(tag="new")))
    by_old_outcome = await repository.query("t1", QuerySpec(EntryFilters(outcome=Outcome.SUCCESS)))

    assert everything.items == [second]
    assert list(by_old_action.items) == []
    assert by_new_action.items == [second]
    assert list(by_old_tag.items) == []
    assert by_new_tag.items == [second]
    assert list(by_old_outcome.items) == []


async def test_an_amended_time_moves_the_entry_in_time_filters_and_order(
    repository: EntryRepository,
) -> None:
    moved, still = make_entry(occurred_at=moment(0)), make_entry(occurred_at=moment(10))
    await repository.append_many([moved, still])
    await repository.amend(amended(moved, occurred_at=moment(20)))

    newest = await repository.query("t1", QuerySpec())
    early = await repository.query("t1", QuerySpec(EntryFilters(until=moment(5))))
    tagged_late = await repository.query("t1", QuerySpec(EntryFilters(tag="ui", since=moment(15))))

    assert [e.id for e in newest.items] == [moved.id, still.id]
    assert list(early.items) == []
    assert [e.id for e in tagged_late.items] == [moved.id]


async def test_appending_an_existing_id_is_a_duplicate(repository: EntryRepository) -> None:
    entry = make_entry()
    await repository.append(entry)

    with pytest.raises(DuplicateEntry):
        await repository.append(make_entry(id=entry.id, action="other.action"))

    assert await repository.get("t1", entry.id) == entry


async def test_appending_the_id_of_an_amended_or_deleted_entry_is_a_duplicate(
    repository: EntryRepository,
) -> None:
    kept, gone = make_entry(), make_entry()
    await repository.append_many([kept, gone])
    await repository.amend(amended(kept))
    await repository.delete(tombstone(gone))

    with pytest.raises(DuplicateEntry):
        await repository.append(make_entry(id=kept.id))
    with pytest.raises(DuplicateEntry):
        await repository.append(make_entry(id=gone.id))

    assert len(await repository.history("t1", kept.id)) == 2
    assert len(await repository.history("t1", gone.id)) == 2


async def test_append_many_stores_every_entry(repository: EntryRepository) -> None:
    entries = [make_entry(occurred_at=moment(i)) for i in range(25)]

    await repository.append_many(entries)

    page = await repository.query("t1", QuerySpec(limit=100))
    assert sorted(e.id for e in page.items) == sorted(e.id for e in entries)
    for entry in entries:
        assert await repository.get("t1", entry.id) == entry


async def test_append_many_with_an_existing_id_stores_none(repository: EntryRepository) -> None:
    existing = make_entry()
    await repository.append(existing)
    batch = [make_entry(), make_entry(id=existing.id), make_entry()]

    with pytest.raises(DuplicateEntry):
        await repository.append_many(batch)

    for entry in (batch[0], batch[2]):
        assert await repository.get("t1", entry.id) is None
        assert list(await repository.history("t1", entry.id)) == []
    page = await repository.query("t1", QuerySpec())
    assert page.items == [existing]


async def test_append_many_with_an_id_twice_stores_none(repository: EntryRepository) -> None:
    first = make_entry()
    batch = [first, make_entry(), make_entry(id=first.id)]

    with pytest.raises(DuplicateEntry):
        await repository.append_many(batch)

    page = await repository.query("t1", QuerySpec())
    assert list(page.items) == []


async def test_append_many_of_nothing_stores_nothing(repository: EntryRepository) -> None:
    await repository.append_many([])

    page = await repository.query("t1", QuerySpec())
    assert list(page.items) == []


async def test_concurrent_amendments_of_one_revision_let_exactly_one_win(
    repository: EntryRepository,
) -> None:
    entry = make_entry()
    await repository.append(entry)
    attempts = [amended(entry, action=f"a.attempt{i}") for i in range(10)]

    results = await asyncio.gather(*(repository.amend(a) for a in attempts), return_exceptions=True)

    winners = [a for a, r in zip(attempts, results, strict=True) if r is None]
    assert len(winners) == 1
    assert all(isinstance(r, RevisionConflict) for r in results if r is not None)
    assert list(await repository.history("t1", entry.id)) == [entry, winners[0]]


async def test_history_pages_after_a_revision(repository: EntryRepository) -> None:
    revisions = [make_entry()]
    for n in range(4):
        revisions.append(amended(revisions[-1], action=f"step.{n}"))
    await repository.append(revisions[0])
    for revision in revisions[1:]:
        await repository.amend(revision)
    entry_id = revisions[0].id

    first = await repository.history("t1", entry_id, limit=2)
    rest = await repository.history("t1", entry_id, after=2, limit=2)
    last = await repository.history("t1", entry_id, after=4, limit=2)

    assert [r.revision for r in (*first, *rest, *last)] == [1, 2, 3, 4, 5]
    assert await repository.history("t1", entry_id, after=5) == []
    assert await repository.history("t2", entry_id, limit=2) == []


async def test_one_revision_or_the_latest_one_tombstone_included(
    repository: EntryRepository,
) -> None:
    entry = make_entry()
    second = amended(entry, action="document.fix")
    await repository.append(entry)
    await repository.amend(second)

    assert await repository.revision("t1", entry.id, 1) == entry
    assert await repository.revision("t1", entry.id) == second
    assert await repository.revision("t1", entry.id, 3) is None
    assert await repository.revision("t2", entry.id) is None
    gone = tombstone(second)
    await repository.delete(gone)
    latest = await repository.revision("t1", entry.id)
    assert latest is not None
    assert (latest.revision, latest.deleted) == (3, True)


async def test_rewrite_stores_an_erased_revision_over_the_stored_one_and_its_tags(
    repository: EntryRepository,
) -> None:
    first = make_entry(tags=("vip", "ui"), metadata={"email": "ada@example.org", "n": 1})
    second = amended(first, tags=("vip",))
    other = make_entry(tags=("vip",))
    for entry in (first, other):
        await repository.append(entry)
    await repository.amend(second)
    erased = [erased_revision(r, ["metadata.email", "tags", "actor.name"]) for r in (first, second)]
    assert None not in erased

    await repository.rewrite([r for r in erased if r is not None])

    history = await repository.history("t1", first.id)
    assert [r.erased for r in history] == [("actor.name", "metadata.email", "tags")] * 2
    assert all(r.metadata == {"n": 1} and r.tags == () and r.actor.name is None for r in history)
    assert [r.evidence.erased.keys() for r in history if r.evidence] == [
        {"actor.name", "metadata.email", "tags"}
    ] * 2
    assert [sealed_leaf(r) for r in history] == [sealed_leaf(first), sealed_leaf(second)]
    assert await repository.get("t1", first.id) == history[-1]
    page = await repository.query("t1", QuerySpec(filters=EntryFilters(tag="vip")))
    assert [e.id for e in page.items] == [other.id]
    by_actor = await repository.query("t1", QuerySpec(filters=EntryFilters(actor_id="u-42")))
    assert {e.id: e.erased for e in by_actor.items}[first.id] == history[-1].erased


async def test_rewrite_of_a_revision_storage_does_not_hold_changes_nothing(
    repository: EntryRepository,
) -> None:
    stored = make_entry()
    await repository.append(stored)
    stranger = erased_revision(make_entry(), ["actor.name"])
    assert stranger is not None
    await repository.rewrite([stranger])
    assert await repository.history("t1", stranger.id) == []
    assert await repository.history("t1", stored.id) == [stored]
