"""RetentionSweeper: purges a tenant's expired entries, a bounded batch at a time.

Per batch (docs/lifecycle.md, "Retention and legal holds"):

1. read up to ``batch`` current revisions recorded before the cutoff, oldest first;
2. drop those an active legal hold covers (holds read again for every batch);
3. commit, as **one** group of the tenant log, a tombstone (by ``system:retention``)
   for each live one and a purge leaf listing them all: both are in the log, or none;
4. bring the query index up to the log (its tombstone postings need the revisions);
5. read the holds once more, and physically delete every revision of the listed
   entries that no hold covers now (leaves and tree stay: the log still verifies);
6. invalidate the tenant's cached queries.

A crash after 3 leaves tombstones by ``system:retention`` that a purge leaf lists: the
next sweep finds them first (``finish``) and deletes them, once the leaf that lists
each is found in the log. Nothing is deleted that no purge leaf lists.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from audit_trail.core.errors import EntryNotFound, RevisionConflict
from audit_trail.core.holds import Hold
from audit_trail.core.index.integrate import IndexIntegrator
from audit_trail.core.integrity.leaf import sealed_record
from audit_trail.core.integrity.merkle import ProofError
from audit_trail.core.ledger.committer import GroupCommitter
from audit_trail.core.model import Entry
from audit_trail.core.ports import Clock, QueryCache
from audit_trail.core.ports.holds import LegalHolds
from audit_trail.core.ports.log import LogRecord, TenantLog
from audit_trail.core.ports.retention import RetentionStore
from audit_trail.core.retention.policy import RetentionPolicy, effective_policy
from audit_trail.core.retention.purge_leaf import (
    RETENTION_SUBJECT,
    is_purge_leaf,
    parse_purge_leaf,
    purge_leaf,
)
from audit_trail.core.usecases.holds import first_holding

log = logging.getLogger(__name__)

DEFAULT_BATCH = 500
LEAVES_PER_READ = 1000


@dataclass(slots=True)
class SweepResult:
    """What one sweep of one tenant did."""

    purged: int = 0  # entries deleted from storage
    held: int = 0  # expired entries kept because a legal hold covers them
    batches: int = 0  # purge leaves committed
    finished: int = 0  # entries of an earlier, interrupted purge deleted now
    purge_leaves: list[int] = field(default_factory=list)  # where each purge leaf sits


class RetentionSweeper:
    def __init__(  # noqa: PLR0917 - the ports it works with, each once
        self,
        store: RetentionStore,
        log_store: TenantLog,
        committer: GroupCommitter,
        holds: LegalHolds,
        integrator: IndexIntegrator,
        cache: QueryCache,
        clock: Clock,
        *,
        default_days: float | None = None,
        batch: int = DEFAULT_BATCH,
        pause: float = 0.0,
    ) -> None:
        self._store = store
        self._log = log_store
        self._committer = committer
        self._holds = holds
        self._integrator = integrator
        self._cache = cache
        self._clock = clock
        self._default_days = default_days
        self._batch = batch
        self._pause = pause

    async def policy(self, tenant: str) -> RetentionPolicy:
        return effective_policy(await self._store.setting(tenant), self._default_days)

    async def tenants(self) -> list[str]:
        """The tenants with a retention period: their own, or the default's."""
        own = await self._store.tenants_with_setting()
        tenants = {tenant for tenant, days in own if days is not None}
        if self._default_days is not None:
            configured = {tenant for tenant, _ in own}
            tenants.update(t for t in await self._store.log_tenants() if t not in configured)
        return sorted(tenants)

    async def sweep_all(self) -> dict[str, SweepResult]:
        """Sweep every tenant with a retention period; a tenant whose sweep fails is
        logged and left for the next run."""
        results: dict[str, SweepResult] = {}
        for tenant in await self.tenants():
            try:
                results[tenant] = await self.sweep(tenant)
            except Exception:
                log.exception("the retention sweep of tenant %r failed; retried next time", tenant)
        return results

    async def sweep(self, tenant: str, *, max_batches: int | None = None) -> SweepResult:
        """Finish any interrupted purge, then purge up to ``max_batches`` batches (all
        that are due when None) of ``tenant``'s expired entries."""
        result = SweepResult()
        await self.finish(tenant, result)
        cutoff = (await self.policy(tenant)).cutoff(self._clock.now())
        after: tuple[datetime, str] | None = None
        while cutoff is not None and (max_batches is None or result.batches < max_batches):
            candidates = await self._store.expired(tenant, cutoff, self._batch, after)
            if not candidates:
                break
            after = (candidates[-1].recorded_at, candidates[-1].id)
            await self._purge_batch(tenant, cutoff, candidates, result)
            if len(candidates) < self._batch:
                break
            if self._pause:
                await asyncio.sleep(self._pause)
        if result.purged or result.held:
            log.info(
                "retention purged %d entries of tenant %r (%d batches, %d held, %d finished)",
                result.purged,
                tenant,
                result.batches,
                result.held,
                result.finished,
            )
        return result

    async def _purge_batch(
        self, tenant: str, cutoff: datetime, candidates: Sequence[Entry], result: SweepResult
    ) -> None:
        holds = await self._holds.list(tenant)
        free = [entry for entry in candidates if first_holding(holds, entry) is None]
        result.held += len(candidates) - len(free)
        if not free:
            return
        now = self._clock.now()
        records: list[LogRecord] = [_tombstone(entry, now) for entry in free if not entry.deleted]
        records.append(purge_leaf(tenant, now, cutoff, [e.id for e in free]).record())
        try:
            first = await self._committer.append(tenant, records)
        except (RevisionConflict, EntryNotFound) as exc:
            # an entry of the batch changed since it was read: the whole group was
            # refused (nothing of it stored); the next sweep reads it afresh
            log.info("a retention batch of tenant %r was refused (%s); retried later", tenant, exc)
            return
        result.batches += 1
        result.purge_leaves.append(first + len(records) - 1)
        result.purged += await self._delete(tenant, free)

    async def _delete(self, tenant: str, listed: Sequence[Entry]) -> int:
        """Delete the entries a committed purge leaf lists, but none a hold covers now."""
        await self._integrator.integrate(tenant)
        holds = await self._holds.list(tenant)
        ids = [entry.id for entry in listed if first_holding(holds, entry) is None]
        if not ids:
            return 0
        purged = await self._store.purge(tenant, ids)
        await self._invalidate(tenant)
        return purged

    async def finish(self, tenant: str, result: SweepResult | None = None) -> int:
        """Delete the entries of interrupted purges: tombstoned by ``system:retention``
        and listed by the purge leaf committed with their tombstone."""
        result = result if result is not None else SweepResult()
        finished = 0
        after: tuple[datetime, str] | None = None
        while True:
            pending = await self._store.tombstoned_by(tenant, RETENTION_SUBJECT, self._batch, after)
            if not pending:
                break
            after = (pending[-1].recorded_at, pending[-1].id)  # held ones stay behind
            listed = await self._listed(tenant, pending)
            holds: Sequence[Hold] = await self._holds.list(tenant)
            due = [e for e in pending if e.id in listed and first_holding(holds, e) is None]
            if due:
                finished += await self._delete(tenant, due)
            if len(pending) < self._batch:
                break
        result.finished += finished
        result.purged += finished
        return finished

    async def _listed(self, tenant: str, tombstones: Sequence[Entry]) -> set[str]:
        """The ids among ``tombstones`` that a purge leaf lists: the leaf of the group
        that committed each tombstone, at most ``batch`` leaves after it."""
        positions = await self._log.leaf_indices(tenant, [(e.id, e.revision) for e in tombstones])
        listed: set[str] = set()
        size = await self._log.size(tenant)
        for start, end in _spans(sorted(positions.values()), self._batch + 1, size):
            for at in range(start, end, LEAVES_PER_READ):
                for stored in await self._log.leaves(tenant, at, min(end, at + LEAVES_PER_READ)):
                    obj = json.loads(stored.leaf)
                    if is_purge_leaf(obj):
                        try:
                            listed.update(parse_purge_leaf(obj).ids)
                        except ProofError:  # not one we wrote: it lists nothing to delete
                            continue
        return listed

    async def _invalidate(self, tenant: str) -> None:
        try:
            await self._cache.invalidate(tenant)
        except Exception:  # a cache never raises; if one does, the purge stands
            log.exception("the query cache failed to invalidate tenant %r", tenant)


def _tombstone(entry: Entry, now: datetime) -> LogRecord:
    if entry.evidence is None:
        raise ValueError(f"the current revision of {entry.id!r} carries no evidence")
    tombstone = entry.next_revision(now, RETENTION_SUBJECT, deleted=True)
    return sealed_record(tombstone, prev=entry.evidence.leaf_hash)


def _spans(positions: Sequence[int], reach: int, size: int) -> list[tuple[int, int]]:
    """Ranges ``[p, p + reach]`` around each position, merged where they overlap."""
    spans: list[tuple[int, int]] = []
    for position in positions:
        end = min(size, position + reach + 1)
        if spans and position <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((position, end))
    return spans
