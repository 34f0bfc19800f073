"""RetentionStore: per-tenant retention settings, and what the sweeper needs of
storage to find and purge expired entries (docs/lifecycle.md)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol

from audit_trail.core.model import Entry


class RetentionStore(Protocol):
    """Every method but the tenant listings is confined to ``tenant``.
    ``StorageUnavailable`` when the backend cannot be reached in time."""

    async def setting(self, tenant: str) -> tuple[float | None] | None:
        """The tenant's own setting, ``(days,)`` (days None: keep forever), or None
        when it has none (the default applies)."""
        ...

    async def set_setting(self, tenant: str, days: float | None) -> None:
        """Set the tenant's own retention (None: keep forever)."""
        ...

    async def clear_setting(self, tenant: str) -> bool:
        """Drop the tenant's own setting (the default applies again); whether it had one."""
        ...

    async def tenants_with_setting(self) -> Sequence[tuple[str, float | None]]:
        """Every tenant with its own setting, and that setting."""
        ...

    async def log_tenants(self) -> Sequence[str]:
        """Every tenant that has a log."""
        ...

    async def expired(
        self,
        tenant: str,
        before: datetime,
        limit: int,
        after: tuple[datetime, str] | None = None,
    ) -> Sequence[Entry]:
        """Up to ``limit`` current revisions (live ones and tombstones) recorded before
        ``before``, by ``(recorded_at, id)``, after ``after`` when given."""
        ...

    async def tombstoned_by(
        self,
        tenant: str,
        recorded_by: str,
        limit: int,
        after: tuple[datetime, str] | None = None,
    ) -> Sequence[Entry]:
        """Up to ``limit`` entries whose current revision is a tombstone that
        ``recorded_by`` made, by ``(recorded_at, id)``, after ``after`` when given (the
        sweeper finds its unfinished purges with it)."""
        ...

    async def purge(self, tenant: str, entry_ids: Collection[str]) -> int:
        """Delete every stored revision of these entries and all that is kept by entry
        (tag rows...), keeping their leaves and the tree; how many entries it removed.
        A storage that can (memory, SQLite) reads the active legal holds in the same
        atomic step and leaves out every entry one covers; the caller checks them too."""
        ...
