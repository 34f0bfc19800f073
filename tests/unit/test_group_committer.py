"""GroupCommitter: concurrent changes of a tenant share one storage write, bounded."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from audit_trail.adapters.storage.memory import InMemoryEntryRepository
from audit_trail.core import DomainError, DuplicateEntry, Overloaded, StorageUnavailable
from audit_trail.core.integrity.leaf import revision_record
from audit_trail.core.ledger.committer import GroupCommitter
from audit_trail.core.ports.log import LogRecord
from tests.contracts.builders import make_entry
from tests.unit.fakes import CountingQueryCache


class SlowLog(InMemoryEntryRepository):
    """The in-memory log, with each commit held until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.commits: list[list[int]] = []  # group sizes per commit
        self.release = asyncio.Event()
        self.release.set()
        self.fail: Exception | None = None

    async def commit(
        self, tenant: str, groups: Sequence[Sequence[LogRecord]]
    ) -> list[int | DomainError]:
        self.commits.append([len(g) for g in groups])
        await self.release.wait()
        if self.fail is not None:
            raise self.fail
        return await super().commit(tenant, groups)


def record(tenant: str = "t1") -> LogRecord:
    return revision_record(make_entry(tenant))


async def test_a_lone_change_is_written_at_once_and_invalidates_the_cache() -> None:
    log, cache = SlowLog(), CountingQueryCache()
    committer = GroupCommitter(log, cache)
    assert await committer.append("t1", [record()]) == 0
    assert log.commits == [[1]]
    assert cache.invalidations == ["t1"]


async def test_changes_arriving_during_a_write_share_the_next_one() -> None:
    log, cache = SlowLog(), CountingQueryCache()
    committer = GroupCommitter(log, cache)
    log.release.clear()
    first = asyncio.create_task(committer.append("t1", [record()]))
    await asyncio.sleep(0)
    later = [asyncio.create_task(committer.append("t1", [record(), record()])) for _ in range(5)]
    await asyncio.sleep(0.01)
    log.release.set()
    indices = await asyncio.gather(first, *later)
    assert log.commits == [[1], [2, 2, 2, 2, 2]]
    assert indices == [0, 1, 3, 5, 7, 9]
    assert cache.invalidations == ["t1", "t1"]
    assert await log.size("t1") == 11


async def test_a_refused_change_does_not_fail_the_others_in_its_write() -> None:
    log = SlowLog()
    committer = GroupCommitter(log, CountingQueryCache())
    taken = revision_record(make_entry())
    await committer.append("t1", [taken])
    log.release.clear()
    blocker = asyncio.create_task(committer.append("t1", [record()]))
    await asyncio.sleep(0)
    duplicate = asyncio.create_task(committer.append("t1", [taken]))
    fine = asyncio.create_task(committer.append("t1", [record()]))
    await asyncio.sleep(0)
    log.release.set()
    await blocker
    with pytest.raises(DuplicateEntry):
        await duplicate
    assert await fine == 2


async def test_a_full_queue_refuses_at_once_and_memory_stays_bounded() -> None:
    log = SlowLog()
    committer = GroupCommitter(log, CountingQueryCache(), max_pending=3)
    log.release.clear()
    writing = asyncio.create_task(committer.append("t1", [record()]))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(committer.append("t1", [record()])) for _ in range(3)]
    await asyncio.sleep(0)
    with pytest.raises(Overloaded):
        await committer.append("t1", [record()])
    assert committer.pending == 3
    log.release.set()
    await asyncio.gather(writing, *waiting)
    assert committer.pending == 0


async def test_a_storage_failure_reaches_every_waiter_and_the_next_write_proceeds() -> None:
    log = SlowLog()
    committer = GroupCommitter(log, CountingQueryCache())
    log.fail = StorageUnavailable("down")
    with pytest.raises(StorageUnavailable):
        await committer.append("t1", [record()])
    log.fail = None
    assert await committer.append("t1", [record()]) == 0


class StoredThenTimedOut(InMemoryEntryRepository):
    """A log whose commit stores the changes and then fails, as a write whose answer
    was lost to a timeout does."""

    async def commit(
        self, tenant: str, groups: Sequence[Sequence[LogRecord]]
    ) -> list[int | DomainError]:
        await super().commit(tenant, groups)
        raise StorageUnavailable("timed out")


async def test_a_write_that_failed_after_storing_still_invalidates_the_cache() -> None:
    log, cache = StoredThenTimedOut(), CountingQueryCache()
    committer = GroupCommitter(log, cache)
    with pytest.raises(StorageUnavailable):
        await committer.append("t1", [record()])
    assert await log.size("t1") == 1  # stored after all: a cached page would lack it
    assert cache.invalidations == ["t1"]


async def test_a_cancelled_caller_does_not_cancel_the_write() -> None:
    log = SlowLog()
    committer = GroupCommitter(log, CountingQueryCache())
    log.release.clear()
    task = asyncio.create_task(committer.append("t1", [record()]))
    await asyncio.sleep(0)
    task.cancel()
    log.release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(5):
        await asyncio.sleep(0)
    assert await log.size("t1") == 1


async def test_tenants_are_written_independently() -> None:
    log = SlowLog()
    committer = GroupCommitter(log, CountingQueryCache())
    results = await asyncio.gather(
        committer.append("t1", [record("t1")]), committer.append("t2", [record("t2")])
    )
    assert list(results) == [0, 0]


class RecordingMetrics:
    """A ``Metrics`` observer that keeps what it is told."""

    def __init__(self) -> None:
        self.commits: list[tuple[str, int, int, int]] = []  # tenant, leaves, entries, size
        self.pending: list[int] = []

    def committed(self, tenant: str, *, leaves: int, entries: int, log_size: int) -> None:
        self.commits.append((tenant, leaves, entries, log_size))

    def pending_writes(self, leaves: int) -> None:
        self.pending.append(leaves)

    def checkpoint_signed(self, tenant: str, size: int) -> None:
        raise AssertionError("the committer signs no checkpoint")

    def webhook_attempt(self, *, delivered: bool) -> None:
        raise AssertionError("the committer delivers no webhook")


async def test_each_write_reports_its_batch_the_entries_and_the_queue_depth() -> None:
    log, metrics = SlowLog(), RecordingMetrics()
    committer = GroupCommitter(log, CountingQueryCache(), metrics=metrics)
    log.release.clear()
    first = asyncio.create_task(committer.append("t1", [record()]))
    await asyncio.sleep(0)
    later = [asyncio.create_task(committer.append("t1", [record(), record()])) for _ in range(3)]
    await asyncio.sleep(0.01)
    assert metrics.pending[-1] == 6  # three changes of two leaves wait behind the first
    log.release.set()
    await asyncio.gather(first, *later)

    assert metrics.commits == [("t1", 1, 1, 1), ("t1", 6, 6, 7)]
    assert metrics.pending[-1] == 0


async def test_a_refused_change_is_not_counted() -> None:
    log, metrics = SlowLog(), RecordingMetrics()
    committer = GroupCommitter(log, CountingQueryCache(), metrics=metrics)
    stored = record()
    await committer.append("t1", [stored])
    with pytest.raises(DuplicateEntry):
        await committer.append("t1", [stored])
    assert metrics.commits == [("t1", 1, 1, 1)]
