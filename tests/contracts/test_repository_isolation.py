"""EntryRepository contract: tenants never see each other; concurrent use loses nothing."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from audit_trail.core.errors import DuplicateEntry, EntryNotFound
from audit_trail.core.model import Entry
from audit_trail.core.ports import EntryRepository
from audit_trail.core.query import EntryFilters, QuerySpec
from tests.contracts.builders import amended, make_entry, moment, tombstone


@pytest.fixture
async def foreign(repository: EntryRepository) -> Entry:
    """An entry of tenant t2, next to one of t1 with the same fields."""
    entry = make_entry("t2")
    await repository.append(entry)
    await repository.append(make_entry("t1"))
    return entry


async def test_get_of_another_tenants_id_is_none(
    repository: EntryRepository, foreign: Entry
) -> None:
    assert await repository.get("t1", foreign.id) is None
    assert await repository.get("t2", foreign.id) == foreign


async def test_an_id_names_one_entry_across_all_tenants(
    repository: EntryRepository, foreign: Entry
) -> None:
    with pytest.raises(DuplicateEntry):
        await repository.append(make_entry("t1", id=foreign.id))

    assert await repository.get("t1", foreign.id) is None
    assert await repository.get("t2", foreign.id) == foreign


async def test_query_sees_only_the_tenants_entries(
    repository: EntryRepository, foreign: Entry
) -> None:
    t1 = await repository.query("t1", QuerySpec())
    t2 = await repository.query("t2", QuerySpec())
    t2_by_tag = await repository.query("t2", QuerySpec(EntryFilters(tag="ui")))

    assert [e.tenant for e in t1.items] == ["t1"]
    assert t2.items == [foreign]
    assert t2_by_tag.items == [foreign]


async def test_history_of_another_tenants_id_is_empty(
    repository: EntryRepository, foreign: Entry
) -> None:
    assert list(await repository.history("t1", foreign.id)) == []


async def test_amend_cannot_reach_another_tenants_entry(
    repository: EntryRepository, foreign: Entry
) -> None:
    with pytest.raises(EntryNotFound):
        await repository.amend(replace(amended(foreign, action="x.y"), tenant="t1"))

    assert await repository.get("t2", foreign.id) == foreign


async def test_delete_cannot_reach_another_tenants_entry(
    repository: EntryRepository, foreign: Entry
) -> None:
    with pytest.raises(EntryNotFound):
        await repository.delete(replace(tombstone(foreign), tenant="t1"))

    assert await repository.get("t2", foreign.id) == foreign
    assert len(await repository.history("t2", foreign.id)) == 1


async def test_tenant_names_are_matched_exactly(repository: EntryRepository) -> None:
    entry = make_entry("acme")
    await repository.append(entry)

    for lookalike in ("ACME", "acme ", "acm", "acme%", "%", "*", ""):
        assert await repository.get(lookalike, entry.id) is None
        assert list((await repository.query(lookalike, QuerySpec())).items) == []
        assert list(await repository.history(lookalike, entry.id)) == []


async def test_100_concurrent_appends_are_all_kept(repository: EntryRepository) -> None:
    entries = [make_entry(occurred_at=moment(i % 10)) for i in range(100)]

    await asyncio.gather(*(repository.append(e) for e in entries))

    page = await repository.query("t1", QuerySpec(limit=1000))
    assert sorted(e.id for e in page.items) == sorted(e.id for e in entries)


async def test_concurrent_batches_are_all_kept(repository: EntryRepository) -> None:
    batches = [[make_entry(f"t{b % 3}") for _ in range(20)] for b in range(9)]

    await asyncio.gather(*(repository.append_many(batch) for batch in batches))

    for tenant in ("t0", "t1", "t2"):
        page = await repository.query(tenant, QuerySpec(limit=1000))
        expected = [e.id for batch in batches for e in batch if e.tenant == tenant]
        assert sorted(e.id for e in page.items) == sorted(expected)


async def test_readers_never_see_an_amendment_half_done(repository: EntryRepository) -> None:
    entries = [make_entry(occurred_at=moment(i)) for i in range(5)]
    await repository.append_many(entries)
    done = asyncio.Event()

    async def amend_repeatedly() -> None:
        current = list(entries)
        for round_number in range(8):
            for i, entry in enumerate(current):
                current[i] = amended(entry, action=f"a.round{round_number}")
                await repository.amend(current[i])
        done.set()

    async def read_repeatedly() -> int:
        reads = 0
        while not done.is_set() or reads == 0:
            page = await repository.query("t1", QuerySpec(limit=100))
            assert sorted(e.id for e in page.items) == sorted(e.id for e in entries)
            tagged = await repository.query("t1", QuerySpec(EntryFilters(tag="ui"), limit=100))
            assert len(tagged.items) == len(entries)
            for entry in entries:
                assert await repository.get("t1", entry.id) is not None
            reads += 1
            await asyncio.sleep(0)
        return reads

    _, reads = await asyncio.gather(amend_repeatedly(), read_repeatedly())

    assert reads > 0
    for entry in entries:
        assert len(await repository.history("t1", entry.id)) == 9
