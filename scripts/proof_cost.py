"""What an inclusion proof costs at a large tree size, measured on a real store.

    .venv/bin/python scripts/proof_cost.py [--leaves 1000000] [--storage sqlite|memory]

Builds a tenant log of ``--leaves`` bare leaves (in commits of 10,000), then asks the
evidence use case for inclusion proofs of leaves spread over the log and prints, per
proof, its number of hashes, the storage calls it made and the node rows they read.
The figures are quoted in docs/integrity.md.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from audit_trail.adapters.storage.memory import InMemoryEntryRepository
from audit_trail.adapters.storage.sqlite import SqliteEntryRepository
from audit_trail.core.integrity.merkle import leaf_hash
from audit_trail.core.ledger.tree import LogTree
from audit_trail.core.ports.log import LogRecord, NodeId

COMMIT = 10_000


class Counting:
    """Forwards to a store, counting its calls and the node hashes it returned."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.calls = 0
        self.rows = 0

    async def node_hashes(self, tenant: str, nodes: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        self.calls += 1
        found = await self._store.node_hashes(tenant, nodes)
        self.rows += len(found)
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def build(store: Any, leaves: int) -> None:
    started = time.monotonic()
    for start in range(0, leaves, COMMIT):
        records = []
        for i in range(start, min(start + COMMIT, leaves)):
            leaf = b'{"kind":"bench","n":%d}' % i
            records.append(LogRecord(leaf=leaf, leaf_hash=leaf_hash(leaf)))
        await store.commit("bench", [records])
    print(f"built {leaves} leaves in {time.monotonic() - started:.1f}s")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--storage", choices=["sqlite", "memory"], default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        if args.storage == "sqlite":
            store: Any = await SqliteEntryRepository.open(Path(folder) / "proof-cost.db")
        else:
            store = InMemoryEntryRepository()
        await build(store, args.leaves)
        size = await store.size("bench")
        counting = Counting(store)
        tree = LogTree(counting)
        print(f"tree size {size}")
        worst_hashes = worst_rows = 0
        for index in (0, 1, size // 3, size // 2, size - 2, size - 1, 777_777 % size):
            counting.calls = counting.rows = 0
            proof = await tree.inclusion("bench", index, size)
            worst_hashes = max(worst_hashes, len(proof))
            worst_rows = max(worst_rows, counting.rows)
            print(
                f"leaf {index:>8}: {len(proof):>2} hashes, {counting.calls} storage call(s), "
                f"{counting.rows} node rows read"
            )
        print(f"worst: {worst_hashes} hashes, {worst_rows} node rows")
        if args.storage == "sqlite":
            await store.close()


if __name__ == "__main__":
    asyncio.run(main())
