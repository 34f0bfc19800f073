"""The IdempotencyStore contract, on every storage adapter (memory, SQLite, MongoDB)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest

from audit_trail.core.ports.idempotency import IdempotencyRecord, IdempotencyStore, StoredResponse
from audit_trail.core.ports.storage import Storage
from tests.contracts.conftest import REPOSITORY_FACTORIES

NOW = 1_800_000_000_000
RESPONSE = StoredResponse(
    201,
    (("content-type", "application/json"), ("location", "/e/1"), ("etag", '"1"')),
    b'{"id":"e-1","\xc3\xa9":1}',
)


@pytest.fixture(params=sorted(REPOSITORY_FACTORIES))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[IdempotencyStore]:
    async with REPOSITORY_FACTORIES[request.param](request, tmp_path) as repository:
        yield cast("Storage", repository).idempotency()


def record(key: str = "k", tenant: str = "t1", **fields: object) -> IdempotencyRecord:
    base = IdempotencyRecord(
        tenant=tenant,
        key=key,
        fingerprint="f" * 64,
        entry_ids=("e-1", "e-2"),
        owner="owner-1",
        lease_until=NOW + 30_000,
        expires_at=NOW + 86_400_000,
    )
    return replace(base, **fields)  # type: ignore[arg-type]


async def test_the_first_claim_wins_and_later_ones_see_it(store: IdempotencyStore) -> None:
    first = record()
    assert await store.claim(first, NOW) is None
    assert await store.claim(record(owner="owner-2", entry_ids=("e-9",)), NOW + 1) == first
    assert await store.find("t1", "k", NOW + 1) == first


async def test_racing_claims_make_one_winner(store: IdempotencyStore) -> None:
    claims = [record(owner=f"owner-{n}", entry_ids=(f"e-{n}",)) for n in range(5)]
    results = await asyncio.gather(*(store.claim(claim, NOW) for claim in claims))
    winners = [claim for claim, held in zip(claims, results, strict=True) if held is None]
    assert len(winners) == 1
    assert all(held in (None, winners[0]) for held in results)


async def test_keys_are_per_tenant(store: IdempotencyStore) -> None:
    assert await store.claim(record(tenant="t1"), NOW) is None
    assert await store.claim(record(tenant="t2", owner="other"), NOW) is None
    assert await store.find("t3", "k", NOW) is None
    found = await store.find("t2", "k", NOW)
    assert found is not None
    assert found.owner == "other"


async def test_an_expired_record_is_absent_and_replaced(store: IdempotencyStore) -> None:
    old = record(expires_at=NOW + 10)
    assert await store.claim(old, NOW) is None
    assert await store.find("t1", "k", NOW + 10) is None
    new = record(owner="owner-2", entry_ids=("e-3",), expires_at=NOW + 1000)
    assert await store.claim(new, NOW + 10) is None
    assert await store.find("t1", "k", NOW + 11) == new


async def test_a_take_over_needs_the_owner_it_saw(store: IdempotencyStore) -> None:
    held = record()
    await store.claim(held, NOW)
    assert await store.take_over(held, "owner-2", NOW + 60_000)
    assert not await store.take_over(held, "owner-3", NOW + 60_000)  # owner-1's no more
    found = await store.find("t1", "k", NOW)
    assert found == replace(held, owner="owner-2", lease_until=NOW + 60_000)


async def test_a_release_ends_the_owners_lease_only(store: IdempotencyStore) -> None:
    held = record()
    await store.claim(held, NOW)
    await store.release(replace(held, owner="someone else"), NOW + 5)
    assert await store.find("t1", "k", NOW + 5) == held
    await store.release(held, NOW + 5)
    assert await store.find("t1", "k", NOW + 5) == replace(held, lease_until=NOW + 5)


async def test_the_first_response_is_kept_as_sent(store: IdempotencyStore) -> None:
    held = record()
    await store.claim(held, NOW)
    await store.complete(replace(held, entry_ids=("e-9",)), RESPONSE)  # another claim's
    assert await store.find("t1", "k", NOW) == held
    await store.complete(replace(held, owner="a later owner"), RESPONSE)
    await store.complete(held, StoredResponse(201, (), b"second"))
    assert await store.find("t1", "k", NOW) == replace(held, response=RESPONSE)
    assert not await store.take_over(held, "owner-2", NOW + 1)  # answered: nothing to take
    await store.release(held, NOW + 1)
    assert await store.find("t1", "k", NOW) == replace(held, response=RESPONSE)
