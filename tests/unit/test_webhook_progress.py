"""Progress written behind delivery (``ProgressWriter``): one write at a time, what
was recorded meanwhile coalesced into the next one, a write that does not take or
fails reported by ``flush``; and the lease renewed in the background once a third of
it has passed, waited for only past two thirds.
On the in-memory WebhookStore, with one wrapper that holds writes back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from audit_trail.adapters.storage.memory_webhooks import InMemoryWebhookStore
from audit_trail.core.errors import StorageUnavailable
from audit_trail.core.ports.webhooks import Progress
from audit_trail.core.query import EntryFilters
from audit_trail.core.webhooks.lease import SubscriptionLease
from audit_trail.core.webhooks.progress import ProgressWriter
from audit_trail.core.webhooks.subscription import ACTIVE, DeliveryAttempt, Subscription

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SUB = Subscription(
    id="w1",
    tenant="t1",
    url="https://receiver.example/hook",
    filters=EntryFilters(),
    description="",
    secret="whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=",
    created_at=NOW,
    created_by="admin-1",
    cursor=-1,
)


class HeldStore(InMemoryWebhookStore):
    """Each ``save`` waits for ``gate``; ``saves`` counts them, ``fail`` makes the
    next one raise."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.gate.set()
        self.saves = 0
        self.leases = 0
        self.lease_gate = asyncio.Event()
        self.lease_gate.set()
        self.fail = False

    async def save(self, *args: object, **kwargs: object) -> bool:
        await self.gate.wait()
        self.saves += 1
        if self.fail:
            self.fail = False
            raise StorageUnavailable("storage is down")
        return await super().save(*args, **kwargs)  # type: ignore[arg-type]

    async def lease(self, *args: object, **kwargs: object) -> bool:
        self.leases += 1
        await self.lease_gate.wait()
        return await super().lease(*args, **kwargs)  # type: ignore[arg-type]


def delivered(cursor: int) -> Progress:
    return Progress(cursor, ACTIVE, 0, None, None)


def attempt(index: int) -> DeliveryAttempt:
    return DeliveryAttempt(NOW, index, f"t1:{index}", 200, None, 1.0)


@pytest.fixture
async def store() -> HeldStore:
    held = HeldStore()
    await held.create(SUB)
    assert await held.lease("t1", "w1", "me", NOW + timedelta(seconds=30), NOW)
    return held


async def test_progress_recorded_during_a_write_is_coalesced_into_the_next(
    store: HeldStore,
) -> None:
    writer = ProgressWriter(store, SUB, "me")
    store.gate.clear()
    for index in range(5):
        writer.record(delivered(index), [attempt(index)])
        await asyncio.sleep(0)
    store.gate.set()

    assert await writer.flush()

    assert store.saves == 2  # the first progress, then the newest of the four after it
    stored = await store.get("t1", "w1")
    assert stored is not None
    assert stored.cursor == 4
    log = await store.attempts("t1", "w1", 100)
    assert [a.index for a in log] == [4, 3, 2, 1, 0]


async def test_a_write_that_does_not_take_is_reported_and_stops_the_writing(
    store: HeldStore,
) -> None:
    writer = ProgressWriter(store, SUB, "someone-else")  # not the lease's owner
    writer.record(delivered(3), [attempt(3)])

    assert not await writer.flush()
    writer.record(delivered(9), [attempt(9)])
    assert not await writer.flush()

    assert store.saves == 1
    stored = await store.get("t1", "w1")
    assert stored is not None
    assert stored.cursor == -1


async def test_a_failed_write_is_raised_by_flush_and_its_progress_written_next(
    store: HeldStore,
) -> None:
    writer = ProgressWriter(store, SUB, "me")
    store.fail = True
    writer.record(delivered(2), [attempt(1), attempt(2)])

    with pytest.raises(StorageUnavailable):
        await writer.flush()
    writer.record(delivered(3), [attempt(3)])
    assert await writer.flush()

    stored = await store.get("t1", "w1")
    assert stored is not None
    assert stored.cursor == 3
    log = await store.attempts("t1", "w1", 100)
    assert [a.index for a in log] == [3, 2, 1]


class Clock:
    def __init__(self) -> None:
        self.at = NOW

    def now(self) -> datetime:
        return self.at


async def test_the_lease_is_renewed_in_the_background_once_a_third_of_it_has_passed(
    store: HeldStore,
) -> None:
    clock = Clock()
    lease = SubscriptionLease(store, clock, 30.0, tenant="t1", subscription_id="w1", owner="me")
    before = store.leases

    for _ in range(50):
        assert await lease.hold()
        clock.at += timedelta(seconds=0.1)  # 5 s in all
    assert store.leases - before == 1
    clock.at += timedelta(seconds=6)  # past 10 s: a third of the lease
    store.lease_gate.clear()  # the renewal's write waits (a busy SQLite file)
    assert await lease.hold()  # at once: the renewal goes on in the background
    await asyncio.sleep(0)
    assert store.leases - before == 2
    clock.at += timedelta(seconds=9)  # 20 s after the lease was taken: two thirds
    waiting = asyncio.create_task(lease.hold())
    await asyncio.sleep(0.01)
    assert not waiting.done()  # now it waits for the renewal
    store.lease_gate.set()
    assert await waiting
    await lease.close()


async def test_a_renewal_another_owner_won_ends_the_hold(store: HeldStore) -> None:
    clock = Clock()
    lease = SubscriptionLease(store, clock, 30.0, tenant="t1", subscription_id="w1", owner="me")
    assert await lease.hold()
    await store.release("t1", "w1", "me")
    assert await store.lease("t1", "w1", "other", NOW + timedelta(seconds=60), NOW)

    clock.at += timedelta(seconds=11)
    assert await lease.hold()  # the renewal has just started
    await asyncio.sleep(0.01)
    assert not await lease.hold()


async def test_a_lease_another_owner_holds_is_not_held(store: HeldStore) -> None:
    lease = SubscriptionLease(
        store, Clock(), 30.0, tenant="t1", subscription_id="w1", owner="someone-else"
    )

    assert not await lease.hold()
