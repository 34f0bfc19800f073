"""A log whose storage lost leaves or subtree hashes says so: LogDamaged, not an outage."""

from __future__ import annotations

import pytest

from audit_trail.adapters.storage.memory import InMemoryEntryRepository
from audit_trail.core import LogDamaged
from audit_trail.core.ledger.tree import LogTree
from tests.contracts.builders import make_entry


async def damaged_store() -> InMemoryEntryRepository:
    store = InMemoryEntryRepository()
    for _ in range(5):
        await store.append(make_entry())
    return store


async def test_a_lost_subtree_hash_is_log_damage() -> None:
    store = await damaged_store()
    del store._logs["t1"].nodes[(2, 0)]  # the hash of leaves 0..3, as if deleted on disk
    tree = LogTree(store)
    with pytest.raises(LogDamaged, match=r"\(2, 0\)"):
        await tree.root("t1", 5)
    with pytest.raises(LogDamaged):
        await tree.inclusion("t1", 4, 5)
    assert len(await tree.inclusion("t1", 0, 2)) == 1  # what is still held still proves
