"""Exporting every entry a query matches, a storage page at a time, in constant memory,
with what proves it whole against a signed checkpoint (docs/lifecycle.md, "Export")."""

from __future__ import annotations

from array import array
from collections.abc import AsyncIterator
from dataclasses import dataclass

from audit_trail.core.ledger.checkpoints import Checkpoints
from audit_trail.core.ledger.tree import LogTree
from audit_trail.core.model import Entry
from audit_trail.core.ports import EntryProcessor, EntryRepository
from audit_trail.core.ports.log import TenantLog
from audit_trail.core.principal import Principal, Scope
from audit_trail.core.query import EntryFilters, Position, QuerySpec, SortOrder
from audit_trail.core.usecases.query_proof import ProvenEntry, _proven

EXPORT_PAGE_SIZE = 500


@dataclass(frozen=True, slots=True)
class ExportQuery:
    principal: Principal
    filters: EntryFilters
    sort: SortOrder = SortOrder.NEWEST_FIRST
    trailer: bool = True  # pin a checkpoint and end with an ExportTrailer (NDJSON)


@dataclass(frozen=True, slots=True)
class ExportedEntry:
    """An entry as the caller may see it, with what binds it to the tenant's log:
    its leaf's position (None if the log does not hold it) and the salts of the
    fields shown, the digests of those hidden and the previous revision's leaf hash
    (``proven`` is None when storage keeps no evidence for it)."""

    entry: Entry
    leaf_index: int | None
    proven: ProvenEntry | None


@dataclass(frozen=True, slots=True)
class ExportTrailer:
    """The end of an export: the checkpoint pinned at its start (of ``tree_size``
    leaves), how many entries it gave, how many it left out because their current
    revision came after the checkpoint, and the hashes of the complement of the
    exported leaves in that tree (``core.integrity.multiproof``), a list at a time."""

    checkpoint: str
    tree_size: int
    count: int
    after_checkpoint: int
    complement: AsyncIterator[list[bytes]]


class ExportEntries:
    """Every live entry of the caller's tenant matching the filters (scope audit:read)
    and the caller's restriction,
    in the query's sort order, read ``page_size`` at a time by following the
    repository's cursor: memory holds one page (and 8 bytes per exported leaf index),
    however many entries match.

    With ``trailer``, the latest checkpoint is pinned first (signed now if the kept one
    is older than the log, so it covers every change acknowledged before the export
    began); an entry whose current revision is not in that tree is left out, counted,
    and the last item is an ``ExportTrailer``."""

    def __init__(
        self,
        repository: EntryRepository,
        log: TenantLog,
        processor: EntryProcessor,
        *,
        checkpoints: Checkpoints,
        tree: LogTree,
        page_size: int = EXPORT_PAGE_SIZE,
    ) -> None:
        if page_size <= 0:
            raise ValueError("page_size must be positive")
        self._repository = repository
        self._log = log
        self._processor = processor
        self._checkpoints = checkpoints
        self._tree = tree
        self._page_size = page_size

    def check(self, query: ExportQuery) -> None:
        """Refuse before the first byte is sent: a stream cannot become a 403 later."""
        query.principal.require(Scope.READ)

    async def execute(self, query: ExportQuery) -> AsyncIterator[ExportedEntry | ExportTrailer]:
        self.check(query)
        tenant = query.principal.tenant
        if not query.trailer:
            async for exported in self._entries(query, None):
                if exported is not None:
                    yield exported
            return
        pinned = await self._checkpoints.latest(tenant)
        exported_indices = array("Q")
        count = later = 0
        async for exported in self._entries(query, pinned.size):
            if exported is None:
                later += 1
                continue
            count += 1
            if exported.leaf_index is not None:
                exported_indices.append(exported.leaf_index)
            yield exported
        indices = array("Q", sorted(exported_indices))
        del exported_indices
        complement = self._tree.complement(tenant, pinned.size, indices)
        yield ExportTrailer(pinned.note, pinned.size, count, later, complement)

    async def _entries(
        self, query: ExportQuery, tree_size: int | None
    ) -> AsyncIterator[ExportedEntry | None]:
        """The matching entries; None for one whose current revision's leaf is not
        below ``tree_size``."""
        principal, tenant = query.principal, query.principal.tenant
        filters = principal.restriction.narrow(query.filters)
        if filters is None:  # outside the caller's restriction: nothing matches
            return
        after: Position | None = None
        while True:
            spec = QuerySpec(filters, query.sort, self._page_size, after, evidence=True)
            page = await self._repository.query(tenant, spec)
            items = list(page.items)
            indices = await self._log.leaf_indices(tenant, {(e.id, e.revision) for e in items})
            for item in items:
                index = indices.get((item.id, item.revision))
                if tree_size is not None and index is not None and index >= tree_size:
                    yield None
                    continue
                stored = item
                if stored.evidence is None:  # a page may come without it
                    stored = await self._repository.revision(tenant, item.id, item.revision) or item
                visible = await self._processor.redact_for_reader(stored, principal)
                proven = None if stored.evidence is None else _proven(stored, visible)
                yield ExportedEntry(visible, index, proven)
            if not page.has_more or not items:
                return
            after = Position(items[-1].occurred_at, items[-1].id)
