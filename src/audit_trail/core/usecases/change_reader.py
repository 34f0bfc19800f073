"""The tenant log read as changes: what a reader may see of each leaf in a range
(the change stream's and the webhooks' one source, docs/streaming.md)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from audit_trail.core.integrity.erasure import ERASE_KIND
from audit_trail.core.integrity.leaf import LeafKind
from audit_trail.core.model import Entry
from audit_trail.core.ports import EntryProcessor, EntryRepository
from audit_trail.core.ports.log import TenantLog
from audit_trail.core.principal import Principal
from audit_trail.core.query import EntryFilters
from audit_trail.core.retention.purge_leaf import PURGE_KIND
from audit_trail.core.serialization import entry_to_json

REVISION_KINDS = frozenset(kind.value for kind in LeafKind)


@dataclass(frozen=True, slots=True)
class Change:
    """One change: its log index, its leaf kind and what the caller may see of it
    (the revision, or for an erasure or a purge its leaf)."""

    index: int
    kind: str
    data: Mapping[str, Any]


class ChangeReader:
    def __init__(self, repository: EntryRepository, log: TenantLog, processor: EntryProcessor):
        self._repository = repository
        self._log = log
        self._processor = processor

    async def size(self, tenant: str) -> int:
        return await self._log.size(tenant)

    async def changes(
        self, reader: Principal, filters: EntryFilters, start: int, end: int
    ) -> Sequence[Change]:
        """The changes of the leaves ``start`` to ``end`` (exclusive) of the reader's
        tenant that ``filters`` match, in log order, as ``reader`` may see them.
        Index leaves are not changes; a purge leaf matches every filter (its ids carry
        no values to match), but a restricted reader gets none: it may see only the
        revisions its restriction allows."""
        narrowed = reader.restriction.narrow(filters)
        if narrowed is None:
            return []
        filters = narrowed
        leaves = [
            (stored.index, json.loads(stored.leaf))
            for stored in await self._log.leaves(reader.tenant, start, end)
        ]
        wanted = [(leaf["id"], leaf["revision"]) for _, leaf in leaves if _is_revision(leaf)]
        revisions = await self._repository.revisions(reader.tenant, wanted) if wanted else {}
        found = []
        for index, leaf in leaves:
            change = await self._change(reader, filters, index, leaf, revisions)
            if change is not None:
                found.append(change)
        return found

    async def _change(
        self,
        reader: Principal,
        filters: EntryFilters,
        index: int,
        leaf: Mapping[str, Any],
        revisions: Mapping[tuple[str, int], Entry],
    ) -> Change | None:
        kind = leaf.get("kind")
        if _is_revision(leaf):
            revision = revisions.get((leaf["id"], leaf["revision"]))
            if revision is None or not filters.matches(revision):
                return None  # purged since, or not the reader's query
            visible = await self._processor.redact_for_reader(revision, reader)
            return Change(index, str(kind), entry_to_json(visible))
        if kind == ERASE_KIND:
            current = await self._repository.revision(reader.tenant, leaf["id"])
            if current is None or not filters.matches(current):
                return None
            return Change(index, ERASE_KIND, dict(leaf))
        if kind == PURGE_KIND and reader.restriction.unrestricted:
            return Change(index, PURGE_KIND, dict(leaf))
        return None  # an index leaf: the map's business, not a change


def _is_revision(leaf: Mapping[str, Any]) -> bool:
    return leaf.get("kind") in REVISION_KINDS
