"""The WebhookStore contract, on every storage adapter (memory, SQLite, MongoDB)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest

from audit_trail.core.ports.storage import Storage
from audit_trail.core.ports.webhooks import DELIVERY_LOG_SIZE, Progress, WebhookStore
from audit_trail.core.query import EntryFilters
from audit_trail.core.webhooks.subscription import ACTIVE, DEAD, DeliveryAttempt, Subscription
from tests.contracts.conftest import REPOSITORY_FACTORIES

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LEASE = NOW + timedelta(seconds=30)


@pytest.fixture(params=sorted(REPOSITORY_FACTORIES))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[WebhookStore]:
    async with REPOSITORY_FACTORIES[request.param](request, tmp_path) as repository:
        yield cast("Storage", repository).webhooks()


def subscription(sub_id: str = "w1", tenant: str = "t1", **fields: object) -> Subscription:
    base = Subscription(
        id=sub_id,
        tenant=tenant,
        url="https://receiver.example/hook",
        filters=EntryFilters(action_prefix="document.", tag="ui"),
        description="to the SIEM",
        secret="whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=",
        created_at=NOW,
        created_by="admin-1",
        cursor=41,
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def attempt(index: int, error: str | None = None, second: int = 0) -> DeliveryAttempt:
    at = NOW + timedelta(seconds=second)
    return DeliveryAttempt(at, index, f"t1:{index}", None if error else 200, error, 12.5)


async def test_a_subscription_is_kept_whole_secret_included(store: WebhookStore) -> None:
    created = subscription()
    await store.create(created)
    assert await store.get("t1", "w1") == created
    assert (await store.get("t1", "w1")).secret == created.secret  # type: ignore[union-attr]


async def test_list_is_the_tenant_s_oldest_first_and_delete_drops_one(store: WebhookStore) -> None:
    later = subscription("w0", created_at=NOW + timedelta(seconds=5))
    await store.create(later)
    await store.create(subscription("w1"))
    await store.create(subscription("w9", tenant="t2"))
    assert [s.id for s in await store.list("t1")] == ["w1", "w0"]
    assert await store.delete("t1", "w1")
    assert not await store.delete("t1", "w1")
    assert await store.get("t1", "w1") is None
    assert [s.id for s in await store.list("t1")] == ["w0"]


async def test_another_tenant_s_subscription_is_not_found(store: WebhookStore) -> None:
    await store.create(subscription())
    assert await store.get("t2", "w1") is None
    assert await store.list("t2") == []
    assert not await store.delete("t2", "w1")
    assert await store.resume("t2", "w1") is None
    assert not await store.lease("t2", "w1", "a", LEASE, NOW)
    assert await store.attempts("t2", "w1", 10) == []
    assert await store.get("t1", "w1") is not None


async def test_of_two_owners_one_holds_the_lease_until_it_expires(store: WebhookStore) -> None:
    await store.create(subscription())
    assert await store.lease("t1", "w1", "a", LEASE, NOW)
    assert not await store.lease("t1", "w1", "b", LEASE, NOW + timedelta(seconds=1))
    assert await store.lease("t1", "w1", "a", LEASE, NOW + timedelta(seconds=1))  # renewed
    assert [s.id for s in await store.claimable(NOW + timedelta(seconds=1))] == []
    expired = LEASE + timedelta(seconds=1)
    assert [s.id for s in await store.claimable(expired)] == ["w1"]
    assert await store.lease("t1", "w1", "b", expired + timedelta(seconds=30), expired)
    assert not await store.lease("t1", "w1", "a", LEASE, expired)
    await store.release("t1", "w1", "a")  # not a's: nothing changes
    assert not await store.lease("t1", "w1", "a", LEASE, expired)
    await store.release("t1", "w1", "b")
    assert await store.lease("t1", "w1", "a", expired + timedelta(seconds=30), expired)


async def test_save_is_compare_and_set_on_the_lease_and_the_cursor(store: WebhookStore) -> None:
    await store.create(subscription())
    progress = Progress(45, ACTIVE, 0, None, None)
    assert not await store.save(
        "t1", "w1", "a", expected_cursor=41, progress=progress, attempts=[]
    )  # no lease
    assert await store.lease("t1", "w1", "a", LEASE, NOW)
    assert not await store.save(
        "t1", "w1", "b", expected_cursor=41, progress=progress, attempts=[attempt(42)]
    )  # not the holder
    assert not await store.save(
        "t1", "w1", "a", expected_cursor=40, progress=progress, attempts=[attempt(42)]
    )  # the cursor moved on meanwhile
    assert await store.attempts("t1", "w1", 10) == []
    failed = Progress(44, ACTIVE, 2, "HTTP 500", NOW + timedelta(seconds=4))
    assert await store.save(
        "t1", "w1", "a", expected_cursor=41, progress=failed, attempts=[attempt(45, "HTTP 500")]
    )
    saved = await store.get("t1", "w1")
    assert saved is not None
    assert (saved.cursor, saved.state, saved.failures) == (44, ACTIVE, 2)
    assert (saved.last_error, saved.next_attempt_at) == ("HTTP 500", NOW + timedelta(seconds=4))
    assert (saved.url, saved.secret) == (subscription().url, subscription().secret)


async def test_a_dead_subscription_is_not_claimable_until_resumed(store: WebhookStore) -> None:
    await store.create(subscription())
    assert await store.lease("t1", "w1", "a", LEASE, NOW)
    dead = Progress(44, DEAD, 8, "timed out", None)
    assert await store.save("t1", "w1", "a", expected_cursor=41, progress=dead, attempts=[])
    await store.release("t1", "w1", "a")
    assert await store.claimable(NOW) == []
    resumed = await store.resume("t1", "w1")
    assert resumed is not None
    assert (resumed.state, resumed.failures, resumed.cursor) == (ACTIVE, 0, 44)
    assert resumed.next_attempt_at is None
    assert [s.id for s in await store.claimable(NOW)] == ["w1"]


async def test_the_delivery_log_keeps_the_newest_first_and_is_bounded(store: WebhookStore) -> None:
    await store.create(subscription())
    await store.create(subscription("w2"))
    assert await store.lease("t1", "w1", "a", LEASE, NOW)
    cursor = 41
    total = DELIVERY_LOG_SIZE + 15
    for start in range(0, total, 40):
        batch = [attempt(42 + n, second=n) for n in range(start, min(total, start + 40))]
        progress = Progress(batch[-1].index, ACTIVE, 0, None, None)
        assert await store.save(
            "t1", "w1", "a", expected_cursor=cursor, progress=progress, attempts=batch
        )
        cursor = batch[-1].index
    log = await store.attempts("t1", "w1", 1000)
    assert len(log) == DELIVERY_LOG_SIZE
    assert [a.index for a in log] == list(
        range(42 + total - 1, 42 + total - 1 - DELIVERY_LOG_SIZE, -1)
    )
    assert log[0] == attempt(42 + total - 1, second=total - 1)
    assert [a.index for a in await store.attempts("t1", "w1", 3)] == [
        42 + total - 1,
        42 + total - 2,
        42 + total - 3,
    ]
    assert await store.attempts("t1", "w2", 10) == []  # each subscription its own log
    assert await store.delete("t1", "w1")
    assert await store.attempts("t1", "w1", 10) == []
