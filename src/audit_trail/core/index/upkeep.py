"""How the query index keeps up with the log after each group commit.

``IntegrateOnWrite`` integrates before the commit is acknowledged: every write's
index leaf is in the log when the writer hears back, at the cost of an integration
per group commit (a few keys' paths through the map each). ``IndexFollower``
integrates off the write path: a background task integrates a tenant ``delay`` seconds
after the first change it has not integrated, or as soon as a whole chunk of changes
(``integrate.CHUNK``) is waiting, so that one integration takes in every commit of
that span and the map work is shared by all of them (the more changes an integration
takes, the less each costs). Either way a
``proof=1`` query integrates whatever is left first, so its answer covers the whole
log; the follower only bounds how much is left (and a failed integration is simply
left for the next one: the index is derived data).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from audit_trail.core.index.integrate import CHUNK, IndexIntegrator

log = logging.getLogger(__name__)

CATCH_UP_REST = 1.0  # the follower rests as long as each chunk took, before the next


class IndexUpkeep(Protocol):
    async def committed(self, tenant: str, changes: int) -> None:
        """A group commit of ``tenant`` stored ``changes`` changes (at least one)."""
        ...


class IntegrateOnWrite:
    def __init__(self, integrator: IndexIntegrator) -> None:
        self._integrator = integrator

    async def committed(self, tenant: str, changes: int) -> None:
        try:
            await self._integrator.integrate(tenant)
        except Exception:  # derived data: the next write or proof integrates it
            log.exception("the query index of tenant %r was not brought up to date", tenant)


class IndexFollower:
    def __init__(self, integrator: IndexIntegrator, delay: float, *, chunk: int = CHUNK) -> None:
        self._integrator = integrator
        self._delay = delay
        self._chunk = chunk
        self._waiting: dict[str, int] = {}  # changes committed since the last integration
        self._due: dict[str, float] = {}  # loop time at which each tenant is integrated
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def committed(self, tenant: str, changes: int) -> None:
        now = asyncio.get_running_loop().time()
        waiting = self._waiting[tenant] = self._waiting.get(tenant, 0) + changes
        self._due.setdefault(tenant, now + self._delay)
        if waiting >= self._chunk:
            self._due[tenant] = now
            self._wake.set()
        if self._task is None and not self._closed:
            self._task = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._due:
                tenant, due = min(self._due.items(), key=lambda item: item[1])
                if due > loop.time():
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), due - loop.time())
                    continue
                del self._due[tenant], self._waiting[tenant]
                try:
                    # a backlog (a bulk load, a restart) is caught up at half the loop
                    await self._integrator.integrate(tenant, rest=CATCH_UP_REST)
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
