"""Sinks and their cursors: where the forwarder (``core.sinks``) ships every tenant's
changes, and where it keeps how far each sink got in each tenant's log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from audit_trail.core.usecases.change_reader import Change

NO_CURSOR = -1  # nothing forwarded yet: a sink starts at the log's first leaf


class Sink(Protocol):
    """One destination (a plugin's ``audit_forward_changes``), known by ``name``."""

    @property
    def name(self) -> str: ...

    async def forward(self, tenant: str, changes: Sequence[Change]) -> None:
        """Ship ``changes`` (in log order) durably; raise when they were not all
        shipped (they are all sent again later)."""
        ...


class SinkCursors(Protocol):
    """Per (sink, tenant): the index of the last leaf forwarded, and a lease so that
    one process at a time forwards it. Leases and ``advance`` are compare-and-set.
    ``StorageUnavailable`` when the backend cannot be reached in time."""

    async def cursor(self, sink: str, tenant: str) -> int:
        """The last leaf forwarded, ``NO_CURSOR`` when none was."""
        ...

    async def lease(
        self, sink: str, tenant: str, owner: str, until: datetime, now: datetime
    ) -> bool:
        """Take or renew the lease for ``owner`` until ``until`` if it is free,
        expired or ``owner``'s already; whether ``owner`` now holds it."""
        ...

    async def release(self, sink: str, tenant: str, owner: str) -> None:
        """Give the lease up, if ``owner`` holds it."""
        ...

    async def advance(self, sink: str, tenant: str, owner: str, expected: int, cursor: int) -> bool:
        """Set the cursor to ``cursor`` if ``owner`` holds the lease and the cursor is
        still ``expected``; whether it was set."""
        ...
