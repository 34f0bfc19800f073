"""Reading entries back: one entry, a query page, an entry's history."""

from __future__ import annotations

from dataclasses import dataclass, replace

from audit_trail.core.cursor import CursorCodec
from audit_trail.core.errors import EntryNotFound, ValidationFailed
from audit_trail.core.model import Entry
from audit_trail.core.ports import EntryProcessor, EntryRepository, JsonEncoder, QueryCache
from audit_trail.core.principal import Principal, Scope
from audit_trail.core.query import Position, QueryRequest, QuerySpec
from audit_trail.core.serialization import STDLIB_JSON, dump_page, load_page


@dataclass(frozen=True, slots=True)
class GetEntryQuery:
    principal: Principal
    entry_id: str


@dataclass(frozen=True, slots=True)
class QueryEntriesQuery:
    principal: Principal
    request: QueryRequest


DEFAULT_HISTORY_LIMIT = 100
MAX_HISTORY_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class EntryHistoryQuery:
    """A page of an entry's revisions: those after revision ``after``, at most ``limit``."""

    principal: Principal
    entry_id: str
    after: int = 0
    limit: int = DEFAULT_HISTORY_LIMIT


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """Revisions, oldest first; ``next_after`` is the ``after`` of the next page, or
    None on the last one."""

    items: list[Entry]
    next_after: int | None


@dataclass(frozen=True, slots=True)
class QueryResult:
    """A page as the caller may see it, as JSON bytes (``{"items", "next_cursor"}``),
    exactly as it is cached and sent; ``items`` and ``next_cursor`` decode it."""

    body: bytes

    @property
    def items(self) -> list[Entry]:
        return load_page(self.body)[0]

    @property
    def next_cursor(self) -> str | None:
        return load_page(self.body)[1]


class GetEntry:
    """The current revision of a live entry of the caller's tenant (scope audit:read).

    ``EntryNotFound`` when it is absent, deleted or another tenant's."""

    def __init__(self, repository: EntryRepository, processor: EntryProcessor) -> None:
        self._repository = repository
        self._processor = processor

    async def execute(self, query: GetEntryQuery) -> Entry:
        query.principal.require(Scope.READ)
        entry = await self._repository.get(query.principal.tenant, query.entry_id)
        if entry is None or not query.principal.restriction.allows(entry):
            raise EntryNotFound(query.entry_id)
        return await self._processor.redact_for_reader(entry, query.principal)


class EntryHistory:
    """An entry's revisions, oldest first, tombstone included (scope audit:read), a page
    at a time: an entry may have thousands. ``EntryNotFound`` when it has none in the
    caller's tenant, or when its latest revision is outside the caller's restriction (a
    restricted caller sees only the revisions inside it); ``ValidationFailed`` for a
    limit outside 1..1000."""

    def __init__(self, repository: EntryRepository, processor: EntryProcessor) -> None:
        self._repository = repository
        self._processor = processor

    async def execute(self, query: EntryHistoryQuery) -> HistoryPage:
        principal = query.principal
        principal.require(Scope.READ)
        if not 1 <= query.limit <= MAX_HISTORY_LIMIT:
            raise ValidationFailed.single("limit", f"must be between 1 and {MAX_HISTORY_LIMIT}")
        restriction = principal.restriction
        if not restriction.unrestricted:
            # on every page, whatever ``after``: an empty page must not confirm an id
            latest = await self._repository.revision(principal.tenant, query.entry_id)
            if latest is None or not restriction.allows(latest):
                raise EntryNotFound(query.entry_id)
        revisions = list(
            await self._repository.history(
                principal.tenant, query.entry_id, after=query.after, limit=query.limit + 1
            )
        )
        if not revisions and (
            query.after == 0
            or await self._repository.revision(principal.tenant, query.entry_id) is None
        ):
            raise EntryNotFound(query.entry_id)
        page = revisions[: query.limit]
        next_after = page[-1].revision if len(revisions) > query.limit else None
        shown = [r for r in page if restriction.allows(r)]
        items = [await self._processor.redact_for_reader(r, principal) for r in shown]
        return HistoryPage(items, next_after)


class QueryEntries:
    """A page of the caller's tenant's live entries (scope audit:read).

    Pages are served from the QueryCache when it has them, as they were stored: the
    cache key is the canonical query and the reader's class (its scopes, which is all
    redaction may depend on), so equal queries written differently share a page, a
    hit is the stored bytes and a miss is redacted and encoded once (by ``encoder``).
    The cursor is opaque and bound to the tenant and the query's filters and sort.
    A restricted caller's query is narrowed to its restriction first (and is empty when
    it asks for something else); the restriction is part of the cache key too."""

    def __init__(
        self,
        repository: EntryRepository,
        cache: QueryCache,
        processor: EntryProcessor,
        cursors: CursorCodec,
        encoder: JsonEncoder = STDLIB_JSON,
    ) -> None:
        self._repository = repository
        self._cache = cache
        self._processor = processor
        self._cursors = cursors
        self._encoder = encoder

    async def execute(self, query: QueryEntriesQuery) -> QueryResult:
        principal, request = query.principal, query.request
        principal.require(Scope.READ)
        narrowed = principal.restriction.narrow(request.filters)
        if narrowed is None:  # a query outside the caller's restriction
            return QueryResult(dump_page([], None, self._encoder))
        if narrowed != request.filters:
            request = replace(request, filters=narrowed)
        tenant, scope = principal.tenant, request.scope()
        after = None
        if request.cursor is not None:
            after = self._cursors.decode(request.cursor, tenant=tenant, scope=scope)
        spec = QuerySpec(request.filters, request.sort, request.limit, after)

        async def load() -> bytes:
            page = await self._repository.query(tenant, spec)
            next_cursor = None
            if page.has_more and page.items:
                last = page.items[-1]
                next_cursor = self._cursors.encode(
                    Position(last.occurred_at, last.id), tenant=tenant, scope=scope
                )
            visible = [await self._processor.redact_for_reader(e, principal) for e in page.items]
            return dump_page(visible, next_cursor, self._encoder)

        key = f"{request.canonical()}&reader={reader_class(principal)}"
        if not principal.restriction.unrestricted:
            key += f"&restriction={principal.restriction.key()}"
        return QueryResult(await self._cache.get_or_load(tenant, key, load))


def reader_class(principal: Principal) -> str:
    """What a page's redaction may depend on beside the tenant: the reader's scopes."""
    return " ".join(sorted(principal.scopes))
