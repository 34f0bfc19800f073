"""MongoQueryIndex: the QueryIndex of MongoEntryRepository, on a replica set or a
standalone server alike (no transactions: the same protocol runs on both).

The documents are in ``mongo_index_journal``. A write is all or nothing, lands only
on the head it was computed from, and survives a writer killed at any point:

1. **Claim** (one ``find_one_and_update``): on the tenant's head document, only if
   its head fields equal ``expected`` and no write is pending, increment ``seq`` and
   set ``pending = {token, at}``. At most one write per tenant is pending.
2. **Journal** (one ordered ``insert_many``): the whole ``IndexWrite`` as chunks
   ``<token>:n``, chunk 0 last: once chunk 0 is stored the journal is complete.
3. **Apply** (unordered bulk writes of at most 1,000 each, the three collections at
   once): postings inserted, posting heads and map nodes upserted *fenced* by ``seq``.
4. **Finish** (one ``update_one`` on ``pending.token``): the new head fields, the
   pending claim cleared; then the journal is deleted (one ``delete_many``).

Whoever finds a pending write (a reader's ``head``, a writer's lost claim) helps:

- journal complete: apply it and finish (idempotent and fenced, so helping a live
  writer, or the writer going on after a helper finished, changes nothing);
- journal without chunk 0 and the claim older than ``lease_seconds``: insert an
  *aborted* chunk 0, then clear the claim. The writer's own chunk 0 then collides
  and it gives up (returns False) before applying anything; if the writer's chunk 0
  came first, the collision tells the helper to complete the journal instead. So
  nothing is ever applied that its journal does not complete, whatever the clocks
  say: the lease (the writer's clock against the helper's) only decides when a
  silent claimer is presumed dead;
- a live claim without a journal: nothing of it is applied yet; ``head`` returns
  the committed head, a writer waits a little and tries again.

Readers therefore see the committed head, with postings, posting heads and map
nodes that are either its own or those of the one pending write (the fencing keeps
any older journal from coming back): a proof read across a write fails to match the
root and is read again (``ProveQuery``), and its next ``head`` completes the write.

Round trips: a write 5 (claim, journal, apply, finish, delete), plus 1 the first
time a process sees the tenant (the index key, made with an upsert that
``$setOnInsert``\\s it: the first stored wins); ``head``, ``posting_heads``,
``postings`` and ``map_nodes`` 1 each; ``changes`` 2 (the leaves, then the
revisions the amended ones replace). Every write uses the repository's write
concern (majority + journal by default), so each step is durable before the next.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import BulkWriteError, DuplicateKeyError

from audit_trail.adapters.storage.mongo_documents import (
    LEAF_HASH,
    LOG_INDEX,
    revision_id,
)
from audit_trail.adapters.storage.mongo_errors import DUPLICATE_KEY, storage_errors
from audit_trail.adapters.storage.mongo_index_journal import (
    IndexCollections,
    apply_write,
    chunk_id,
    decode_journal,
    encode_journal,
    head_filter,
    journal_range,
    split,
    stored_head,
)
from audit_trail.core.errors import StorageUnavailable
from audit_trail.core.index.keys import INDEX_KEY_BYTES, Filed
from audit_trail.core.model import Actor, Target
from audit_trail.core.ports.index import IndexHead, IndexWrite, LoggedChange, PostingHead

LEASE_SECONDS = 10.0  # a claim without a journal for this long is presumed dead
_POLL_SECONDS = 0.02  # a writer's wait for a live claim without a journal
_MAX_RECOVERIES = 16  # pending writes completed in a row by one read
_FILED_FIELDS = ("id", "revision", "occurred_at", "action", "actor_id", "target_type", "target_id")
_CHANGE_PROJECTION = {
    "_id": 1,
    LOG_INDEX: 1,
    LEAF_HASH: 1,
    "deleted": 1,
    **dict.fromkeys(_FILED_FIELDS, 1),
}
_HEAD_PROJECTION = {"key": 0}


class MongoQueryIndex:
    """One per repository (it caches the index keys); ``collections`` come with the
    repository's codec options and write concern."""

    def __init__(
        self, collections: IndexCollections, *, lease_seconds: float = LEASE_SECONDS
    ) -> None:
        self._c = collections
        self._lease = timedelta(seconds=lease_seconds)
        self._keys: dict[str, bytes] = {}

    async def index_key(self, tenant: str) -> bytes:
        key = self._keys.get(tenant)
        if key is None:
            with storage_errors():
                document = await self._c.heads.find_one_and_update(
                    {"_id": tenant},
                    {"$setOnInsert": {"key": secrets.token_bytes(INDEX_KEY_BYTES)}},
                    projection={"key": 1},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            key = self._keys[tenant] = bytes(document["key"])
        return key

    async def head(self, tenant: str) -> IndexHead | None:
        with storage_errors():
            for _ in range(_MAX_RECOVERIES):
                document = await self._c.heads.find_one({"_id": tenant}, _HEAD_PROJECTION)
                if document is None or "pending" not in document:
                    return stored_head(document)
                if not await self._help(tenant, document):
                    return stored_head(document)  # a live claim, nothing of it applied yet
        raise StorageUnavailable(f"the query index of {tenant!r} kept moving under us")

    async def changes(self, tenant: str, start: int, end: int) -> Sequence[LoggedChange]:
        start = max(start, 0)
        if end <= start:
            return []
        with storage_errors():
            cursor = self._c.entries.find(
                {"tenant": tenant, LOG_INDEX: {"$gte": start, "$lt": end}},
                _CHANGE_PROJECTION,
                sort=[(LOG_INDEX, 1)],
            )
            leaves = [document async for document in cursor]
            wanted = [
                revision_id(d["id"], d["revision"] - 1) for d in leaves if d.get("revision", 1) > 1
            ]
            previous: dict[str, Filed] = {}
            if wanted:
                cursor = self._c.entries.find(
                    {"_id": {"$in": wanted}, "tenant": tenant}, _CHANGE_PROJECTION
                )
                previous = {d["_id"]: _filed(d) async for d in cursor}
        changes: list[LoggedChange] = []
        for document in leaves:
            digest = bytes(document[LEAF_HASH])
            if "revision" not in document:
                changes.append(LoggedChange(document[LOG_INDEX], digest))
                continue
            revision = _filed(document)
            before = previous.get(revision_id(revision.id, revision.revision - 1))
            changes.append(LoggedChange(document[LOG_INDEX], digest, revision, before))
        return changes

    async def posting_heads(
        self, tenant: str, map_keys: Collection[bytes]
    ) -> Mapping[bytes, PostingHead]:
        if not map_keys:
            return {}
        with storage_errors():
            cursor = self._c.posting_heads.find(
                {"tenant": tenant, "map_key": {"$in": list(map_keys)}},
                {"_id": 0, "map_key": 1, "size": 1, "edge": 1},
            )
            return {
                bytes(d["map_key"]): PostingHead(d["size"], split(bytes(d["edge"])))
                async for d in cursor
            }

    async def postings(self, tenant: str, map_key: bytes, start: int, end: int) -> Sequence[bytes]:
        start = max(start, 0)
        if end <= start:
            return []
        runs: list[tuple[int, list[Any]]] = []
        with storage_errors():
            # newest run first, back to the one holding ``start``: one round trip
            cursor = self._c.postings.find(
                {"tenant": tenant, "map_key": map_key, "position": {"$lt": end}},
                {"_id": 0, "position": 1, "postings": 1, "posting": 1},
                sort=[("position", -1)],
            )
            try:
                async for document in cursor:
                    run = document.get("postings", [document.get("posting")])
                    runs.append((document["position"], run))
                    if document["position"] <= start:
                        break
            finally:
                await cursor.close()
            postings: list[bytes] = []
            for position, run in reversed(runs):
                postings.extend(
                    bytes(raw) for raw in run[max(start - position, 0) : end - position]
                )
            return postings

    async def map_nodes(self, tenant: str, ids: Collection[bytes]) -> Mapping[bytes, bytes]:
        if not ids:
            return {}
        with storage_errors():
            cursor = self._c.map_nodes.find(
                {"tenant": tenant, "id": {"$in": list(ids)}, "node": {"$ne": None}},
                {"_id": 0, "id": 1, "node": 1},
            )
            return {bytes(d["id"]): bytes(d["node"]) async for d in cursor}

    async def write(self, tenant: str, expected: IndexHead | None, write: IndexWrite) -> bool:
        await self.index_key(tenant)  # the head document exists from here on
        token = secrets.token_hex(16)
        with storage_errors():
            seq = await self.claim(tenant, expected, token)
            if seq is None:
                return False
            if not await self.store_journal(tenant, token, write):
                return False  # a helper presumed us dead and took the claim back
            await self.complete(tenant, token, seq, write)
        return True

    async def set_leaf_index(self, tenant: str, covers: int, leaf_index: int) -> None:
        with storage_errors():
            await self._c.heads.update_one(
                {"_id": tenant, "covers": covers}, {"$set": {"leaf_index": leaf_index}}
            )

    # -- the steps of a write (public for the crash tests) ------------------------

    async def claim(self, tenant: str, expected: IndexHead | None, token: str) -> int | None:
        """Step 1: claim the head if it is still ``expected``; the claim's ``seq``, or
        None when the head has moved. Waits out (or helps) another pending write."""
        deadline = asyncio.get_running_loop().time() + 2 * self._lease.total_seconds()
        while True:
            claimed = await self._c.heads.find_one_and_update(
                {"_id": tenant, "pending": {"$exists": False}, **head_filter(expected)},
                {"$inc": {"seq": 1}, "$set": {"pending": {"token": token, "at": _now()}}},
                projection={"seq": 1},
                return_document=ReturnDocument.AFTER,
            )
            if claimed is not None:
                return int(claimed["seq"])
            current = await self._c.heads.find_one({"_id": tenant}, _HEAD_PROJECTION)
            if current is None or stored_head(current) != expected:
                return None
            if asyncio.get_running_loop().time() > deadline:
                raise StorageUnavailable(f"a write to the index of {tenant!r} is stuck")
            if "pending" in current and not await self._help(tenant, current):
                await asyncio.sleep(_POLL_SECONDS)

    async def store_journal(self, tenant: str, token: str, write: IndexWrite) -> bool:
        """Step 2: store the journal of the claimed ``write``; False when a helper
        aborted the claim first (then nothing of it may be applied)."""
        try:
            await self._c.journal.insert_many(encode_journal(token, tenant, write), ordered=True)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors") or []
            if not errors or errors[0].get("code") != DUPLICATE_KEY:
                raise
            await self._c.journal.delete_many(
                {"_id": journal_range(token), "aborted": {"$exists": False}}
            )
            return False
        return True

    async def complete(self, tenant: str, token: str, seq: int, write: IndexWrite) -> None:
        """Steps 3 and 4: apply the journaled ``write`` and move the head to it."""
        await apply_write(self._c, tenant, seq, write)
        head = write.head
        await self._c.heads.update_one(
            {"_id": tenant, "pending.token": token},
            {
                "$set": {
                    "covers": head.covers,
                    "map_root": head.map_root,
                    "leaf_index": head.leaf_index,
                },
                "$unset": {"pending": ""},
            },
        )
        await self._c.journal.delete_many({"_id": journal_range(token)})

    async def _help(self, tenant: str, document: Mapping[str, Any]) -> bool:
        """Complete or abort the write pending on ``document``; False when it is a live
        claim whose journal is not stored yet (left to its writer)."""
        pending = document["pending"]
        token = pending["token"]
        cursor = self._c.journal.find({"_id": journal_range(token)}, sort=[("_id", 1)])
        chunks = [chunk async for chunk in cursor]
        write = decode_journal(chunks)
        if write is not None:
            await self.complete(tenant, token, int(document["seq"]), write)
            return True
        if chunks and chunks[0]["_id"] == chunk_id(token, 0):
            if chunks[0].get("aborted"):
                await self._release(tenant, token)
            return True  # aborted, or finished and being deleted: read the head again
        if _now() - pending["at"] < self._lease:
            return False
        try:
            await self._c.journal.insert_one(
                {"_id": chunk_id(token, 0), "tenant": tenant, "aborted": True}
            )
        except DuplicateKeyError:
            return True  # the writer's journal is complete now: help it next time
        await self._release(tenant, token)
        return True

    async def _release(self, tenant: str, token: str) -> None:
        """Clear an aborted claim; the journal's aborted chunk 0 stays, so that its
        writer, however late, never stores the journal."""
        await self._c.heads.update_one(
            {"_id": tenant, "pending.token": token}, {"$unset": {"pending": ""}}
        )


def _filed(document: dict[str, Any]) -> Filed:
    target = None
    if document.get("target_type") is not None and document.get("target_id") is not None:
        target = Target(type=document["target_type"], id=document["target_id"])
    return Filed(
        id=document["id"],
        revision=int(document["revision"]),
        occurred_at=document["occurred_at"],
        action=document["action"],
        actor=Actor(id=document["actor_id"]),
        target=target,
        deleted=bool(document.get("deleted", False)),
    )


def _now() -> datetime:
    return datetime.now(UTC)
