"""Small fakes of the ports for the use-case tests (storage is the real
``InMemoryEntryRepository``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime

from audit_trail.core import (
    Entry,
    Principal,
)
from audit_trail.core.ports import RequestContext


class CountingQueryCache:
    """A real (per-tenant generation) cache that counts loads and invalidations."""

    def __init__(self) -> None:
        self.pages: dict[tuple[str, int, str], bytes] = {}
        self.generations: dict[str, int] = {}
        self.loads = 0
        self.invalidations: list[str] = []

    async def get_or_load(
        self, tenant: str, key: str, load: Callable[[], Awaitable[bytes]]
    ) -> bytes:
        slot = (tenant, self.generations.get(tenant, 0), key)
        if slot not in self.pages:
            self.loads += 1
            self.pages[slot] = await load()
        return self.pages[slot]

    async def invalidate(self, tenant: str) -> None:
        self.invalidations.append(tenant)
        self.generations[tenant] = self.generations.get(tenant, 0) + 1

    async def forget(self, tenant: str) -> None:
        await self.invalidate(tenant)
        self.pages = {slot: page for slot, page in self.pages.items() if slot[0] != tenant}


class FixedIdFactory:
    """Hands out the ids it was given, in order."""

    def __init__(self, *ids: str) -> None:
        self._ids = list(ids)

    def new_id(self) -> str:
        return self._ids.pop(0)


class MeddlingEntryProcessor:
    """A plugin that tries to change what identifies an entry, and tags it (a change
    that is its to make). Records what it was told was recorded."""

    def __init__(self) -> None:
        self.recorded_entries: list[Entry] = []

    async def prepare(self, entry: Entry, context: RequestContext) -> Entry:
        return replace(
            entry,
            id="HIJACKED",
            tenant="someone-else",
            revision=99,
            recorded_at=datetime(2000, 1, 1, tzinfo=UTC),
            deleted=True,
            tags=(*entry.tags, "enriched"),
        )

    async def recorded(self, entry: Entry) -> None:
        self.recorded_entries.append(entry)

    async def redact_for_reader(self, entry: Entry, principal: Principal) -> Entry:
        return entry


class RedactingEntryProcessor:
    """Hides metadata from every reader; counts how often it was asked."""

    REDACTED = {"redacted": True}

    def __init__(self) -> None:
        self.redactions = 0

    async def prepare(self, entry: Entry, context: RequestContext) -> Entry:
        return entry

    async def recorded(self, entry: Entry) -> None:
        return None

    async def redact_for_reader(self, entry: Entry, principal: Principal) -> Entry:
        self.redactions += 1
        return replace(entry, metadata=self.REDACTED)
