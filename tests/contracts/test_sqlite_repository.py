"""SqliteEntryRepository beyond the contract: durability across reopen, sharing the
file, failures mapped to the port's errors, and queries that stay on the indexes."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from audit_trail.adapters.storage.sqlite import SqliteEntryRepository
from audit_trail.adapters.storage.sqlite_query import build_query, prefix_upper_bound
from audit_trail.adapters.storage.sqlite_schema import SCHEMA_VERSION
from audit_trail.core.errors import StorageUnavailable
from audit_trail.core.model import Outcome
from audit_trail.core.query import EntryFilters, Position, QuerySpec, SortOrder
from tests.contracts.builders import amended, make_entry, moment, tombstone


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "audit.db"


@pytest.fixture
async def sqlite_repository(database: Path) -> AsyncIterator[SqliteEntryRepository]:
    async with await SqliteEntryRepository.open(database) as repository:
        yield repository


async def test_everything_survives_close_and_reopen(database: Path) -> None:
    kept, changed, gone = make_entry(), make_entry(tags=("old",)), make_entry()
    async with await SqliteEntryRepository.open(database) as repository:
        await repository.append_many([kept, changed, gone])
        second = amended(changed, tags=("new",))
        await repository.amend(second)
        await repository.delete(tombstone(gone))

    async with await SqliteEntryRepository.open(database) as reopened:
        assert await reopened.get("t1", kept.id) == kept
        assert await reopened.get("t1", changed.id) == second
        assert await reopened.get("t1", gone.id) is None
        assert list(await reopened.history("t1", changed.id)) == [changed, second]
        assert len(await reopened.history("t1", gone.id)) == 2
        by_tag = await reopened.query("t1", QuerySpec(EntryFilters(tag="new")))
        assert by_tag.items == [second]
        everything = await reopened.query("t1", QuerySpec())
        assert sorted(e.id for e in everything.items) == sorted([kept.id, changed.id])


async def test_two_repositories_on_one_file_see_each_others_writes(database: Path) -> None:
    async with (
        await SqliteEntryRepository.open(database) as first,
        await SqliteEntryRepository.open(database) as second,
    ):
        entry = make_entry()
        await first.append(entry)
        assert await second.get("t1", entry.id) == entry
        await second.amend(amended(entry, action="a.b"))
        current = await first.get("t1", entry.id)
        assert current is not None
        assert current.action == "a.b"


async def test_the_file_is_in_wal_mode_with_the_current_schema(
    sqlite_repository: SqliteEntryRepository, database: Path
) -> None:
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


async def test_close_can_be_called_twice(database: Path) -> None:
    repository = await SqliteEntryRepository.open(database)

    await repository.close()
    await repository.close()


async def test_a_database_locked_by_another_process_is_storage_unavailable(
    database: Path,
) -> None:
    async with await SqliteEntryRepository.open(database, busy_timeout_ms=50) as repository:
        other = sqlite3.connect(database, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            with pytest.raises(StorageUnavailable):
                await repository.append(make_entry())
            other.execute("ROLLBACK")
        finally:
            other.close()

        entry = make_entry()
        await repository.append(entry)  # the lock is gone, and so is the failed write
        page = await repository.query("t1", QuerySpec())
        assert page.items == [entry]


async def test_a_file_that_cannot_be_opened_is_storage_unavailable(tmp_path: Path) -> None:
    with pytest.raises(StorageUnavailable):
        await SqliteEntryRepository.open(tmp_path / "missing-folder" / "audit.db")


async def test_prefixes_at_the_end_of_unicode_still_match(
    sqlite_repository: SqliteEntryRepository,
) -> None:
    edge = make_entry(action="a\U0010ffff")
    beyond = make_entry(action="b")
    before_surrogates = make_entry(action="a\ud7ffz")
    await sqlite_repository.append_many([edge, beyond, before_surrogates])

    top = await sqlite_repository.query("t1", QuerySpec(EntryFilters(action_prefix="a\U0010ffff")))
    last_bmp = await sqlite_repository.query("t1", QuerySpec(EntryFilters(action_prefix="a\ud7ff")))

    assert [e.id for e in top.items] == [edge.id]
    assert [e.id for e in last_bmp.items] == [before_surrogates.id]


@pytest.mark.parametrize(
    ("prefix", "bound"),
    [
        ("user.", "user/"),
        ("a_", "a`"),
        ("a%", "a&"),
        ("é", "ê"),
        ("a\U0010ffff", "b"),
        ("\U0010ffff\U0010ffff", None),
        ("a\ud7ff", "a\ue000"),
        ("", None),
    ],
)
def test_prefix_upper_bound(prefix: str, bound: str | None) -> None:
    assert prefix_upper_bound(prefix) == bound


INDEXED_FILTERS = {
    "none": (EntryFilters(), "revisions_by_time"),
    "actor_id": (EntryFilters(actor_id="u"), "revisions_by_actor_id"),
    "actor_type": (EntryFilters(actor_type="user"), "revisions_by_actor_type"),
    "action": (EntryFilters(action="a.b"), "revisions_by_action"),
    "action_prefix": (EntryFilters(action_prefix="a."), None),
    "target_type": (EntryFilters(target_type="doc"), None),
    "target_id": (EntryFilters(target_id="d"), "revisions_by_target_id"),
    "target": (EntryFilters(target_type="doc", target_id="d"), "revisions_by_target"),
    "outcome": (EntryFilters(outcome=Outcome.DENIED), "revisions_by_outcome"),
    "tag": (EntryFilters(tag="ui"), "PRIMARY KEY"),
    "since_until": (EntryFilters(since=moment(0), until=moment(9)), "revisions_by_time"),
}


@pytest.mark.parametrize("sort", list(SortOrder))
@pytest.mark.parametrize("name", sorted(INDEXED_FILTERS))
async def test_every_filter_searches_an_index_led_by_the_tenant(
    sqlite_repository: SqliteEntryRepository, database: Path, name: str, sort: SortOrder
) -> None:
    filters, index = INDEXED_FILTERS[name]
    sql, params = build_query("t1", QuerySpec(filters, sort, 50, Position(moment(5), "x")))

    with sqlite3.connect(database) as db:
        plan = [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", params)]

    assert all(step.startswith("SEARCH") and "(tenant=?" in step for step in plan), plan
    assert not any("TEMP B-TREE" in step for step in plan) or filters.action_prefix, plan
    if index is not None:
        assert index in plan[0], plan
