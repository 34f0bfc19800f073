"""EntryRepository contract, as a property: any set of entries, any query, any page size
gives exactly what a plain-Python filter and sort of the current revisions gives."""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit_trail.core.model import Actor, Entry, Outcome, Target
from audit_trail.core.ports import EntryRepository
from audit_trail.core.query import EntryFilters, Position, QuerySpec, SortOrder
from tests.contracts.builders import amended, make_entry, moment, tombstone

ACTORS = [Actor(id="u1", type="user"), Actor(id="u2", type="user"), Actor(id="svc")]
ACTIONS = ["user.login", "user.logout", "user_x.login", "userXlogin", "doc.read", "doc", "x.user"]
PREFIXES = ["user", "user.", "user_", "u", "doc", "doc.", "%", "x", "user.login", "login"]
TAGS = ["a", "b", "c"]
TIMES = [moment(ms) for ms in (-1, 0, 1, 1000)]
TARGETS = [None, Target("doc", "d1"), Target("doc", "d2"), Target("folder", "d1")]

_tenants = itertools.count()


def some(values: list[Any]) -> st.SearchStrategy[Any]:
    return st.sampled_from(values)


fields_strategy = st.fixed_dictionaries(
    {
        "actor": some(ACTORS),
        "action": some(ACTIONS),
        "outcome": some(list(Outcome)),
        "target": some(TARGETS),
        "occurred_at": some(TIMES),
        "tags": st.lists(some(TAGS), max_size=3).map(tuple),
    }
)


@dataclass(frozen=True)
class Fate:
    """What happens to an entry after it is appended: nothing, amendments, or deletion."""

    amendments: list[dict[str, Any]]
    deleted: bool


fates = st.builds(Fate, amendments=st.lists(fields_strategy, max_size=2), deleted=st.booleans())

FILTER_VALUES: dict[str, list[Any]] = {
    "actor_id": ["u1", "u2", "svc", "nobody"],
    "actor_type": ["user", "service"],
    "action": ACTIONS,
    "action_prefix": PREFIXES,
    "target_type": ["doc", "folder"],
    "target_id": ["d1", "d2"],
    "outcome": list(Outcome),
    "tag": TAGS,
    "since": TIMES,
    "until": TIMES,
}


@st.composite
def filters_strategy(draw: st.DrawFn) -> EntryFilters:
    """Up to three filters at once, so that most queries match something."""
    names = draw(st.sets(st.sampled_from(sorted(FILTER_VALUES)), max_size=3))
    return EntryFilters(**{name: draw(some(FILTER_VALUES[name])) for name in names})


def reference_matches(entry: Entry, f: EntryFilters) -> bool:
    """The query semantics, written out independently of every adapter."""
    target_type = entry.target.type if entry.target else None
    target_id = entry.target.id if entry.target else None
    if f.actor_id is not None and f.actor_id != entry.actor.id:
        return False
    if f.actor_type is not None and f.actor_type != entry.actor.type:
        return False
    if f.action is not None and f.action != entry.action:
        return False
    if f.action_prefix is not None and entry.action[: len(f.action_prefix)] != f.action_prefix:
        return False
    if f.target_type is not None and f.target_type != target_type:
        return False
    if f.target_id is not None and f.target_id != target_id:
        return False
    if f.outcome is not None and f.outcome != entry.outcome:
        return False
    if f.tag is not None and f.tag not in entry.tags:
        return False
    if f.since is not None and entry.occurred_at < f.since:
        return False
    return f.until is None or entry.occurred_at <= f.until


def reference_query(current: list[Entry], filters: EntryFilters, sort: SortOrder) -> list[str]:
    matching = [e for e in current if not e.deleted and reference_matches(e, filters)]
    matching.sort(key=lambda e: (e.occurred_at, e.id), reverse=sort is SortOrder.NEWEST_FIRST)
    return [e.id for e in matching]


async def write(
    repository: EntryRepository, tenant: str, items: list[tuple[dict[str, Any], Fate]]
) -> list[Entry]:
    """Append the entries in one batch, then apply their fates; the current revisions.

    Ids are hashes, so their order has nothing to do with the order of insertion."""
    entries = [
        make_entry(tenant, id=hashlib.sha256(f"{tenant}/{i}".encode()).hexdigest()[:20], **fields)
        for i, (fields, _) in enumerate(items)
    ]
    await repository.append_many(entries)
    current = []
    for first, (_, fate) in zip(entries, items, strict=True):
        latest = first
        for changes in fate.amendments:
            latest = amended(latest, **changes)
            await repository.amend(latest)
        if fate.deleted:
            latest = tombstone(latest)
            await repository.delete(latest)
        current.append(latest)
    return current


Query = tuple[EntryFilters, SortOrder, int]

queries_strategy = st.tuples(
    filters_strategy(), some(list(SortOrder)), st.integers(min_value=1, max_value=8)
)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    items=st.lists(st.tuples(fields_strategy, fates), min_size=3, max_size=25),
    queries=st.lists(queries_strategy, min_size=1, max_size=8),
)
async def test_queries_and_their_pages_agree_with_a_reference(
    repository: EntryRepository,
    items: list[tuple[dict[str, Any], Fate]],
    queries: list[Query],
) -> None:
    tenant = f"prop-{next(_tenants)}"  # hypothesis reuses the repository across examples
    current = await write(repository, tenant, items)
    by_id = {e.id: e for e in current}

    for filters, sort, limit in queries:
        expected = reference_query(current, filters, sort)

        first = await repository.query(tenant, QuerySpec(filters, sort, limit))
        assert [e.id for e in first.items] == expected[:limit]
        assert first.has_more == (len(expected) > limit)
        assert all(e == by_id[e.id] for e in first.items)

        assert await page_through(repository, tenant, QuerySpec(filters, sort, limit)) == expected


async def page_through(repository: EntryRepository, tenant: str, spec: QuerySpec) -> list[str]:
    """Every id of every page, each page starting after the last entry of the one before."""
    seen: list[str] = []
    for _ in range(100):  # more pages than any example has: an adapter that repeats stops
        page = await repository.query(tenant, spec)
        seen.extend(e.id for e in page.items)
        if not page.has_more:
            break
        last = page.items[-1]
        spec = QuerySpec(spec.filters, spec.sort, spec.limit, Position(last.occurred_at, last.id))
    return seen
