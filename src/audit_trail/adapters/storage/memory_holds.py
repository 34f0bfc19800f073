"""InMemoryLegalHolds: the LegalHolds of the in-memory storage (atomic per call)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from audit_trail.core.holds import Hold


class InMemoryLegalHolds:
    def __init__(self) -> None:
        self._holds: dict[tuple[str, str], Hold] = {}

    async def create(self, hold: Hold) -> None:
        self._holds[(hold.tenant, hold.id)] = hold

    async def get(self, tenant: str, hold_id: str) -> Hold | None:
        return self._holds.get((tenant, hold_id))

    async def list(self, tenant: str, *, include_released: bool = False) -> Sequence[Hold]:
        return self.listed(tenant, include_released=include_released)

    def listed(self, tenant: str, *, include_released: bool = False) -> Sequence[Hold]:
        """``list``, without awaiting (for a purge that checks holds atomically)."""
        found = [
            hold
            for (owner, _), hold in self._holds.items()
            if owner == tenant and (include_released or hold.active)
        ]
        return sorted(found, key=lambda hold: (hold.created_at, hold.id))

    async def release(self, tenant: str, hold_id: str, at: datetime, by: str) -> Hold | None:
        hold = self._holds.get((tenant, hold_id))
        if hold is None or not hold.active:
            return hold
        released = self._holds[(tenant, hold_id)] = replace(hold, released_at=at, released_by=by)
        return released
