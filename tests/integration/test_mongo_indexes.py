"""Every query MongoEntryRepository issues is answered from an index, in index order.

10,000 entries are loaded once; each test runs ``explain()`` on exactly the ``find``
the adapter issues for a spec (``MongoEntryRepository.find_arguments``) and walks
the winning plan: an IXSCAN of an index that holds the filtered field, no COLLSCAN,
and (except for an action prefix, a range) no in-memory SORT.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from pymongo.asynchronous.database import AsyncDatabase

from audit_trail.adapters.storage.mongo import MongoEntryRepository
from audit_trail.adapters.storage.mongo_documents import ENTRIES_COLLECTION
from audit_trail.core.model import Actor, Entry, Outcome, Target
from audit_trail.core.query import EntryFilters, Position, QuerySpec, SortOrder
from tests.contracts.builders import make_entry, moment
from tests.mongo import pymongo_database
from tests.servers import MongodServer

pytestmark = pytest.mark.asyncio(loop_scope="module")

ENTRIES = 10_000
TENANT = "acme"
OUTCOMES = list(Outcome)


@dataclass(frozen=True)
class Loaded:
    repository: MongoEntryRepository
    database: AsyncDatabase[dict[str, Any]]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def loaded(mongod_server: MongodServer) -> AsyncIterator[Loaded]:
    """10,000 entries: nine in ten in tenant ``acme``, the rest spread over nine others;
    500 actors of 3 types, 200 actions, 2,000 targets of 4 types, 5 outcomes, 20 tags,
    one entry a minute."""
    async with pymongo_database(mongod_server.uri) as database:
        repository = await MongoEntryRepository.open(database)
        entries = [
            make_entry(
                TENANT if i % 10 else f"other-{i % 9}",
                action=f"svc{i % 20}.op{i // 20 % 10}",
                actor=Actor(id=f"u-{i % 500}", type=("user", "service", "system")[i % 3]),
                target=Target(
                    type=("document", "folder", "user", "key")[i % 4], id=f"d-{i % 2000}"
                ),
                outcome=OUTCOMES[i % 5],
                tags=(f"tag-{i % 20}", f"tag-{(i + 7) % 20}"),
                occurred_at=moment(i * 60_000),
            )
            for i in range(ENTRIES)
        ]
        by_tenant: dict[str, list[Entry]] = {}
        for entry in entries:
            by_tenant.setdefault(entry.tenant, []).append(entry)
        for batch in by_tenant.values():  # a batch belongs to one tenant
            for start in range(0, len(batch), 1000):
                await repository.append_many(batch[start : start + 1000])
        yield Loaded(repository, database)


def plan_stages(node: Any) -> Iterator[dict[str, Any]]:
    """Every stage of a plan tree (classic or slot-based ``queryPlan``), depth first."""
    if isinstance(node, dict):
        if "stage" in node:
            yield node
        for value in node.values():
            yield from plan_stages(value)
    elif isinstance(node, list):
        for item in node:
            yield from plan_stages(item)


async def winning_plan(loaded: Loaded, spec: QuerySpec) -> list[dict[str, Any]]:
    arguments = loaded.repository.find_arguments(TENANT, spec)
    cursor = loaded.database[ENTRIES_COLLECTION].find(**arguments.as_kwargs())
    explained = await cursor.explain()
    return list(plan_stages(explained["queryPlanner"]["winningPlan"]))


def assert_index_scan(stages: list[dict[str, Any]], field: str, *, sorted_by_index: bool) -> None:
    names = [stage["stage"] for stage in stages]
    assert "COLLSCAN" not in names, names
    scanned = [stage["keyPattern"] for stage in stages if stage["stage"] == "IXSCAN"]
    assert scanned, names
    assert all(next(iter(key)) == "tenant" for key in scanned), scanned
    assert any(field in key for key in scanned), scanned
    if sorted_by_index:
        assert "SORT" not in names, names


SINCE = moment(1000 * 60_000)
UNTIL = moment(1100 * 60_000)

# name -> (filters, a field the chosen index must hold, whether the index gives the order)
CASES: dict[str, tuple[EntryFilters, str, bool]] = {
    "no filter": (EntryFilters(), "occurred_at", True),
    "actor_id": (EntryFilters(actor_id="u-42"), "actor_id", True),
    "actor_type": (EntryFilters(actor_type="service"), "actor_type", True),
    "action": (EntryFilters(action="svc3.op4"), "action", True),
    "action prefix": (EntryFilters(action_prefix="svc13.op"), "action", False),
    "target_type": (EntryFilters(target_type="key"), "target_type", True),
    "target_id": (EntryFilters(target_id="d-77"), "target_id", True),
    "target": (EntryFilters(target_type="folder", target_id="d-1"), "target_id", True),
    "outcome": (EntryFilters(outcome=Outcome.DENIED), "outcome", True),
    "tag": (EntryFilters(tag="tag-3"), "tags", True),
    "since": (EntryFilters(since=moment((ENTRIES - 100) * 60_000)), "occurred_at", True),
    "until": (EntryFilters(until=moment(100 * 60_000)), "occurred_at", True),
    "since and until": (EntryFilters(since=SINCE, until=UNTIL), "occurred_at", True),
}


@pytest.mark.parametrize("sort", list(SortOrder))
@pytest.mark.parametrize("case", list(CASES))
async def test_each_filter_is_answered_from_an_index(
    loaded: Loaded, case: str, sort: SortOrder
) -> None:
    filters, field, sorted_by_index = CASES[case]

    stages = await winning_plan(loaded, QuerySpec(filters=filters, sort=sort))

    assert_index_scan(stages, field, sorted_by_index=sorted_by_index)


@pytest.mark.parametrize("sort", list(SortOrder))
@pytest.mark.parametrize("case", ["no filter", "actor_id", "tag", "since and until"])
async def test_a_cursor_page_is_answered_from_an_index(
    loaded: Loaded, case: str, sort: SortOrder
) -> None:
    filters, field, _ = CASES[case]
    first = await loaded.repository.query(TENANT, QuerySpec(filters=filters, sort=sort, limit=5))
    assert first.has_more
    last = first.items[-1]
    spec = QuerySpec(filters, sort, 5, Position(last.occurred_at, last.id))

    stages = await winning_plan(loaded, spec)

    assert_index_scan(stages, field, sorted_by_index=True)


async def test_the_loaded_tenant_holds_nine_in_ten_entries(loaded: Loaded) -> None:
    count = await loaded.database[ENTRIES_COLLECTION].count_documents({"tenant": TENANT})

    assert count == ENTRIES * 9 // 10
