"""MongoTenantLog: each tenant's Merkle log on MongoDB, in the documents of its entries.

Sequencing and integration are kept apart, as in Tessera:

- **Sequencing.** A commit writes each leaf (a revision document, ``mongo_documents``)
  with the next free ``log_index`` of its tenant, all in ONE ordered ``insert_many``;
  the unique index on ``(tenant, log_index)`` is what makes the log one sequence
  across processes and machines. A duplicate position means another process appended
  first: the adapter reads the new end and puts the rest there (a leaf does not hold
  its position, so moving it is safe). A duplicate ``_id`` refuses that group. Before
  inserting, one query fetches what decides refusals (``mongo_refusals``) when a
  commit holds amendments, deletions or (without transactions) batches, so that a
  refused group is known before any of it is written. Then the previous revisions of
  amended and deleted entries lose their ``live`` flag (one ``update_many``).
- **Integration** (``mongo_tree``): one ordered command writes the nodes the new
  leaves complete and moves the tenant's head. The head (its size and right edge) is
  cached per tenant in the process; the insert validates the cache, since a stale
  one collides on ``log_index``.

Round trips per commit: 2 in the common case (insert, integrate); 1 more for the
refusal check (amendments, deletions, batches on a standalone server) and 1 more for
the ``live`` flags (amendments and deletions on a standalone server); 2 more the first
time a process writes to a tenant (head and tail) or after another process wrote.

On a replica set (or sharded cluster) the insert and the ``live`` flags of a commit
with amendments, deletions or batches run in one transaction: no reader sees two live
revisions of an entry, and a batch is all or nothing even against a racing writer. A
standalone server has no transactions. There, between the insert and the flag update
an amended entry has two live revisions; a query page shows only the newer one
(``MongoEntryRepository.query``), but a filter that only the older one matches may
still find it for that moment, and a writer that dies in between leaves the flag for
the next integration to clear. A batch that loses a race for a new id to another
process after the check (both inserting that id at once) keeps the entries it stored
before the refused one, and a batch that races another process for positions may
have its leaves split around the other's (each leaf is still in the log once).

A writer that dies after inserting and before integrating leaves stored leaves past
the head: the next commit, ``integrate`` or a ``leaf_index`` that needs them
integrates them (and clears the ``live`` flags they replace) before going on, so the
tree always matches the leaves, and nothing written is lost from the log.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import bson
from bson.raw_bson import RawBSONDocument
from pymongo import WriteConcern
from pymongo.errors import BulkWriteError, OperationFailure

from audit_trail.adapters.storage.changes import check_groups
from audit_trail.adapters.storage.mongo_documents import (
    CODEC_OPTIONS,
    LEAF,
    LEAF_HASH,
    LIVE,
    LOG_INDEX,
    leaf_document,
    revision_id,
    revisions_range,
)
from audit_trail.adapters.storage.mongo_errors import DUPLICATE_KEY, is_too_large, storage_errors
from audit_trail.adapters.storage.mongo_queries import LOG_INDEX_NAME
from audit_trail.adapters.storage.mongo_refusals import after_race, ids_to_check, refusals
from audit_trail.adapters.storage.mongo_tree import MongoTree, Tail, copy_of
from audit_trail.core.errors import (
    DomainError,
    DuplicateEntry,
    EntryTooLarge,
    StorageUnavailable,
)
from audit_trail.core.integrity.merkle import CompactRange
from audit_trail.core.ports.log import LogRecord, NodeId, StoredCheckpoint, StoredLeaf

log = logging.getLogger(__name__)

CHECKPOINTS_COLLECTION = "checkpoints"
_MAX_MOVES = 64  # re-reads of the log's end in one commit before giving up


@dataclass(slots=True)
class _Pending:
    """A group not wholly stored yet: its place in the commit, the records still to
    insert, and the position of its first leaf once that is stored."""

    group: int
    records: list[LogRecord]
    first: int | None = None


@dataclass(slots=True)
class _Attempt:
    """One ordered insert: the documents of the pending groups from ``position`` on."""

    position: int
    documents: list[RawBSONDocument] = field(default_factory=list)
    records: list[tuple[_Pending, LogRecord]] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)  # revisions the documents replace
    starts: list[tuple[_Pending, int]] = field(default_factory=list)  # first document

    @property
    def several(self) -> bool:
        """Whether a group has more than one record (to be stored all or none)."""
        return any(len(pending.records) > 1 for pending, _ in self.starts)


@dataclass(slots=True)
class _Gate:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    failures: int = 0  # writes that found the server out of reach


@dataclass(frozen=True, slots=True)
class _Failure:
    """The first document the server refused: ``moved`` when another process holds its
    position (re-read the end and go on), else its group is refused."""

    index: int
    moved: bool
    too_large: bool = False


class MongoTenantLog:
    """The TenantLog half of MongoEntryRepository: the collections come with the
    repository's codec options and write concern."""

    def __init__(
        self,
        *,
        client: Any,
        entries: Any,
        checkpoints: Any,
        tree: Any,
        write_concern: WriteConcern,
        transactions: bool,
        max_document_bytes: int,
    ) -> None:
        self._client = client
        self._entries = entries
        self._checkpoints = checkpoints
        self._tree = MongoTree(entries, tree)
        self._write_concern = write_concern
        self._transactions = transactions
        self._max_document_bytes = max_document_bytes
        self._edges: dict[str, CompactRange] = {}  # per tenant: the head as last known
        self._gates: dict[str, _Gate] = {}

    # -- writing -----------------------------------------------------------------

    async def commit(
        self, tenant: str, groups: Sequence[Sequence[LogRecord]]
    ) -> list[int | DomainError]:
        check_groups(tenant, groups)
        async with self._turn(tenant):
            return await self._commit(tenant, groups)

    async def integrate(self, tenant: str) -> int:
        """Integrate the stored leaves beyond the head (left by a writer that died
        between its insert and its integration); the log's size afterwards."""
        async with self._turn(tenant):
            tail = await self._tree.tail(tenant, self._edges.get(tenant))
            await self._replace(tail.replaced)
            edge = await self._tree.integrate(tenant, tail.edge, tail.leaf_hashes)
            self._remember(tenant, edge)
            return edge.size

    async def _commit(
        self, tenant: str, groups: Sequence[Sequence[LogRecord]]
    ) -> list[int | DomainError]:
        results: list[int | DomainError | None] = [None] * len(groups)
        for number, error in (await self._refusals(tenant, groups)).items():
            results[number] = error
        queue = [_Pending(n, list(g)) for n, g in enumerate(groups) if results[n] is None]
        known = self._edges.get(tenant)
        if known is not None:
            tail = Tail(copy_of(known), [], [])
        else:
            tail = await self._tree.tail(tenant, None)
        replaced = set(tail.replaced)  # previous revisions whose live flag is still to clear
        moves = 0
        while queue:
            attempt = self._attempt(tenant, queue, tail.end, results)
            transactional = self._transactions and (attempt.several or bool(attempt.replaced))
            failure = await self._insert(attempt, transactional, replaced)
            stored = len(attempt.documents) if failure is None else failure.index
            if transactional:
                stored = len(attempt.documents) if failure is None else 0
                if failure is None:
                    replaced.clear()  # cleared in the transaction
            done: dict[int, int] = {}  # group -> how many of its records are stored now
            for offset, (pending, record) in enumerate(attempt.records[:stored]):
                if pending.first is None:
                    pending.first = attempt.position + offset
                done[pending.group] = done.get(pending.group, 0) + 1
                tail.leaf_hashes.append(record.leaf_hash)
                revision = record.revision
                if not transactional and revision is not None and revision.revision > 1:
                    replaced.add(revision_id(revision.id, revision.revision - 1))
            for pending, _ in attempt.starts:
                del pending.records[: done.get(pending.group, 0)]
            for pending, start in attempt.starts:
                if not pending.records and start <= stored:
                    first = pending.first
                    results[pending.group] = attempt.position + start if first is None else first
            queue = [pending for pending in queue if results[pending.group] is None]
            if failure is None:
                continue
            if failure.moved:
                moves += 1
                if moves > _MAX_MOVES:
                    raise StorageUnavailable("too many writers race for this tenant's log")
                tail = await self._tree.tail(tenant, tail.edge)
                replaced.update(tail.replaced)
                continue
            pending, record = attempt.records[failure.index]
            results[pending.group] = await self._refused(tenant, record, failure)
            queue.remove(pending)
            if pending.first is not None:
                log.warning(
                    "part of a refused batch stays in the log of %r from index %d on "
                    "(a race for an id without transactions)",
                    tenant,
                    pending.first,
                )
        await self._replace(sorted(replaced))
        self._remember(tenant, await self._tree.integrate(tenant, tail.edge, tail.leaf_hashes))
        return [_settled(result) for result in results]

    def _attempt(
        self,
        tenant: str,
        queue: list[_Pending],
        position: int,
        results: list[int | DomainError | None],
    ) -> _Attempt:
        """The documents of ``queue`` from ``position`` on, each BSON-encoded once; a
        group with a document over the server's limit is refused and left out."""
        while True:
            attempt = _Attempt(position)
            oversized = None
            for pending in queue:
                attempt.starts.append((pending, len(attempt.documents)))
                for record in pending.records:
                    index = position + len(attempt.documents)
                    raw = bson.encode(
                        leaf_document(tenant, index, record), codec_options=CODEC_OPTIONS
                    )
                    if len(raw) > self._max_document_bytes:
                        oversized = pending
                        break
                    attempt.documents.append(RawBSONDocument(raw))
                    attempt.records.append((pending, record))
                    revision = record.revision
                    if revision is not None and revision.revision > 1:
                        attempt.replaced.append(revision_id(revision.id, revision.revision - 1))
                if oversized is not None:
                    break
            if oversized is None:
                return attempt
            results[oversized.group] = EntryTooLarge(
                f"an entry of {tenant!r} exceeds MongoDB's document limit"
            )
            queue.remove(oversized)

    async def _insert(
        self, attempt: _Attempt, transactional: bool, replaced: set[str]
    ) -> _Failure | None:
        """Insert the attempt's documents; None when all are stored, else what the
        server refused first."""
        if not attempt.documents:
            return None
        try:
            if transactional:
                await self._in_transaction(attempt.documents, [*replaced, *attempt.replaced])
            else:
                await self._entries.insert_many(attempt.documents, ordered=True)
        except BulkWriteError as exc:
            failure = _failure(exc)
            if failure is None:
                raise
            return failure
        except OperationFailure as exc:
            # a write conflict with a concurrent transaction, on a position most likely
            if transactional and exc.has_error_label("TransientTransactionError"):
                return _Failure(0, moved=True)
            raise
        return None

    async def _in_transaction(self, documents: list[RawBSONDocument], replaced: list[str]) -> None:
        # PyMongo's start_session() returns the session, Motor's a coroutine of it;
        # PyMongo's start_transaction() is a coroutine, Motor's is not
        session = await _resolved(self._client.start_session())
        async with session:
            transaction = await _resolved(
                session.start_transaction(write_concern=self._write_concern)
            )
            async with transaction:
                await self._entries.insert_many(documents, ordered=True, session=session)
                if replaced:
                    await self._entries.update_many(
                        {"_id": {"$in": replaced}}, {"$set": {LIVE: False}}, session=session
                    )

    async def _replace(self, replaced: Sequence[str]) -> None:
        """Clear the live flag of revisions that later ones replace."""
        if replaced:
            await self._entries.update_many(
                {"_id": {"$in": list(replaced)}, LIVE: True}, {"$set": {LIVE: False}}
            )

    async def _refusals(
        self, tenant: str, groups: Sequence[Sequence[LogRecord]]
    ) -> dict[int, DomainError]:
        wanted = ids_to_check(groups)
        stored: dict[str, Mapping[str, Any]] = {}
        if wanted:
            cursor = self._entries.find({"_id": {"$in": wanted}}, {"tenant": 1, "deleted": 1})
            stored = {document["_id"]: document async for document in cursor}
        return await refusals(
            tenant, groups, stored, lambda entry_id: self._current(tenant, entry_id)
        )

    async def _refused(self, tenant: str, record: LogRecord, failure: _Failure) -> DomainError:
        """Why the server refused ``record`` (a duplicate ``_id`` or an oversized one)."""
        revision = record.revision
        if failure.too_large or revision is None:
            return EntryTooLarge(f"MongoDB refused an entry of {tenant!r} as too large")
        if revision.revision == 1:
            return DuplicateEntry(revision.id)
        current = await self._current(tenant, revision.id)
        return after_race(revision.id, revision.revision, current)

    async def _current(self, tenant: str, entry_id: str) -> tuple[int, bool] | None:
        document = await self._entries.find_one(
            {"_id": revisions_range(entry_id), "id": entry_id, "tenant": tenant},
            {"revision": 1, "deleted": 1},
            sort=[("_id", -1)],
        )
        if document is None:
            return None
        return int(document["revision"]), bool(document.get("deleted", False))

    def _remember(self, tenant: str, edge: CompactRange) -> None:
        known = self._edges.get(tenant)
        if known is None or known.size < edge.size:
            self._edges[tenant] = edge

    @asynccontextmanager
    async def _turn(self, tenant: str) -> AsyncIterator[None]:
        """One write to ``tenant``'s log at a time in this process (they would only
        collide on positions otherwise). A write that waited for one that found the
        server out of reach fails at once too, rather than wait out its own timeout.
        On any failure the cached head may be wrong: it is read again next time."""
        gate = self._gates.get(tenant)
        if gate is None:
            gate = self._gates[tenant] = _Gate()
        failures = gate.failures
        async with gate.lock:
            if gate.failures != failures:
                raise StorageUnavailable("MongoDB did not take the write before this one")
            try:
                with storage_errors():
                    yield
            except BaseException as exc:
                self._edges.pop(tenant, None)
                if isinstance(exc, StorageUnavailable):
                    gate.failures += 1
                raise

    # -- reading -----------------------------------------------------------------

    async def size(self, tenant: str) -> int:
        with storage_errors():
            return (await self._tree.head(tenant)).size

    async def node_hashes(self, tenant: str, nodes: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        leaves = [index for level, index in nodes if level == 0]
        inner = [(level, index) for level, index in nodes if level > 0]
        with storage_errors():
            found, stored = await asyncio.gather(
                self._leaf_hashes(tenant, leaves), self._tree.node_hashes(tenant, inner)
            )
        return {**found, **stored}

    async def _leaf_hashes(self, tenant: str, indexes: list[int]) -> dict[NodeId, bytes]:
        if not indexes:
            return {}
        cursor = self._entries.find(
            {"tenant": tenant, LOG_INDEX: {"$in": indexes}},
            {"_id": 0, LOG_INDEX: 1, LEAF_HASH: 1},
        )
        return {(0, document[LOG_INDEX]): bytes(document[LEAF_HASH]) async for document in cursor}

    async def leaves(self, tenant: str, start: int, end: int) -> Sequence[StoredLeaf]:
        start = max(start, 0)
        if end <= start:
            return []
        with storage_errors():
            cursor = self._entries.find(
                {"tenant": tenant, LOG_INDEX: {"$gte": start, "$lt": end}},
                {"_id": 0, LOG_INDEX: 1, LEAF: 1},
                sort=[(LOG_INDEX, 1)],
            )
            return [StoredLeaf(d[LOG_INDEX], bytes(d[LEAF])) async for d in cursor]

    async def leaf_index(self, tenant: str, entry_id: str, revision: int) -> int | None:
        with storage_errors():
            document = await self._entries.find_one(
                {"_id": revision_id(entry_id, revision), "tenant": tenant}, {LOG_INDEX: 1}
            )
        if document is None or LOG_INDEX not in document:
            return None
        index = int(document[LOG_INDEX])
        known = self._edges.get(tenant)
        if (known is None or index >= known.size) and index >= await self.size(tenant):
            await self.integrate(tenant)  # its writer died before integrating it
        return index

    async def leaf_indices(
        self, tenant: str, revisions: Collection[tuple[str, int]]
    ) -> Mapping[tuple[str, int], int]:
        wanted = {
            revision_id(entry_id, revision): (entry_id, revision)
            for entry_id, revision in revisions
        }
        if not wanted:
            return {}
        with storage_errors():
            cursor = self._entries.find(
                {"_id": {"$in": list(wanted)}, "tenant": tenant, LOG_INDEX: {"$exists": True}},
                {"_id": 1, LOG_INDEX: 1},
            )
            return {wanted[d["_id"]]: int(d[LOG_INDEX]) async for d in cursor}

    async def save_checkpoint(self, tenant: str, checkpoint: StoredCheckpoint) -> None:
        fields = {"tenant": tenant, "size": checkpoint.size, "note": checkpoint.note}
        with storage_errors():
            await self._checkpoints.update_one(
                {"_id": _checkpoint_id(tenant, checkpoint.size)},
                {"$setOnInsert": fields},
                upsert=True,
            )

    async def latest_checkpoint(self, tenant: str) -> StoredCheckpoint | None:
        with storage_errors():
            document = await self._checkpoints.find_one({"tenant": tenant}, sort=[("size", -1)])
        return None if document is None else StoredCheckpoint(document["size"], document["note"])

    async def checkpoint_at(self, tenant: str, size: int) -> StoredCheckpoint | None:
        with storage_errors():
            document = await self._checkpoints.find_one(
                {"_id": _checkpoint_id(tenant, size), "tenant": tenant}
            )
        return None if document is None else StoredCheckpoint(document["size"], document["note"])


def _checkpoint_id(tenant: str, size: int) -> str:
    return f"{tenant}:{size}"


def _failure(exc: BulkWriteError) -> _Failure | None:
    errors = exc.details.get("writeErrors") or []
    if not errors:
        return None
    first = errors[0]
    code = first.get("code")
    if code == DUPLICATE_KEY:
        key = first.get("keyPattern") or {}
        moved = LOG_INDEX in key or LOG_INDEX_NAME in str(first.get("errmsg", ""))
        return _Failure(int(first["index"]), moved=moved)
    if is_too_large(code):
        return _Failure(int(first["index"]), moved=False, too_large=True)
    return None


def _settled(result: int | DomainError | None) -> int | DomainError:
    if result is None:  # every group is stored or refused when the loop ends
        raise AssertionError("a group of the commit was neither stored nor refused")
    return result


async def _resolved(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value
