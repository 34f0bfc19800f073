"""The query index keeps up with the log: on each write, or shortly behind the writes."""

from __future__ import annotations

import asyncio

import pytest

from audit_trail.adapters.storage.memory import InMemoryEntryRepository
from audit_trail.core.index import integrate
from audit_trail.core.index.integrate import IndexIntegrator
from audit_trail.core.index.upkeep import CATCH_UP_REST, IndexFollower, IntegrateOnWrite
from audit_trail.core.integrity.leaf import revision_record
from audit_trail.core.ledger.committer import GroupCommitter
from audit_trail.core.ports.index import IndexHead
from tests.contracts.builders import make_entry
from tests.unit.fakes import CountingQueryCache

TENANT = "t1"


def setup(
    delay: float | None, chunk: int = 4096
) -> tuple[InMemoryEntryRepository, GroupCommitter, IndexFollower | None]:
    storage = InMemoryEntryRepository()
    integrator = IndexIntegrator(storage.query_index(), storage)
    follower = None if delay is None else IndexFollower(integrator, delay, chunk=chunk)
    upkeep = IntegrateOnWrite(integrator) if follower is None else follower
    return storage, GroupCommitter(storage, CountingQueryCache(), index=upkeep), follower


async def record(committer: GroupCommitter) -> int:
    return await committer.append(TENANT, [revision_record(make_entry(TENANT))])


async def covers(storage: InMemoryEntryRepository) -> int:
    head = await storage.query_index().head(TENANT)
    return 0 if head is None else head.covers


async def eventually_covers(storage: InMemoryEntryRepository, size: int) -> None:
    for _ in range(200):
        if await covers(storage) >= size:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"the index covers {await covers(storage)} leaves, not {size}")


async def test_on_write_each_acknowledged_change_is_already_covered_by_an_index_leaf() -> None:
    storage, committer, _ = setup(None)
    for _ in range(3):
        position = await record(committer)
        head = await storage.query_index().head(TENANT)
        assert head is not None
        assert head.covers == position + 1
        assert head.leaf_index == position + 1 == await storage.size(TENANT) - 1


async def test_the_follower_integrates_the_writes_of_its_delay_in_one_go() -> None:
    storage, committer, follower = setup(0.5)
    assert follower is not None
    positions = [await record(committer) for _ in range(5)]
    assert await covers(storage) == 0  # the writes did not wait for it
    await eventually_covers(storage, positions[-1] + 1)
    assert await storage.size(TENANT) == len(positions) + 1  # one index leaf for all five
    await follower.close()


async def test_a_whole_chunk_of_changes_is_integrated_without_waiting_for_the_delay() -> None:
    storage, committer, follower = setup(60, chunk=3)
    assert follower is not None
    first, second = await record(committer), await record(committer)
    await asyncio.sleep(0.1)
    assert await covers(storage) == 0  # two changes wait for the delay
    third = await record(committer)
    await eventually_covers(storage, third + 1)  # a third makes a chunk: at once
    assert first < second < third
    await follower.close()


async def test_the_follower_comes_back_for_writes_after_it_caught_up() -> None:
    storage, committer, follower = setup(0.05)
    assert follower is not None
    first = await record(committer)
    await eventually_covers(storage, first + 1)
    later = await record(committer)
    await eventually_covers(storage, later + 1)
    await follower.close()


async def test_a_closed_follower_leaves_the_rest_to_the_next_integration() -> None:
    storage, committer, follower = setup(0.05)
    assert follower is not None
    await record(committer)
    await follower.close()
    await record(committer)
    await asyncio.sleep(0.2)  # four times the delay
    assert await covers(storage) == 0


class Pauses:
    """``asyncio`` as integrate.py sees it, with every sleep's delay recorded."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __getattr__(self, name: str) -> object:
        return getattr(asyncio, name)

    async def sleep(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


async def test_a_catch_up_rests_between_chunks_as_long_as_each_took(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pauses = Pauses()
    monkeypatch.setattr(integrate, "asyncio", pauses)
    monkeypatch.setattr(integrate, "CHUNK", 4)
    storage = InMemoryEntryRepository()
    for _ in range(10):
        await storage.commit(TENANT, [[revision_record(make_entry(TENANT))]])
    integrator = IndexIntegrator(storage.query_index(), storage)
    await integrator.integrate(TENANT)  # a proof's integration: no rest
    assert pauses.delays == [0, 0]  # two chunks after the first, no rest

    for _ in range(10):
        await storage.commit(TENANT, [[revision_record(make_entry(TENANT))]])
    pauses.delays.clear()
    await integrator.integrate(TENANT, rest=1.0)  # the follower's: a rest per chunk
    between_chunks = [delay for delay in pauses.delays if delay > 0]
    assert len(between_chunks) == 2  # 11 new leaves (10 and the last index leaf), 3 chunks
    assert await covers(storage) == await storage.size(TENANT) - 1


async def test_the_follower_catches_up_at_rest() -> None:
    seen: list[float] = []

    class Recording(IndexIntegrator):
        async def integrate(self, tenant: str, *, rest: float = 0.0) -> IndexHead:
            seen.append(rest)
            return await super().integrate(tenant, rest=rest)

    storage = InMemoryEntryRepository()
    follower = IndexFollower(Recording(storage.query_index(), storage), 0.01)
    committer = GroupCommitter(storage, CountingQueryCache(), index=follower)
    position = await record(committer)
    await eventually_covers(storage, position + 1)
    assert seen == [CATCH_UP_REST]
    await follower.close()
