"""GroupCommitter: concurrent changes of a tenant share one storage write.

There is no fixed delay. A lone change is written at once; the changes that arrive
while a tenant's write is in flight wait, and all of them go together in the next
write, with one cache invalidation after it. The queue is bounded: past
``max_pending`` waiting leaves a change is refused with ``Overloaded`` (503 with
``Retry-After`` at the edge), so memory never grows without limit.

A write, once begun, runs to its end even when the request that queued a change is
cancelled (its client went away): the change is stored or not, as for any write.

With an ``IndexUpkeep``, each write that stored a change tells it so before the
changes are acknowledged: it integrates the tenant's query index then, or marks the
tenant for a background integration (``core.index.upkeep``). The index is derived
from the log, so when integrating fails the write still stands.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from audit_trail.core.errors import DomainError, Overloaded
from audit_trail.core.index.upkeep import IndexUpkeep
from audit_trail.core.ports import QueryCache
from audit_trail.core.ports.log import LogRecord, TenantLog
from audit_trail.core.ports.metrics import NO_METRICS, Metrics

log = logging.getLogger(__name__)

DEFAULT_MAX_PENDING = 20_000
DEFAULT_MAX_WRITE = 5_000


@dataclass(slots=True)
class _Waiting:
    records: Sequence[LogRecord]
    done: asyncio.Future[int]


@dataclass(slots=True)
class _TenantQueue:
    waiting: deque[_Waiting] = field(default_factory=deque)
    pending: int = 0  # leaves waiting, not yet in a write
    writer: asyncio.Task[None] | None = None


class GroupCommitter:
    """Appends changes to their tenant's log, batching concurrent ones per tenant."""

    def __init__(
        self,
        log_store: TenantLog,
        cache: QueryCache,
        *,
        max_pending: int = DEFAULT_MAX_PENDING,
        max_write: int = DEFAULT_MAX_WRITE,
        index: IndexUpkeep | None = None,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._log = log_store
        self._metrics = metrics
        self._cache = cache
        self._index = index
        self._max_pending = max_pending
        self._max_write = max_write
        self._queues: dict[str, _TenantQueue] = {}

    @property
    def pending(self) -> int:
        """Leaves waiting for a write, over every tenant."""
        return sum(queue.pending for queue in self._queues.values())

    async def append(self, tenant: str, records: Sequence[LogRecord]) -> int:
        """Append ``records`` (one change: all of them or none) to ``tenant``'s log;
        returns the index of the first. When this returns the leaves are durable and
        the tenant's cached queries are invalidated. Raises the error that refused the
        change (``RevisionConflict``...), ``Overloaded`` when the queue is full, or
        ``StorageUnavailable``."""
        queue = self._queues.get(tenant)
        if queue is None:
            queue = self._queues[tenant] = _TenantQueue()
        if queue.pending and queue.pending + len(records) > self._max_pending:
            raise Overloaded()
        waiting = _Waiting(records, asyncio.get_running_loop().create_future())
        queue.waiting.append(waiting)
        queue.pending += len(records)
        self._metrics.pending_writes(self.pending)
        if queue.writer is None:
            queue.writer = asyncio.create_task(self._drain(tenant, queue))
        return await asyncio.shield(waiting.done)

    async def _drain(self, tenant: str, queue: _TenantQueue) -> None:
        try:
            while queue.waiting:
                batch = self._take(queue)
                await self._write(tenant, batch)
        finally:
            queue.writer = None
            if not queue.waiting:
                self._queues.pop(tenant, None)

    def _take(self, queue: _TenantQueue) -> list[_Waiting]:
        batch: list[_Waiting] = []
        size = 0
        while queue.waiting and (
            not batch or size + len(queue.waiting[0].records) <= self._max_write
        ):
            item = queue.waiting.popleft()
            batch.append(item)
            size += len(item.records)
        queue.pending -= size
        self._metrics.pending_writes(self.pending)
        return batch

    async def _write(self, tenant: str, batch: list[_Waiting]) -> None:
        try:
            results: Sequence[int | DomainError] = await self._log.commit(
                tenant, [item.records for item in batch]
            )
        except BaseException as exc:
            if isinstance(exc, Exception):
                # the write may have landed before its answer was lost (a timeout):
                # a cached page without it must not outlive it
                await self._invalidate(tenant)
            for item in batch:
                _settle(item.done, exc)
            if not isinstance(exc, Exception):
                raise
            return
        stored = sum(
            len(item.records)
            for item, result in zip(batch, results, strict=True)
            if isinstance(result, int)
        )
        if stored:
            self._count(tenant, batch, results)
            if self._index is not None:
                await self._index.committed(tenant, stored)
            await self._invalidate(tenant)
        for item, result in zip(batch, results, strict=True):
            _settle(item.done, result)

    def _count(
        self, tenant: str, batch: list[_Waiting], results: Sequence[int | DomainError]
    ) -> None:
        kept = [
            (item, first)
            for item, first in zip(batch, results, strict=True)
            if isinstance(first, int)
        ]
        self._metrics.committed(
            tenant,
            leaves=sum(len(item.records) for item, _ in kept),
            entries=sum(
                1
                for item, _ in kept
                for record in item.records
                if record.revision is not None and record.revision.revision == 1
            ),
            log_size=max(first + len(item.records) for item, first in kept),
        )

    async def _invalidate(self, tenant: str) -> None:
        try:
            await self._cache.invalidate(tenant)
        except Exception:  # a cache never raises (its port says so); if one does,
            # what is stored stays acknowledged: a retry would store it twice
            log.exception("the query cache failed to invalidate tenant %r", tenant)


def _settle(done: asyncio.Future[int], result: int | BaseException) -> None:
    if done.done():
        return
    if isinstance(result, BaseException):
        done.set_exception(result)
        done.exception()  # retrieved here: a waiter that went away must not log it
    else:
        done.set_result(result)
