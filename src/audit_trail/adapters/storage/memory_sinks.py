"""InMemorySinkCursors: the SinkCursors of the in-memory storage (atomic per call)."""

from __future__ import annotations

from datetime import datetime

from audit_trail.core.ports.sinks import NO_CURSOR

Key = tuple[str, str]


class InMemorySinkCursors:
    def __init__(self) -> None:
        self._cursors: dict[Key, int] = {}
        self._leases: dict[Key, tuple[str, datetime]] = {}

    async def cursor(self, sink: str, tenant: str) -> int:
        return self._cursors.get((sink, tenant), NO_CURSOR)

    async def lease(
        self, sink: str, tenant: str, owner: str, until: datetime, now: datetime
    ) -> bool:
        held = self._leases.get((sink, tenant))
        if held is not None and held[0] != owner and held[1] >= now:
            return False
        self._leases[(sink, tenant)] = (owner, until)
        return True

    async def release(self, sink: str, tenant: str, owner: str) -> None:
        held = self._leases.get((sink, tenant))
        if held is not None and held[0] == owner:
            del self._leases[(sink, tenant)]

    async def advance(self, sink: str, tenant: str, owner: str, expected: int, cursor: int) -> bool:
        held = self._leases.get((sink, tenant))
        if held is None or held[0] != owner or await self.cursor(sink, tenant) != expected:
            return False
        self._cursors[(sink, tenant)] = cursor
        return True
