"""InMemoryEntryRepository: the EntryRepository for tests and demos, kept in a dict.

Every method runs to completion without awaiting anything, so concurrent asyncio
tasks never see a half-done change. Entries are copied on the way in and on the
way out (metadata through JSON, as a real store would), so callers cannot change
what is stored.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from audit_trail.core.errors import DuplicateEntry, EntryNotFound, RevisionConflict
from audit_trail.core.model import Entry
from audit_trail.core.ports import EntryPage
from audit_trail.core.query import EntryFilters, QuerySpec, SortOrder

_Key = tuple[str, str]  # (tenant, id)


class InMemoryEntryRepository:
    def __init__(self) -> None:
        self._revisions: dict[_Key, list[Entry]] = {}
        self._ids: set[str] = set()

    async def append(self, entry: Entry) -> None:
        await self.append_many([entry])

    async def append_many(self, entries: Sequence[Entry]) -> None:
        seen: set[str] = set()
        for entry in entries:
            if entry.id in self._ids or entry.id in seen:  # ids are unique across tenants
                raise DuplicateEntry(entry.id)
            seen.add(entry.id)
        for entry in entries:
            self._revisions[(entry.tenant, entry.id)] = [_copy(entry)]
        self._ids |= seen

    async def get(self, tenant: str, entry_id: str) -> Entry | None:
        current = self._current(tenant, entry_id)
        return None if current is None or current.deleted else _copy(current)

    async def query(self, tenant: str, spec: QuerySpec) -> EntryPage:
        newest_first = spec.sort is SortOrder.NEWEST_FIRST
        found = [
            revisions[-1]
            for (entry_tenant, _), revisions in self._revisions.items()
            if entry_tenant == tenant
            and not revisions[-1].deleted
            and _matches(revisions[-1], spec.filters)
        ]
        found.sort(key=lambda e: (e.occurred_at, e.id), reverse=newest_first)
        if spec.after is not None:
            after = (spec.after.occurred_at, spec.after.id)
            found = [e for e in found if _beyond((e.occurred_at, e.id), after, newest_first)]
        page = found[: spec.limit]
        return EntryPage(items=[_copy(e) for e in page], has_more=len(found) > spec.limit)

    async def amend(self, revision: Entry) -> None:
        self._store_next(revision)

    async def delete(self, tombstone: Entry) -> None:
        self._store_next(tombstone)

    async def history(self, tenant: str, entry_id: str) -> Sequence[Entry]:
        return [_copy(e) for e in self._revisions.get((tenant, entry_id), [])]

    def _current(self, tenant: str, entry_id: str) -> Entry | None:
        revisions = self._revisions.get((tenant, entry_id))
        return revisions[-1] if revisions else None

    def _store_next(self, revision: Entry) -> None:
        current = self._current(revision.tenant, revision.id)
        if current is None or current.deleted:
            raise EntryNotFound(revision.id)
        if revision.revision != current.revision + 1:
            raise RevisionConflict(revision.id, revision.revision - 1, current.revision)
        self._revisions[(revision.tenant, revision.id)].append(_copy(revision))


def _beyond(
    position: tuple[datetime, str], after: tuple[datetime, str], newest_first: bool
) -> bool:
    return position < after if newest_first else position > after


def _matches(entry: Entry, filters: EntryFilters) -> bool:
    target = entry.target
    checks = (
        filters.actor_id is None or entry.actor.id == filters.actor_id,
        filters.actor_type is None or entry.actor.type == filters.actor_type,
        filters.action is None or entry.action == filters.action,
        filters.action_prefix is None or entry.action.startswith(filters.action_prefix),
        filters.target_type is None or (target is not None and target.type == filters.target_type),
        filters.target_id is None or (target is not None and target.id == filters.target_id),
        filters.outcome is None or entry.outcome == filters.outcome,
        filters.tag is None or filters.tag in entry.tags,
        filters.since is None or entry.occurred_at >= filters.since,
        filters.until is None or entry.occurred_at <= filters.until,
    )
    return all(checks)


def _copy(entry: Entry) -> Entry:
    return replace(entry, tags=tuple(entry.tags), metadata=json.loads(json.dumps(entry.metadata)))
