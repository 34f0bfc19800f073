"""MongoDB filters, sorts and indexes for entry queries, built only from a QuerySpec.

Every value in a filter comes from the validated spec and sits under an operator this
module chose (``$eq``, ``$gte``, ``$lt``...), so a value is always compared as data:
the string ``'{"$gt": ""}'`` matches only an actor whose id is exactly that text.
An action prefix is a range on the indexed ``action`` field, never a regex.

Every query index is led by the tenant, ends with ``(occurred_at, id)`` so that a
filtered query pages in index order, and is partial on ``live: true``: only the
current revision of an entry that is not deleted is in them. One more index, unique
on ``(tenant, log_index)``, sequences each tenant's log (``mongo_log``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel

from audit_trail.adapters.storage.mongo_documents import LOG_INDEX, PAGE_PROJECTION
from audit_trail.core.query import EntryFilters, Position, QuerySpec, SortOrder

LIVE = {"live": True}

# name -> the field between the tenant and (occurred_at, id): one index per filter, so
# each filter alone is an equality prefix that pages in index order
_INDEXED_FILTERS: dict[str, tuple[str, ...]] = {
    "tenant_occurred_at": (),
    "tenant_actor_id": ("actor_id",),
    "tenant_actor_type": ("actor_type",),
    "tenant_action": ("action",),
    "tenant_target_type": ("target_type",),
    "tenant_target_id": ("target_id",),  # with target_type too: the ids are the selective part
    "tenant_outcome": ("outcome",),
    "tenant_tags": ("tags",),
}

QUERY_INDEXES = [
    IndexModel(
        [
            ("tenant", ASCENDING),
            *((name, ASCENDING) for name in fields),
            ("occurred_at", ASCENDING),
            ("id", ASCENDING),
        ],
        name=index_name,
        partialFilterExpression=LIVE,
    )
    for index_name, fields in _INDEXED_FILTERS.items()
]
# one leaf per position of a tenant's log; partial, so that documents written without
# a position (a benchmark's raw inserts) are not all the same key
LOG_INDEX_NAME = "tenant_log_index"
SEQUENCE_INDEX = IndexModel(
    [("tenant", ASCENDING), (LOG_INDEX, ASCENDING)],
    name=LOG_INDEX_NAME,
    unique=True,
    partialFilterExpression={LOG_INDEX: {"$exists": True}},
)
INDEXES = [*QUERY_INDEXES, SEQUENCE_INDEX]

# spec field -> document field, for the filters that match one value exactly
_EQUALITY_FILTERS = {
    "actor_id": "actor_id",
    "actor_type": "actor_type",
    "action": "action",
    "target_type": "target_type",
    "target_id": "target_id",
    "tag": "tags",  # $eq on an array matches an element
}


@dataclass(frozen=True, slots=True)
class FindArguments:
    """What ``collection.find`` is called with for one query (``find(**as_kwargs())``)."""

    filter: dict[str, Any]
    sort: list[tuple[str, int]]
    limit: int
    projection: dict[str, int] = field(default_factory=lambda: dict(PAGE_PROJECTION))

    def as_kwargs(self) -> dict[str, Any]:
        return {
            "filter": self.filter,
            "projection": self.projection,
            "sort": self.sort,
            "limit": self.limit,
        }


def find_arguments(tenant: str, spec: QuerySpec) -> FindArguments:
    """The find of ``spec`` in ``tenant``: one entry more than the page, to tell
    whether another page follows."""
    newest_first = spec.sort is SortOrder.NEWEST_FIRST
    direction = DESCENDING if newest_first else ASCENDING
    return FindArguments(
        filter=build_filter(tenant, spec.filters, spec.after, newest_first=newest_first),
        sort=[("occurred_at", direction), ("id", direction)],
        limit=spec.limit + 1,
    )


def build_filter(
    tenant: str, filters: EntryFilters, after: Position | None, *, newest_first: bool
) -> dict[str, Any]:
    query: dict[str, Any] = {"tenant": {"$eq": tenant}, **LIVE}

    def condition(document_field: str) -> dict[str, Any]:
        conditions: dict[str, Any] = query.setdefault(document_field, {})
        return conditions

    for spec_field, document_field in _EQUALITY_FILTERS.items():
        value = getattr(filters, spec_field)
        if value is not None:
            condition(document_field)["$eq"] = str(value)
    if filters.outcome is not None:
        condition("outcome")["$eq"] = filters.outcome.value
    if filters.action_prefix is not None:  # with an exact action too, both must hold
        condition("action").update(prefix_range(filters.action_prefix))
    earliest, latest = filters.since, filters.until
    if after is not None:
        # (occurred_at, id) beyond the position: bound occurred_at so the index scan
        # starts there, then leave out the position itself and what precedes it
        if newest_first:
            latest = _earlier(latest, after.occurred_at)
            query["$or"] = [
                {"occurred_at": {"$lt": after.occurred_at}},
                {"id": {"$lt": after.id}},
            ]
        else:
            earliest = _later(earliest, after.occurred_at)
            query["$or"] = [
                {"occurred_at": {"$gt": after.occurred_at}},
                {"id": {"$gt": after.id}},
            ]
    occurred_at: dict[str, datetime] = {}
    if earliest is not None:
        occurred_at["$gte"] = earliest
    if latest is not None:
        occurred_at["$lte"] = latest
    if occurred_at:
        query["occurred_at"] = occurred_at
    return query


def prefix_range(prefix: str) -> dict[str, str]:
    """Strings that start with ``prefix``: from the prefix itself up to, not including,
    the prefix with its last character moved one code point on. MongoDB compares
    strings by their UTF-8 bytes, which order like code points."""
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return {"$gte": prefix, "$lt": upper}


def _earlier(bound: datetime | None, moment: datetime) -> datetime:
    return moment if bound is None else min(bound, moment)


def _later(bound: datetime | None, moment: datetime) -> datetime:
    return moment if bound is None else max(bound, moment)
