"""Checks of a tenant log stored on MongoDB, read straight from the collections, and a
writer that a test runs as a process of its own (``python -m`` this module).

``check_log`` verifies what a client of the log relies on: the leaves hold every
position from 0 to the size exactly once, each leaf hash is the hash of its leaf, the
stored tree is the tree of those leaves (every complete-subtree node and the head's
right edge recomputed from them), and every entry has at most one live revision, its
newest unless it is deleted.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import sys
import time
from collections.abc import Iterable
from typing import Any

from pymongo import AsyncMongoClient, MongoClient

from audit_trail.adapters.storage.mongo import MongoEntryRepository
from audit_trail.adapters.storage.mongo_documents import ENTRIES_COLLECTION
from audit_trail.adapters.storage.mongo_tree import TREE_COLLECTION, head_id, node_id
from audit_trail.core.integrity.leaf import revision_record
from audit_trail.core.integrity.merkle import CompactRange
from audit_trail.core.model import Entry
from audit_trail.core.ports.log import LogRecord
from tests.contracts.builders import amended, make_entry, tombstone


def check_log(client: MongoClient[dict[str, Any]], database: str, tenant: str) -> int:
    """Assert that ``tenant``'s log in ``database`` is whole; its size."""
    entries = client[database][ENTRIES_COLLECTION]
    leaves = list(
        entries.find(
            {"tenant": tenant, "log_index": {"$exists": True}},
            {"log_index": 1, "leaf": 1, "leaf_hash": 1, "id": 1, "revision": 1},
        ).sort("log_index", 1)
    )
    indexes = [leaf["log_index"] for leaf in leaves]
    assert indexes == list(range(len(leaves))), "the positions are not 0..n-1 once each"
    for leaf in leaves:
        assert leaf["leaf_hash"] == hashlib.sha256(b"\0" + leaf["leaf"]).digest(), leaf["_id"]
    tree = client[database][TREE_COLLECTION]
    head = tree.find_one({"_id": head_id(tenant)})
    size = 0 if head is None else head["size"]
    assert size == len(leaves), f"the head says {size}, the log holds {len(leaves)} leaves"
    edge = CompactRange.empty()
    expected = dict(edge.append([leaf["leaf_hash"] for leaf in leaves]))
    if head is not None:
        assert tuple(head["hashes"]) == edge.hashes, "the head's right edge is not the tree's"
    stored = {
        document["_id"]: document["h"]
        for document in tree.find({"_id": {"$in": [node_id(tenant, *n) for n in expected]}})
    }
    for (level, index), digest in expected.items():
        assert stored.get(node_id(tenant, level, index)) == digest, (level, index)
    _check_live(entries.find({"tenant": tenant, "id": {"$exists": True}}))
    return size


def _check_live(documents: Iterable[dict[str, Any]]) -> None:
    by_entry: dict[str, list[dict[str, Any]]] = {}
    for document in documents:
        by_entry.setdefault(document["id"], []).append(document)
    for entry_id, revisions in by_entry.items():
        revisions.sort(key=lambda d: d["revision"])
        assert [d["revision"] for d in revisions] == list(range(1, len(revisions) + 1)), entry_id
        live = [d["revision"] for d in revisions if d["live"]]
        newest = revisions[-1]
        assert live == ([] if newest["deleted"] else [newest["revision"]]), (entry_id, live)


def acknowledged(lines: Iterable[str]) -> set[tuple[str, int]]:
    """The (id, revision) pairs a writer printed, one ``ack <id> <revision>`` a line."""
    found = set()
    for line in lines:
        parts = line.split()
        if len(parts) == 3 and parts[0] == "ack":
            found.add((parts[1], int(parts[2])))
    return found


async def write(uri: str, database: str, tenant: str, seconds: float) -> None:
    """Commit mixed changes to ``tenant`` for ``seconds`` (or until killed), as the
    group committer does: several groups a commit, new entries alone and in batches,
    and amendments of the entries written so far. Prints each acknowledged revision."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, timeoutMS=10_000)
    repository = await MongoEntryRepository.open(client[database])
    chance = random.Random()  # noqa: S311 - picks test changes, no secret
    current: dict[str, Entry] = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        groups: list[list[Entry]] = []
        amending: set[str] = set()
        for _ in range(chance.randint(1, 8)):
            roll = chance.random()
            if roll < 0.2 and current:
                entry_id = chance.choice(list(current))
                if entry_id not in amending:
                    amending.add(entry_id)
                    change = tombstone if roll < 0.04 else amended
                    groups.append([change(current[entry_id])])
            elif roll < 0.4:
                groups.append([make_entry(tenant) for _ in range(10)])
            else:
                groups.append([make_entry(tenant)])
        records: list[list[LogRecord]] = [[revision_record(e) for e in g] for g in groups]
        results = await repository.commit(tenant, records)
        for group, result in zip(groups, results, strict=True):
            if isinstance(result, int):
                for entry in group:
                    current[entry.id] = entry
                    if entry.deleted:
                        del current[entry.id]
                    print(f"ack {entry.id} {entry.revision}", flush=True)
    await client.close()


if __name__ == "__main__":
    asyncio.run(write(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])))
