"""EntryRepository: where entries and all their revisions are kept."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from audit_trail.core.model import Entry
from audit_trail.core.query import QuerySpec


@dataclass(frozen=True, slots=True)
class EntryPage:
    """Up to ``limit`` entries, and whether more match after the last of them."""

    items: Sequence[Entry]
    has_more: bool


class EntryRepository(Protocol):
    """Durable storage of entries, each confined to its tenant.

    Every method takes the tenant and never returns or changes another tenant's data.
    Times come back exactly as stored (UTC, milliseconds). Raises ``StorageUnavailable``
    when the backend cannot be reached in time, ``EntryTooLarge`` when a document is
    too big for it.
    """

    async def append(self, entry: Entry) -> None:
        """Store a new entry (revision 1). ``DuplicateEntry`` if the id exists.
        When this returns, the entry is durable."""
        ...

    async def append_many(self, entries: Sequence[Entry]) -> None:
        """Store several new entries: all of them, or (on error) none."""
        ...

    async def get(self, tenant: str, entry_id: str) -> Entry | None:
        """The current revision, or None when absent, deleted or in another tenant."""
        ...

    async def query(self, tenant: str, spec: QuerySpec) -> EntryPage:
        """Current revisions of live entries matching ``spec.filters``, ordered by
        (occurred_at, id) in ``spec.sort``'s direction, starting strictly after
        ``spec.after``, at most ``spec.limit`` of them. The entries may come without
        their ``evidence``: a page shows none (``revision`` reads it); with ``spec.evidence``
        storage gives it where reading it with the page is cheaper than a read each."""
        ...

    async def amend(self, revision: Entry) -> None:
        """Store ``revision`` as the new current revision of its entry.

        It must follow the current one (``revision.revision == current + 1``):
        ``EntryNotFound`` when there is no live entry, ``RevisionConflict`` when
        another revision got there first. Earlier revisions are kept."""
        ...

    async def delete(self, tombstone: Entry) -> None:
        """Store a tombstone (``deleted=True``) as the new current revision, with the
        same rules as ``amend``. The entry then disappears from ``get`` and ``query``
        and stays in ``history``."""
        ...

    async def history(
        self, tenant: str, entry_id: str, *, after: int = 0, limit: int | None = None
    ) -> Sequence[Entry]:
        """The revisions after revision ``after``, oldest first, tombstone included, at
        most ``limit`` of them (all when None); empty when unknown."""
        ...

    async def revision(
        self, tenant: str, entry_id: str, revision: int | None = None
    ) -> Entry | None:
        """That revision of the entry, or its latest one (a tombstone included) when
        ``revision`` is None; None when there is no such revision in the tenant."""
        ...

    async def revisions(
        self, tenant: str, wanted: Sequence[tuple[str, int]]
    ) -> Mapping[tuple[str, int], Entry]:
        """Those revisions of the tenant, each ``(entry id, revision)``, read at once
        (what ``revision`` gives for each, by its pair); a pair storage does not hold
        is left out."""
        ...

    async def rewrite(self, revisions: Sequence[Entry]) -> None:
        """Store each of ``revisions`` over the stored revision of the same tenant, id
        and number, with everything that derives from it (the tags a query finds).
        For erasure only: what changes is values, salts and ``erased``; what the leaf
        commits (``leaf_hash``, ``prev``, ``recorded_at``...) stays. A revision that
        storage does not hold is left alone."""
        ...
