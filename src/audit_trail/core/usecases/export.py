"""Exporting every entry a query matches, a storage page at a time, in constant memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class ExportedEntry:
    """An entry as the caller may see it, with what binds it to the tenant's log:
    its leaf's position (None if the log does not hold it) and the salts of the
    fields shown, the digests of those hidden and the previous revision's leaf hash
    (``proven`` is None when storage keeps no evidence for it)."""

    entry: Entry
    leaf_index: int | None
    proven: ProvenEntry | None


class ExportEntries:
    """Every live entry of the caller's tenant matching the filters (scope audit:read),
    in the query's sort order, read ``page_size`` at a time by following the
    repository's cursor: memory holds one page, however many entries match."""

    def __init__(
        self,
        repository: EntryRepository,
        log: TenantLog,
        processor: EntryProcessor,
        page_size: int = EXPORT_PAGE_SIZE,
    ) -> None:
        if page_size <= 0:
            raise ValueError("page_size must be positive")
        self._repository = repository
        self._log = log
        self._processor = processor
        self._page_size = page_size

    def check(self, query: ExportQuery) -> None:
        """Refuse before the first byte is sent: a stream cannot become a 403 later."""
        query.principal.require(Scope.READ)

    async def execute(self, query: ExportQuery) -> AsyncIterator[ExportedEntry]:
        self.check(query)
        principal, tenant = query.principal, query.principal.tenant
        after: Position | None = None
        while True:
            spec = QuerySpec(query.filters, query.sort, self._page_size, after)
            page = await self._repository.query(tenant, spec)
            items = list(page.items)
            indices = await self._log.leaf_indices(tenant, {(e.id, e.revision) for e in items})
            for item in items:
                stored = item
                if stored.evidence is None:  # a page may come without it
                    stored = await self._repository.revision(tenant, item.id, item.revision) or item
                visible = await self._processor.redact_for_reader(stored, principal)
                proven = None if stored.evidence is None else _proven(stored, visible)
                yield ExportedEntry(visible, indices.get((item.id, item.revision)), proven)
            if not page.has_more or not items:
                return
            after = Position(items[-1].occurred_at, items[-1].id)
