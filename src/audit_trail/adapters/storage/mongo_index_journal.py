"""The query index's documents on MongoDB, its write journal, and the fenced apply.

Collections (every document carries its ``tenant``):

- ``index_heads``: one per tenant, ``_id`` = tenant: ``key`` (the index key),
  ``covers``, ``map_root``, ``leaf_index`` (absent before the first write), ``seq``
  (the number of writes ever claimed) and, while a write is under way, ``pending``
  = ``{"token": <hex>, "at": <datetime>}``.
- ``postings``: ``(tenant, map_key, position)`` unique -> ``postings``, the run of
  postings one write appends to that posting log from ``position`` on (a document of
  an earlier version holds one, as ``posting``). A run is written by one write only,
  so its bytes never change (inserted, never updated).
- ``posting_heads``: ``(tenant, map_key)`` unique -> ``size``, ``edge`` (the hashes
  of the edge, concatenated), ``v``.
- ``map_nodes``: ``(tenant, id)`` unique -> ``node`` (None: a deleted node, kept as
  a tombstone), ``v``.
- ``index_journal``: the chunks of one write's journal, ``_id`` =
  ``<token>:<n, 8 digits>``; chunk 0 (inserted last) holds the number of chunks, or
  ``aborted`` when a recoverer took the claim back before the journal was complete.

**Fencing.** ``posting_heads`` and ``map_nodes`` are overwritten by later writes,
so every apply is an upsert conditional on ``v < seq`` (the write's claim number):
a duplicate key then means a later (or the same) write got there, and is ignored.
A slow writer or helper re-applying an older journal therefore never undoes a
newer one, and deletions are tombstones for the same reason (a delete would let an
older journal bring the node back). Bytes are stored as BSON binary.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import bson
from pymongo import ASCENDING, IndexModel, InsertOne, UpdateOne
from pymongo.errors import BulkWriteError

from audit_trail.adapters.storage.mongo_documents import revision_id, revisions_range
from audit_trail.adapters.storage.mongo_errors import DUPLICATE_KEY
from audit_trail.core.integrity.merkle import HASH_SIZE
from audit_trail.core.ports.index import IndexHead, IndexWrite, PostingHead, PostingRun

HEADS_COLLECTION = "index_heads"
POSTINGS_COLLECTION = "postings"
POSTING_HEADS_COLLECTION = "posting_heads"
MAP_NODES_COLLECTION = "map_nodes"
JOURNAL_COLLECTION = "index_journal"

POSTING_INDEXES = [
    IndexModel(
        [("tenant", ASCENDING), ("map_key", ASCENDING), ("position", ASCENDING)],
        name="tenant_map_key_position",
        unique=True,
    )
]
POSTING_HEAD_INDEXES = [
    IndexModel([("tenant", ASCENDING), ("map_key", ASCENDING)], name="tenant_map_key", unique=True)
]
MAP_NODE_INDEXES = [
    IndexModel([("tenant", ASCENDING), ("id", ASCENDING)], name="tenant_id", unique=True)
]

CHUNK_BYTES = 4 * 1024 * 1024  # journal bytes per chunk document, well under 16 MB
BULK_REQUESTS = 1000  # writes per bulk write when a journal is applied


@dataclass(frozen=True, slots=True)
class IndexCollections:
    """The index's collections, with the repository's codec options and write concern."""

    entries: Any
    heads: Any
    postings: Any
    posting_heads: Any
    map_nodes: Any
    journal: Any


def head_filter(expected: IndexHead | None) -> dict[str, Any]:
    """The fields of a head document that hold ``expected`` (None: no head yet)."""
    if expected is None:
        return {"covers": {"$exists": False}}
    return {
        "covers": expected.covers,
        "map_root": expected.map_root,
        "leaf_index": expected.leaf_index,
    }


def stored_head(document: Mapping[str, Any] | None) -> IndexHead | None:
    """The committed head of a head document (None before the first write)."""
    if document is None or "covers" not in document:
        return None
    return IndexHead(document["covers"], bytes(document["map_root"]), document.get("leaf_index"))


def chunk_id(token: str, number: int) -> str:
    """The ``_id`` of one journal chunk; the chunks of a journal are one ``_id`` range
    (the layout of an entry's revisions, ``mongo_documents``)."""
    return revision_id(token, number)


def journal_range(token: str) -> dict[str, str]:
    """An ``_id`` condition matching every chunk of one journal."""
    return revisions_range(token)


def encode_journal(token: str, tenant: str, write: IndexWrite) -> list[dict[str, Any]]:
    """The chunk documents of ``write``'s journal, chunk 0 (the one that says the
    journal is complete) last."""
    head = write.head
    raw = bson.encode(
        {
            "head": [head.covers, head.map_root, head.leaf_index],
            "postings": [[r.map_key, r.start, list(r.postings)] for r in write.postings],
            "heads": [[k, h.size, b"".join(h.edge)] for k, h in write.posting_heads.items()],
            "nodes": [[node_id, node] for node_id, node in write.map_nodes.items()],
        }
    )
    pieces = [raw[i : i + CHUNK_BYTES] for i in range(0, len(raw), CHUNK_BYTES)]
    documents: list[dict[str, Any]] = [
        {"_id": chunk_id(token, n), "tenant": tenant, "data": piece}
        for n, piece in enumerate(pieces)
    ]
    documents[0]["chunks"] = len(pieces)
    return [*documents[1:], documents[0]]


def decode_journal(chunks: Sequence[dict[str, Any]]) -> IndexWrite | None:
    """The write of a complete journal (chunks by ``_id``); None when chunk 0 is
    missing, aborted, or some chunk is missing."""
    if not chunks or "chunks" not in chunks[0] or len(chunks) != chunks[0]["chunks"]:
        return None
    fields = bson.decode(b"".join(bytes(chunk["data"]) for chunk in chunks))
    covers, root, leaf_index = fields["head"]
    return IndexWrite(
        IndexHead(covers, bytes(root), leaf_index),
        postings=[
            PostingRun(bytes(k), start, tuple(bytes(raw) for raw in run))
            for k, start, run in fields["postings"]
        ],
        posting_heads={
            bytes(k): PostingHead(size, split(bytes(e))) for k, size, e in fields["heads"]
        },
        map_nodes={bytes(i): None if n is None else bytes(n) for i, n in fields["nodes"]},
    )


def split(edge: bytes) -> tuple[bytes, ...]:
    return tuple(edge[i : i + HASH_SIZE] for i in range(0, len(edge), HASH_SIZE))


async def apply_write(
    collections: IndexCollections, tenant: str, seq: int, write: IndexWrite
) -> None:
    """Apply ``write`` (claim number ``seq``), idempotently and fenced: re-applying it,
    whole or in part, at any time leaves what its first complete apply left, and never
    undoes a write of a higher ``seq``. The three collections are written at once."""
    postings = [
        InsertOne(
            {"tenant": tenant, "map_key": r.map_key, "position": r.start, "postings": r.postings}
        )
        for r in write.postings
    ]
    heads = [
        _fenced({"tenant": tenant, "map_key": k}, {"size": h.size, "edge": b"".join(h.edge)}, seq)
        for k, h in write.posting_heads.items()
    ]
    nodes = [
        _fenced({"tenant": tenant, "id": node_id}, {"node": node}, seq)
        for node_id, node in write.map_nodes.items()
    ]
    await asyncio.gather(
        _bulk(collections.postings, postings),
        _bulk(collections.posting_heads, heads),
        _bulk(collections.map_nodes, nodes),
    )


def _fenced(key: dict[str, Any], values: dict[str, Any], seq: int) -> UpdateOne:
    return UpdateOne({**key, "v": {"$lt": seq}}, {"$set": {**values, "v": seq}}, upsert=True)


async def _bulk(collection: Any, requests: Sequence[Any]) -> None:
    """Run ``requests`` unordered, ``BULK_REQUESTS`` at a time (each bulk write is one
    operation, bounded by the client's timeout: a large integration is many small
    ones, which its idempotence allows)."""
    for start in range(0, len(requests), BULK_REQUESTS):
        await _bulk_once(collection, requests[start : start + BULK_REQUESTS])


async def _bulk_once(collection: Any, requests: Sequence[Any]) -> None:
    """Run ``requests`` unordered; duplicate keys (applied already, or fenced off by a
    later write) are what idempotence expects, anything else is raised."""
    try:
        await collection.bulk_write(list(requests), ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors") or []
        concern = exc.details.get("writeConcernErrors") or []
        if concern or not errors or any(e.get("code") != DUPLICATE_KEY for e in errors):
            raise
