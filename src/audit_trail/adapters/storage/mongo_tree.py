"""The stored Merkle tree of each tenant log on MongoDB, and its integration.

The ``tree`` collection holds the hash of every complete subtree of level >= 1 as
``{"_id": "<tenant>:<level>:<index>", "h": <hash>}`` (level 0 is the ``leaf_hash`` of
the leaf's document in ``entries``), and one head per tenant,
``{"_id": "<tenant>:head", "size": N, "hashes": [...]}``: how many leaves are
integrated, and the right edge of the tree over them (its compact range), which is
all an appender needs to compute the nodes that the next leaves complete.

Integration writes the nodes that new leaves complete and then moves the head, in one
ordered ``update`` command (upserts, so a node that a racing process wrote already is
left as it is; the tree is a function of the leaves, so both computed the same hash).
The head only ever grows: its update matches a smaller size only, and when another
process has moved it further the upsert's duplicate ``_id`` is ignored. The server
applies the command in order and journals in commit order, so a durable head implies
durable nodes below it; a crash before the head moved leaves the leaves beyond the
head (the *tail*), which the next writer or reader integrates from the stored leaves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError

from audit_trail.adapters.storage.mongo_documents import LEAF_HASH, LOG_INDEX, revision_id
from audit_trail.adapters.storage.mongo_errors import DUPLICATE_KEY
from audit_trail.core.integrity.merkle import CompactRange
from audit_trail.core.ports.log import NodeId

TREE_COLLECTION = "tree"
_TAIL_PROJECTION = {"_id": 0, LOG_INDEX: 1, LEAF_HASH: 1, "id": 1, "revision": 1}


def node_id(tenant: str, level: int, index: int) -> str:
    return f"{tenant}:{level}:{index}"


def head_id(tenant: str) -> str:
    return f"{tenant}:head"


def copy_of(edge: CompactRange) -> CompactRange:
    return CompactRange(edge.size, list(edge.hashes))


@dataclass(slots=True)
class Tail:
    """What a tenant's log holds beyond an integrated ``edge``: the hashes of the
    stored leaves that follow it without a gap, and the previous revisions that the
    revisions among them replace (whose ``live`` flag may still be set, if the writer
    died before clearing it)."""

    edge: CompactRange
    leaf_hashes: list[bytes]
    replaced: list[str]

    @property
    def end(self) -> int:
        """The first position no stored leaf is known to hold."""
        return self.edge.size + len(self.leaf_hashes)


class MongoTree:
    """Reads and integrates the stored tree; ``entries`` and ``tree`` are collections
    with the repository's codec options and write concern."""

    def __init__(self, entries: Any, tree: Any) -> None:
        self._entries = entries
        self._tree = tree

    async def head(self, tenant: str) -> CompactRange:
        document = await self._tree.find_one({"_id": head_id(tenant)})
        if document is None:
            return CompactRange.empty()
        return CompactRange(int(document["size"]), [bytes(h) for h in document["hashes"]])

    async def tail(self, tenant: str, known: CompactRange | None) -> Tail:
        """The head (or ``known``, when no smaller) and the stored leaves beyond it."""
        head = await self.head(tenant)
        edge = copy_of(known) if known is not None and known.size > head.size else head
        cursor = self._entries.find(
            {"tenant": tenant, LOG_INDEX: {"$gte": edge.size}},
            _TAIL_PROJECTION,
            sort=[(LOG_INDEX, 1)],
        )
        tail = Tail(edge, [], [])
        async for document in cursor:
            if document[LOG_INDEX] != tail.end:
                break  # a gap: what follows it is not part of the log yet
            tail.leaf_hashes.append(bytes(document[LEAF_HASH]))
            revision = document.get("revision")
            if revision is not None and revision > 1:
                tail.replaced.append(revision_id(document["id"], revision - 1))
        return tail

    async def integrate(
        self, tenant: str, edge: CompactRange, leaf_hashes: Sequence[bytes]
    ) -> CompactRange:
        """Store the nodes ``leaf_hashes`` complete after ``edge`` and move the head
        past them; the new edge. The leaves must be stored (durably) already."""
        grown = copy_of(edge)
        if not leaf_hashes:
            return grown
        nodes = grown.append(leaf_hashes)
        requests: list[UpdateOne] = [
            UpdateOne(
                {"_id": node_id(tenant, level, index)},
                {"$setOnInsert": {"h": digest}},
                upsert=True,
            )
            for (level, index), digest in nodes
        ]
        requests.append(
            UpdateOne(
                {"_id": head_id(tenant), "size": {"$lt": grown.size}},
                {"$set": {"size": grown.size, "hashes": grown.hashes}},
                upsert=True,
            )
        )
        try:
            await self._tree.bulk_write(requests, ordered=True)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors") or []
            head_moved_on = (
                len(errors) == 1
                and errors[0].get("index") == len(requests) - 1
                and errors[0].get("code") == DUPLICATE_KEY
            )
            if not head_moved_on:  # another process has integrated further: fine
                raise
        return grown

    async def node_hashes(self, tenant: str, nodes: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        """The stored hashes of level >= 1 nodes among ``nodes``."""
        wanted = {node_id(tenant, level, index): (level, index) for level, index in nodes}
        if not wanted:
            return {}
        cursor = self._tree.find({"_id": {"$in": list(wanted)}})
        return {wanted[document["_id"]]: bytes(document["h"]) async for document in cursor}
