"""EntryRepository contract: paging with ``after`` never skips or repeats an entry."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from audit_trail.core.model import Entry
from audit_trail.core.ports import EntryRepository
from audit_trail.core.query import EntryFilters, Position, QuerySpec, SortOrder
from tests.contracts.builders import make_entry, moment, new_id, tombstone


async def page_through(
    repository: EntryRepository, tenant: str, spec: QuerySpec
) -> list[list[str]]:
    """The ids of every page, following each page's last entry until ``has_more`` is false."""
    pages: list[list[str]] = []
    while True:
        page = await repository.query(tenant, spec)
        pages.append([e.id for e in page.items])
        assert len(page.items) <= spec.limit
        if not page.has_more:
            return pages
        assert len(page.items) == spec.limit
        last = page.items[-1]
        spec = QuerySpec(spec.filters, spec.sort, spec.limit, Position(last.occurred_at, last.id))


def scrambled(entry: Entry) -> bytes:
    return hashlib.sha256(entry.id.encode()).digest()


def expected_order(entries: list[Entry], sort: SortOrder) -> list[str]:
    keyed = sorted(entries, key=lambda e: (e.occurred_at, e.id))
    if sort is SortOrder.NEWEST_FIRST:
        keyed.reverse()
    return [e.id for e in keyed]


@pytest.mark.parametrize("sort", list(SortOrder))
async def test_500_entries_at_one_instant_page_seven_at_a_time(
    repository: EntryRepository, sort: SortOrder
) -> None:
    entries = [make_entry(id=new_id(), occurred_at=moment(0)) for _ in range(500)]
    entries.sort(key=scrambled)  # inserted in an order that is not the ids' order
    await repository.append_many(entries)

    pages = await page_through(repository, "t1", QuerySpec(sort=sort, limit=7))

    ids = [entry_id for page in pages for entry_id in page]
    assert ids == expected_order(entries, sort)
    assert len(pages) == 72  # 71 full pages and one of 3
    assert len(pages[-1]) == 3


@pytest.mark.parametrize("sort", list(SortOrder))
async def test_filtered_pages_over_mixed_times_cover_every_match_once(
    repository: EntryRepository, sort: SortOrder
) -> None:
    entries = [
        make_entry(occurred_at=moment(i // 4 * 10), tags=("even",) if i % 2 == 0 else ("odd",))
        for i in range(60)
    ]
    entries.sort(key=scrambled)
    await repository.append_many(entries)
    spec = QuerySpec(filters=EntryFilters(tag="even"), sort=sort, limit=4)

    pages = await page_through(repository, "t1", spec)

    ids = [entry_id for page in pages for entry_id in page]
    assert ids == expected_order([e for e in entries if "even" in e.tags], sort)


async def test_a_last_full_page_says_nothing_more(repository: EntryRepository) -> None:
    entries = [make_entry(occurred_at=moment(i)) for i in range(14)]
    await repository.append_many(entries)

    pages = await page_through(repository, "t1", QuerySpec(limit=7))

    assert [len(page) for page in pages] == [7, 7]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [(SortOrder.NEWEST_FIRST, ["b", "a"]), (SortOrder.OLDEST_FIRST, ["c", "d"])],
)
async def test_after_is_strict_even_for_a_position_no_entry_has(
    repository: EntryRepository, sort: SortOrder, expected: list[str]
) -> None:
    entries = {
        "a": make_entry(id="a", occurred_at=moment(0)),
        "b": make_entry(id="b", occurred_at=moment(10)),
        "c": make_entry(id="c", occurred_at=moment(10)),
        "d": make_entry(id="d", occurred_at=moment(20)),
    }
    await repository.append_many(list(entries.values()))
    between_b_and_c = Position(moment(10), "bb")

    page = await repository.query("t1", QuerySpec(sort=sort, after=between_b_and_c))

    assert [e.id for e in page.items] == expected


@pytest.mark.parametrize(
    ("sort", "expected"),
    [(SortOrder.NEWEST_FIRST, ["b", "a"]), (SortOrder.OLDEST_FIRST, ["d"])],
)
async def test_after_excludes_the_entry_at_the_position(
    repository: EntryRepository, sort: SortOrder, expected: list[str]
) -> None:
    for entry_id, millis in (("a", 0), ("b", 10), ("c", 10), ("d", 20)):
        await repository.append(make_entry(id=entry_id, occurred_at=moment(millis)))

    page = await repository.query("t1", QuerySpec(sort=sort, after=Position(moment(10), "c")))

    assert [e.id for e in page.items] == expected


async def test_paging_continues_past_an_entry_deleted_meanwhile(
    repository: EntryRepository,
) -> None:
    entries = [make_entry(occurred_at=moment(i)) for i in range(6)]
    await repository.append_many(entries)
    first = await repository.query("t1", QuerySpec(sort=SortOrder.OLDEST_FIRST, limit=3))
    last = first.items[-1]

    await repository.delete(tombstone(entries[2]))
    await repository.delete(tombstone(entries[3]))
    rest = await repository.query(
        "t1",
        QuerySpec(sort=SortOrder.OLDEST_FIRST, limit=3, after=Position(last.occurred_at, last.id)),
    )

    assert [e.id for e in rest.items] == [entries[4].id, entries[5].id]
    assert not rest.has_more


async def test_paging_after_a_position_far_in_the_past_or_future(
    repository: EntryRepository,
) -> None:
    entries = [make_entry(occurred_at=moment(i)) for i in range(3)]
    await repository.append_many(entries)
    future = Position(moment(0) + timedelta(days=365), "")
    past = Position(moment(0) - timedelta(days=365), "~")

    newest = await repository.query("t1", QuerySpec(after=future))
    oldest = await repository.query("t1", QuerySpec(sort=SortOrder.OLDEST_FIRST, after=past))
    none_newer = await repository.query("t1", QuerySpec(sort=SortOrder.OLDEST_FIRST, after=future))

    assert [e.id for e in newest.items] == [e.id for e in reversed(entries)]
    assert [e.id for e in oldest.items] == [e.id for e in entries]
    assert list(none_newer.items) == []
