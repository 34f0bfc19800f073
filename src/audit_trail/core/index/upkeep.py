"""How the query index keeps up with the log after each group commit.

``IntegrateOnWrite`` integrates before the commit is acknowledged: every write's
index leaf is in the log when the writer hears back, at the cost of an integration
per group commit (a few keys' paths through the map each). ``IndexFollower``
integrates off the write path: a commit marks its tenant, and a background task
integrates the marked tenants ``delay`` seconds later, so one integration takes in
every commit of that span and the map work is shared by all of them. Either way a
``proof=1`` query integrates whatever is left first, so its answer covers the whole
log; the follower only bounds how much is left (and a failed integration is simply
left for the next one: the index is derived data).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from audit_trail.core.index.integrate import IndexIntegrator

log = logging.getLogger(__name__)


class IndexUpkeep(Protocol):
    async def committed(self, tenant: str) -> None:
        """A group commit of ``tenant`` stored at least one change."""
        ...


class IntegrateOnWrite:
    def __init__(self, integrator: IndexIntegrator) -> None:
        self._integrator = integrator

    async def committed(self, tenant: str) -> None:
        try:
            await self._integrator.integrate(tenant)
        except Exception:  # derived data: the next write or proof integrates it
            log.exception("the query index of tenant %r was not brought up to date", tenant)


class IndexFollower:
    def __init__(self, integrator: IndexIntegrator, delay: float) -> None:
        self._integrator = integrator
        self._delay = delay
        self._marked: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def committed(self, tenant: str) -> None:
        self._marked.add(tenant)
        if self._task is None and not self._closed:
            self._task = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        try:
            while self._marked:
                await asyncio.sleep(self._delay)
                tenants, self._marked = self._marked, set()
                for tenant in sorted(tenants):
                    try:
                        await self._integrator.integrate(tenant)
                    except Exception:
                        log.exception("the query index of tenant %r fell behind its log", tenant)
        finally:
            self._task = None

    async def close(self) -> None:
        """Stop following (what is left stays for the next integration)."""
        self._closed = True
        task = self._task
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
