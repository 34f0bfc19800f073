"""Legal holds (scope audit:admin): create, read, list, release, and the question the
purge and erasure paths ask: which active hold covers this entry?"""

from __future__ import annotations

from collections.abc import Sequence

from audit_trail.core.errors import EntryHeld, HoldNotFound
from audit_trail.core.holds import Hold, HoldRequest
from audit_trail.core.model import Entry
from audit_trail.core.ports import Clock, IdFactory
from audit_trail.core.ports.holds import LegalHolds
from audit_trail.core.principal import Principal, Scope


class LegalHoldRegistry:
    """The tenant's legal holds. ``holding`` and ``check`` need no principal: they are
    what other use cases (retention, erasure) call for the tenant they act in."""

    def __init__(self, holds: LegalHolds, clock: Clock, ids: IdFactory) -> None:
        self._holds = holds
        self._clock = clock
        self._ids = ids

    async def create(self, principal: Principal, request: HoldRequest) -> Hold:
        principal.require(Scope.ADMIN)
        hold = Hold(
            id=self._ids.new_id(),
            tenant=principal.tenant,
            filters=request.filters,
            reason=request.reason,
            created_at=self._clock.now(),
            created_by=principal.subject,
        )
        await self._holds.create(hold)
        return hold

    async def get(self, principal: Principal, hold_id: str) -> Hold:
        principal.require(Scope.ADMIN)
        hold = await self._holds.get(principal.tenant, hold_id)
        if hold is None:
            raise HoldNotFound(hold_id)
        return hold

    async def list(self, principal: Principal, *, include_released: bool = False) -> Sequence[Hold]:
        principal.require(Scope.ADMIN)
        return await self._holds.list(principal.tenant, include_released=include_released)

    async def release(self, principal: Principal, hold_id: str) -> Hold:
        """Release the hold; releasing a released hold returns it as it is."""
        principal.require(Scope.ADMIN)
        hold = await self._holds.release(
            principal.tenant, hold_id, self._clock.now(), principal.subject
        )
        if hold is None:
            raise HoldNotFound(hold_id)
        return hold

    async def active(self, tenant: str) -> Sequence[Hold]:
        return await self._holds.list(tenant)

    async def holding(self, tenant: str, entry: Entry) -> Hold | None:
        """The oldest active hold of ``tenant`` that covers ``entry`` (its current
        revision), or None."""
        return first_holding(await self.active(tenant), entry)

    async def check(self, tenant: str, entry: Entry) -> None:
        """``EntryHeld`` (409, naming the hold) when an active hold covers ``entry``."""
        hold = await self.holding(tenant, entry)
        if hold is not None:
            raise EntryHeld(entry.id, hold.id, hold.reason)


def first_holding(holds: Sequence[Hold], entry: Entry) -> Hold | None:
    return next((hold for hold in holds if hold.holds(entry)), None)
