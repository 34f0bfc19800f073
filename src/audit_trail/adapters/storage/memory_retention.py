"""InMemoryRetentionStore: retention settings and purges of the in-memory storage.

It works on the repository's own dictionaries (handed over by
``InMemoryEntryRepository.retention``); every method runs without awaiting, so each
is atomic among asyncio tasks: a purge reads the active holds and deletes in one step,
leaving out every entry a hold covers.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from audit_trail.adapters.storage.memory_holds import InMemoryLegalHolds
from audit_trail.core.model import Entry
from audit_trail.core.usecases.holds import first_holding


class _Log(Protocol):
    revisions: dict[int, tuple[str, int]]


class InMemoryRetentionStore:
    def __init__(
        self,
        revisions: dict[tuple[str, str], list[Entry]],
        logs: Mapping[str, Any],
        holds: InMemoryLegalHolds,
    ) -> None:
        self._revisions = revisions
        self._logs = logs
        self._holds = holds
        self._settings: dict[str, float | None] = {}

    async def setting(self, tenant: str) -> tuple[float | None] | None:
        return (self._settings[tenant],) if tenant in self._settings else None

    async def set_setting(self, tenant: str, days: float | None) -> None:
        self._settings[tenant] = days

    async def clear_setting(self, tenant: str) -> bool:
        had = tenant in self._settings
        self._settings.pop(tenant, None)
        return had

    async def tenants_with_setting(self) -> Sequence[tuple[str, float | None]]:
        return sorted(self._settings.items(), key=lambda item: item[0])

    async def log_tenants(self) -> Sequence[str]:
        return sorted(self._logs)

    async def expired(
        self,
        tenant: str,
        before: datetime,
        limit: int,
        after: tuple[datetime, str] | None = None,
    ) -> Sequence[Entry]:
        found = [
            revisions[-1]
            for (owner, _), revisions in self._revisions.items()
            if owner == tenant and revisions and revisions[-1].recorded_at < before
        ]
        found.sort(key=lambda e: (e.recorded_at, e.id))
        if after is not None:
            found = [e for e in found if (e.recorded_at, e.id) > after]
        return found[:limit]

    async def tombstoned_by(
        self,
        tenant: str,
        recorded_by: str,
        limit: int,
        after: tuple[datetime, str] | None = None,
    ) -> Sequence[Entry]:
        found = [
            revisions[-1]
            for (owner, _), revisions in self._revisions.items()
            if owner == tenant
            and revisions
            and revisions[-1].deleted
            and revisions[-1].recorded_by == recorded_by
        ]
        found.sort(key=lambda e: (e.recorded_at, e.id))
        if after is not None:
            found = [e for e in found if (e.recorded_at, e.id) > after]
        return found[:limit]

    async def purge(self, tenant: str, entry_ids: Collection[str]) -> int:
        purged = 0
        log: _Log | None = self._logs.get(tenant)
        holds = self._holds.listed(tenant)  # read with the delete: one atomic step
        for entry_id in entry_ids:
            revisions = self._revisions.get((tenant, entry_id))
            if revisions is None or first_holding(holds, revisions[-1]) is not None:
                continue
            del self._revisions[(tenant, entry_id)]
            purged += 1
            if log is not None:  # its leaves now commit no stored revision
                for index, (stored_id, _) in list(log.revisions.items()):
                    if stored_id == entry_id:
                        del log.revisions[index]
        return purged
