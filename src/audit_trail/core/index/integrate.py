"""IndexIntegrator: brings a tenant's query index up to its log, and commits the map.

Integration reads the changes the log holds past what the index covers, turns each
into its postings (``postings.change_postings``), appends them to their posting logs,
sets each touched key of the map to its posting log's new size and root, and has
storage apply all of it at once on top of the state it started from. Then it appends
an index leaf to the log that commits the new map root, and records where it sits.

The index is derived data: a writer that dies at any point leaves either the old
state or the new one, and the next integration carries on from there. A storage
whose reads are not one snapshot (MongoDB) may show a map half-way through another
writer's update: the map then looks damaged, but the head has moved, and the
integration starts again from the new head; a map that looks damaged under an
unmoved head is damaged. A leaf that
adds no postings (an index leaf) moves what the index covers without a new index leaf.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from audit_trail.core.errors import StorageUnavailable
from audit_trail.core.index.keys import IndexKey
from audit_trail.core.index.leaf import index_leaf
from audit_trail.core.index.map import EMPTY, InternalNode, MapValue
from audit_trail.core.index.map_cache import MapNodeCache
from audit_trail.core.index.map_update import MapDamaged, update_map
from audit_trail.core.index.postings import change_postings
from audit_trail.core.integrity.merkle import CompactRange, fold_range, leaf_hash
from audit_trail.core.ports.index import (
    IndexHead,
    IndexWrite,
    PostingHead,
    PostingRun,
    QueryIndex,
)
from audit_trail.core.ports.log import LogRecord, TenantLog

SETTLE_SECONDS = 2.0  # how long a read of a map in mid-write waits for its head to move
MAX_RACES = 32  # integrations lost to other writers before giving up
CHUNK = 4096  # changes integrated in one storage write
TURN = 256  # changes turned into postings between two turns of the event loop


class TenantMap:
    """The map of one tenant, as ``index.map`` reads it."""

    def __init__(self, index: QueryIndex, tenant: str) -> None:
        self._index = index
        self._tenant = tenant

    async def nodes(self, ids: Collection[bytes]) -> Mapping[bytes, bytes]:
        return await self._index.map_nodes(self._tenant, ids)

    async def values(self, keys: Collection[bytes]) -> Mapping[bytes, MapValue]:
        heads = await self._index.posting_heads(self._tenant, keys)
        return {key: MapValue(head.size, fold_range(head.edge)) for key, head in heads.items()}


@dataclass(frozen=True, slots=True)
class _Step:
    """One chunk's write, and the map nodes it leaves (for the cache, once it lands)."""

    write: IndexWrite
    tree: Mapping[bytes, InternalNode] = field(default_factory=dict)


class IndexIntegrator:
    def __init__(self, index: QueryIndex, log: TenantLog) -> None:
        self._index = index
        self._log = log
        self._nodes = MapNodeCache()

    async def integrate(self, tenant: str, *, rest: float = 0.0) -> IndexHead:
        """Integrate every leaf of ``tenant``'s log into its index, and see that an index
        leaf commits the result; returns the head it leaves. Works through the log
        ``CHUNK`` changes at a time, letting the event loop run between chunks; with
        ``rest``, it also waits ``rest`` times as long as each chunk took before the
        next (a background catch-up that leaves the loop to requests half the time)."""
        loop = asyncio.get_running_loop()
        races = 0
        started = loop.time()
        while True:
            head = await self._index.head(tenant)
            size = await self._log.size(tenant)
            if head is not None and _up_to_date(head, size):
                break
            end = min(size, (0 if head is None else head.covers) + CHUNK)
            try:
                step = await self._next(tenant, head, end)
            except MapDamaged:
                self._nodes.forget(tenant)
                if not await self._moves(tenant, head):
                    raise
                step = None  # read while another writer moved the map: read it again
            if step is not None and await self._index.write(tenant, head, step.write):
                before = EMPTY if head is None else head.map_root
                head = step.write.head
                self._nodes.remember(tenant, before, head.map_root, step.tree)
                if end == size:
                    break
                # a chunk done: let requests in before the next
                await asyncio.sleep(rest * (loop.time() - started))
                started = loop.time()
                continue
            races += 1
            if races >= MAX_RACES:
                raise StorageUnavailable(f"the query index of {tenant!r} kept moving under us")
        assert head is not None  # the loop ends on a head, or on a write that made one
        if head.leaf_index is not None:
            return head
        return await self._commit_leaf(tenant, head)

    async def _moves(self, tenant: str, head: IndexHead | None) -> bool:
        """Whether the index's head moves on from ``head`` within ``SETTLE_SECONDS``:
        nodes that do not hash to their parents were read while another writer
        applied its write, which lands its nodes before its head (a storage without
        transactions), unless the map is damaged."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_SECONDS
        while await self._index.head(tenant) == head:
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def _next(self, tenant: str, head: IndexHead | None, size: int) -> _Step:
        covers = 0 if head is None else head.covers
        root = EMPTY if head is None else head.map_root
        key = await self._index.index_key(tenant)
        map_keys: dict[IndexKey, bytes] = {}  # a batch files many changes under one key
        appended: dict[bytes, list[tuple[bytes, bytes]]] = {}  # packed, and its hash
        for number, change in enumerate(await self._index.changes(tenant, covers, size), 1):
            if number % TURN == 0:
                await asyncio.sleep(0)  # a large chunk's postings, a few milliseconds at a time
            if change.revision is None:
                continue
            encoded: dict[int, tuple[bytes, bytes]] = {}  # a change has one or two postings
            for index_key, posting in change_postings(
                change.previous, change.revision, change.index, change.leaf_hash
            ):
                map_key = map_keys.get(index_key)
                if map_key is None:
                    map_key = map_keys[index_key] = index_key.map_key(key)
                pair = encoded.get(id(posting))
                if pair is None:
                    pair = encoded[id(posting)] = (posting.pack(), posting.hash())
                appended.setdefault(map_key, []).append(pair)
        if not appended:  # nothing but index leaves: the map stands as it was
            leaf_at = None if head is None else head.leaf_index
            return _Step(IndexWrite(IndexHead(size, root, leaf_at), postings=(), posting_heads={}))
        heads = await self._index.posting_heads(tenant, appended)
        postings: list[PostingRun] = []
        new_heads: dict[bytes, PostingHead] = {}
        for map_key, added in appended.items():
            before = heads.get(map_key, PostingHead(0, ()))
            edge = CompactRange(before.size, before.edge)
            edge.append([digest for _, digest in added])
            postings.append(PostingRun(map_key, before.size, tuple(raw for raw, _ in added)))
            new_heads[map_key] = PostingHead(edge.size, edge.hashes)
        update = await update_map(
            TenantMap(self._index, tenant),
            root,
            {k: MapValue(h.size, fold_range(h.edge)) for k, h in new_heads.items()},
            known=self._nodes.nodes(tenant, root),
        )
        write = IndexWrite(
            IndexHead(size, update.root),
            postings=postings,
            posting_heads=new_heads,
            map_nodes=update.nodes,
        )
        return _Step(write, update.tree)

    async def _commit_leaf(self, tenant: str, head: IndexHead) -> IndexHead:
        key = await self._index.index_key(tenant)
        leaf = index_leaf(tenant, head.covers, head.map_root, key).to_bytes()
        (result,) = await self._log.commit(tenant, [[LogRecord(leaf, leaf_hash(leaf))]])
        if not isinstance(result, int):
            raise result
        await self._index.set_leaf_index(tenant, head.covers, result)
        return IndexHead(head.covers, head.map_root, result)


def _up_to_date(head: IndexHead, size: int) -> bool:
    """Whether the log holds nothing past what the index covers but the index leaf
    that commits it."""
    if head.covers >= size:
        return True
    return head.leaf_index is not None and head.leaf_index == head.covers == size - 1
