"""LegalHolds: where a tenant's legal holds are kept (``core.holds``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from audit_trail.core.holds import Hold


class LegalHolds(Protocol):
    """Every method is confined to ``tenant``: another tenant's hold id is not found.
    ``StorageUnavailable`` when the backend cannot be reached in time."""

    async def create(self, hold: Hold) -> None:
        """Keep a new, active hold (its id is new)."""
        ...

    async def get(self, tenant: str, hold_id: str) -> Hold | None:
        """The hold, active or released; None when the tenant has none of this id."""
        ...

    async def list(self, tenant: str, *, include_released: bool = False) -> Sequence[Hold]:
        """The tenant's holds (only the active ones unless ``include_released``),
        oldest first."""
        ...

    async def release(self, tenant: str, hold_id: str, at: datetime, by: str) -> Hold | None:
        """Release an active hold (atomically: of two releases one wins); the hold as
        it now stands (a released hold is returned unchanged); None when not found."""
        ...
