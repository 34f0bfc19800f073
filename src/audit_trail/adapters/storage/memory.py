"""InMemoryEntryRepository: the EntryRepository and TenantLog for tests and demos.

Every method runs to completion without awaiting anything, so concurrent asyncio
tasks never see a half-done change. Entries are copied on the way in and on the
way out (metadata through JSON, as a real store would), so callers cannot change
what is stored. Each tenant's log keeps its leaves, the hash of every complete
subtree and its right edge (a compact range), as the durable stores do.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from audit_trail.adapters.storage.changes import SingleChangeWrites, check_groups
from audit_trail.adapters.storage.memory_holds import InMemoryLegalHolds
from audit_trail.adapters.storage.memory_idempotency import InMemoryIdempotencyStore
from audit_trail.adapters.storage.memory_index import InMemoryQueryIndex
from audit_trail.adapters.storage.memory_retention import InMemoryRetentionStore
from audit_trail.adapters.storage.memory_sinks import InMemorySinkCursors
from audit_trail.adapters.storage.memory_webhooks import InMemoryWebhookStore
from audit_trail.core.errors import DomainError, DuplicateEntry, EntryNotFound, RevisionConflict
from audit_trail.core.integrity.merkle import CompactRange
from audit_trail.core.model import Entry
from audit_trail.core.ports import EntryPage
from audit_trail.core.ports.index import LoggedChange
from audit_trail.core.ports.log import LogRecord, NodeId, StoredCheckpoint, StoredLeaf
from audit_trail.core.query import QuerySpec, SortOrder

_Key = tuple[str, str]  # (tenant, id)


@dataclass(slots=True)
class _Log:
    leaves: list[bytes] = field(default_factory=list)
    nodes: dict[NodeId, bytes] = field(default_factory=dict)
    edge: CompactRange = field(default_factory=CompactRange.empty)
    positions: dict[tuple[str, int], int] = field(default_factory=dict)  # (id, revision)
    revisions: dict[int, tuple[str, int]] = field(default_factory=dict)  # index: (id, revision)
    checkpoints: dict[int, str] = field(default_factory=dict)


class InMemoryEntryRepository(SingleChangeWrites):
    def __init__(self) -> None:
        self._revisions: dict[_Key, list[Entry]] = {}
        self._ids: set[str] = set()
        self._logs: dict[str, _Log] = {}
        self._index: InMemoryQueryIndex | None = None
        self._idempotency = InMemoryIdempotencyStore()
        self._holds = InMemoryLegalHolds()
        self._webhooks = InMemoryWebhookStore()
        self._sink_cursors = InMemorySinkCursors()
        self._retention = InMemoryRetentionStore(self._revisions, self._logs, self._holds)

    async def commit(
        self, tenant: str, groups: Sequence[Sequence[LogRecord]]
    ) -> list[int | DomainError]:
        check_groups(tenant, groups)
        log = self._logs.setdefault(tenant, _Log())
        results: list[int | DomainError] = []
        for group in groups:
            refusal = self._refusal(tenant, group)
            if refusal is not None:
                results.append(refusal)
                continue
            results.append(len(log.leaves))
            for record in group:
                self._append_leaf(log, record)
        return results

    def _refusal(self, tenant: str, group: Sequence[LogRecord]) -> DomainError | None:
        """Why the group cannot be stored as a whole, or None."""
        latest: dict[str, Entry | None] = {}
        for record in group:
            revision = record.revision
            if revision is None:
                continue
            if revision.id in latest:
                current = latest[revision.id]
            else:
                current = self._current(tenant, revision.id)
            if revision.revision == 1:
                if current is not None or revision.id in self._ids:
                    return DuplicateEntry(revision.id)  # ids are unique across tenants
            elif current is None or current.deleted:
                return EntryNotFound(revision.id)
            elif revision.revision != current.revision + 1:
                return RevisionConflict(revision.id, revision.revision - 1, current.revision)
            latest[revision.id] = revision
        return None

    def _append_leaf(self, log: _Log, record: LogRecord) -> None:
        index = len(log.leaves)
        log.leaves.append(record.leaf)
        log.nodes[(0, index)] = record.leaf_hash
        log.nodes.update(log.edge.append([record.leaf_hash]))
        revision = record.revision
        if revision is None:
            return
        log.positions[(revision.id, revision.revision)] = index
        log.revisions[index] = (revision.id, revision.revision)
        if revision.revision == 1:
            self._ids.add(revision.id)
            self._revisions[(revision.tenant, revision.id)] = [_copy(revision)]
        else:
            self._revisions[(revision.tenant, revision.id)].append(_copy(revision))

    async def size(self, tenant: str) -> int:
        log = self._logs.get(tenant)
        return 0 if log is None else len(log.leaves)

    async def node_hashes(self, tenant: str, nodes: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        log = self._logs.get(tenant)
        if log is None:
            return {}
        return {node: log.nodes[node] for node in nodes if node in log.nodes}

    async def leaves(self, tenant: str, start: int, end: int) -> Sequence[StoredLeaf]:
        log = self._logs.get(tenant)
        if log is None:
            return []
        start = max(start, 0)
        return [StoredLeaf(i, log.leaves[i]) for i in range(start, min(end, len(log.leaves)))]

    def query_index(self) -> InMemoryQueryIndex:
        """The query index of these tenant logs (one per repository)."""
        if self._index is None:
            self._index = InMemoryQueryIndex(self)
        return self._index

    def idempotency(self) -> InMemoryIdempotencyStore:
        """The Idempotency-Key records of this repository."""
        return self._idempotency

    def webhooks(self) -> InMemoryWebhookStore:
        """The webhook subscriptions of this repository."""
        return self._webhooks

    def sink_cursors(self) -> InMemorySinkCursors:
        """The sinks' cursors of this repository."""
        return self._sink_cursors

    def legal_holds(self) -> InMemoryLegalHolds:
        """The legal holds of this repository."""
        return self._holds

    def retention(self) -> InMemoryRetentionStore:
        """The retention settings and purges of this repository."""
        return self._retention

    def changes(self, tenant: str, start: int, end: int) -> list[LoggedChange]:
        """The leaves ``start <= index < end`` as changes (for ``InMemoryQueryIndex``)."""
        log = self._logs.get(tenant)
        if log is None:
            return []
        changes: list[LoggedChange] = []
        for index in range(max(start, 0), min(end, len(log.leaves))):
            stored = log.revisions.get(index)
            if stored is None:
                changes.append(LoggedChange(index, log.nodes[(0, index)]))
                continue
            revisions = self._revisions[(tenant, stored[0])]
            revision = revisions[stored[1] - 1]
            previous = revisions[stored[1] - 2] if stored[1] > 1 else None
            changes.append(LoggedChange(index, log.nodes[(0, index)], revision, previous))
        return changes

    async def leaf_index(self, tenant: str, entry_id: str, revision: int) -> int | None:
        log = self._logs.get(tenant)
        return None if log is None else log.positions.get((entry_id, revision))

    async def leaf_indices(
        self, tenant: str, revisions: Collection[tuple[str, int]]
    ) -> Mapping[tuple[str, int], int]:
        log = self._logs.get(tenant)
        if log is None:
            return {}
        return {pair: log.positions[pair] for pair in revisions if pair in log.positions}

    async def save_checkpoint(self, tenant: str, checkpoint: StoredCheckpoint) -> None:
        self._logs.setdefault(tenant, _Log()).checkpoints[checkpoint.size] = checkpoint.note

    async def latest_checkpoint(self, tenant: str) -> StoredCheckpoint | None:
        log = self._logs.get(tenant)
        if log is None or not log.checkpoints:
            return None
        size = max(log.checkpoints)
        return StoredCheckpoint(size, log.checkpoints[size])

    async def checkpoint_at(self, tenant: str, size: int) -> StoredCheckpoint | None:
        log = self._logs.get(tenant)
        note = None if log is None else log.checkpoints.get(size)
        return None if note is None else StoredCheckpoint(size, note)

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
            and spec.filters.matches(revisions[-1])
        ]
        found.sort(key=lambda e: (e.occurred_at, e.id), reverse=newest_first)
        if spec.after is not None:
            after = (spec.after.occurred_at, spec.after.id)
            found = [e for e in found if _beyond((e.occurred_at, e.id), after, newest_first)]
        page = found[: spec.limit]
        return EntryPage(items=[_copy(e) for e in page], has_more=len(found) > spec.limit)

    async def history(
        self, tenant: str, entry_id: str, *, after: int = 0, limit: int | None = None
    ) -> Sequence[Entry]:
        revisions = [e for e in self._revisions.get((tenant, entry_id), []) if e.revision > after]
        return [_copy(e) for e in revisions[:limit]]

    async def revision(
        self, tenant: str, entry_id: str, revision: int | None = None
    ) -> Entry | None:
        revisions = self._revisions.get((tenant, entry_id), [])
        found = [e for e in revisions if revision is None or e.revision == revision]
        return _copy(found[-1]) if found else None

    async def revisions(
        self, tenant: str, wanted: Sequence[tuple[str, int]]
    ) -> Mapping[tuple[str, int], Entry]:
        found = {}
        for entry_id, number in wanted:
            for held in self._revisions.get((tenant, entry_id), []):
                if held.revision == number:
                    found[entry_id, number] = _copy(held)
        return found

    async def rewrite(self, revisions: Sequence[Entry]) -> None:
        for revision in revisions:
            stored = self._revisions.get((revision.tenant, revision.id), [])
            for position, held in enumerate(stored):
                if held.revision == revision.revision:
                    stored[position] = _copy(revision)

    def _current(self, tenant: str, entry_id: str) -> Entry | None:
        revisions = self._revisions.get((tenant, entry_id))
        return revisions[-1] if revisions else None


def _beyond(
    position: tuple[datetime, str], after: tuple[datetime, str], newest_first: bool
) -> bool:
    return position < after if newest_first else position > after


def _copy(entry: Entry) -> Entry:
    return replace(entry, tags=tuple(entry.tags), metadata=json.loads(json.dumps(entry.metadata)))
