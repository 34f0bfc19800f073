"""MongoEntryRepository: the production EntryRepository, on MongoDB.

Runs on PyMongo's asyncio client (``pymongo.AsyncMongoClient``, PyMongo >= 4.13) and
equally on a Motor client (``motor.motor_asyncio.AsyncIOMotorClient``): it only calls
what both share. The document layout is in ``mongo_documents``, the filters and
indexes in ``mongo_queries``.

- One document per entry holds every revision, so ``amend``/``delete`` is a single
  atomic ``update_one`` guarded by ``revision``: of two racing amendments exactly one
  matches, and the other gets ``RevisionConflict``.
- ``append_many`` is all or nothing. On a replica set or sharded cluster (production)
  the batch is inserted in one multi-document transaction. A standalone server has
  no transactions: there the batch is checked first (duplicate ids, sizes), inserted
  with ``ordered=True``, and when the server refuses an entry the ones inserted
  before it are deleted again. Readers may glimpse such a batch for that moment, and
  a batch cut off by a lost connection may stay partly stored (no clean-up is tried
  then: the server is out of reach, and the caller must hear so within the timeout);
  use a replica set (a one-node one is enough) where that matters.
- Writes use the configured write concern (default majority + journal): when a
  method returns, the write is durable.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Self

import bson
from pymongo import AsyncMongoClient, WriteConcern
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from audit_trail.adapters.storage.mongo_documents import (
    CODEC_OPTIONS,
    ENTRIES_COLLECTION,
    OPTIONAL_FIELDS,
    PAST,
    document_history,
    document_to_entry,
    entry_to_document,
    revision_fields,
    stored_revision,
)
from audit_trail.adapters.storage.mongo_errors import is_too_large, storage_errors, translate
from audit_trail.adapters.storage.mongo_queries import (
    INDEXES,
    LIVE,
    FindArguments,
    find_arguments,
)
from audit_trail.core.errors import (
    DuplicateEntry,
    EntryNotFound,
    EntryTooLarge,
    RevisionConflict,
    StorageUnavailable,
)
from audit_trail.core.model import Entry
from audit_trail.core.ports import EntryPage
from audit_trail.core.query import QuerySpec

DURABLE = WriteConcern(w="majority", j=True)
DEFAULT_MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
_DUPLICATE_KEY = 11000
_TRANSACTION_ATTEMPTS = 3
_WITHOUT_PAST = {PAST: 0}


def parse_write_concern(w: str, *, journal: bool) -> WriteConcern:
    """``"majority"`` or a positive number of nodes (``"2"``), with or without the
    journal. Unacknowledged writes (``0``) are refused: a write must be durable when
    the repository returns."""
    if w == "majority":
        return WriteConcern(w="majority", j=journal)
    if w.isascii() and w.isdigit() and int(w) >= 1:
        return WriteConcern(w=int(w), j=journal)
    raise ValueError(f"the write concern must be 'majority' or a number of nodes >= 1, not {w!r}")


class MongoEntryRepository:
    """Create with ``await MongoEntryRepository.open(database)``, which also creates
    the indexes; the caller owns (and closes) the client behind ``database``."""

    def __init__(
        self,
        database: AsyncDatabase[dict[str, Any]],
        *,
        write_concern: WriteConcern = DURABLE,
        transactions: bool = False,
        max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
    ) -> None:
        self._client = database.client
        self._entries = database.get_collection(
            ENTRIES_COLLECTION, codec_options=CODEC_OPTIONS, write_concern=write_concern
        )
        self._write_concern = write_concern
        self._transactions = transactions
        self._max_document_bytes = max_document_bytes

    @classmethod
    async def open(
        cls, database: AsyncDatabase[dict[str, Any]], *, write_concern: WriteConcern = DURABLE
    ) -> Self:
        """Ask the server what it is, create the indexes (idempotent), and return the
        repository. ``StorageUnavailable`` when the server does not answer in time."""
        with storage_errors():
            hello = await database.command("hello")
            clustered = "setName" in hello or hello.get("msg") == "isdbgrid"
            repository = cls(
                database,
                write_concern=write_concern,
                transactions=clustered,
                max_document_bytes=hello.get("maxBsonObjectSize", DEFAULT_MAX_DOCUMENT_BYTES),
            )
            await repository.ensure_indexes()
        return repository

    @property
    def uses_transactions(self) -> bool:
        """Whether ``append_many`` runs in a transaction (replica set or sharded)."""
        return self._transactions

    async def ensure_indexes(self) -> None:
        """Create the query indexes; indexes that exist already are left as they are."""
        with storage_errors():
            await self._entries.create_indexes(INDEXES)

    def find_arguments(self, tenant: str, spec: QuerySpec) -> FindArguments:
        """Exactly what ``query`` passes to ``find`` (for ``explain`` in tests and ops)."""
        return find_arguments(tenant, spec)

    async def append(self, entry: Entry) -> None:
        with storage_errors():
            try:
                await self._entries.insert_one(entry_to_document(entry))
            except DuplicateKeyError:
                raise DuplicateEntry(entry.id) from None

    async def append_many(self, entries: Sequence[Entry]) -> None:
        seen: set[str] = set()
        for entry in entries:
            if entry.id in seen:
                raise DuplicateEntry(entry.id)
            seen.add(entry.id)
        documents = [entry_to_document(entry) for entry in entries]
        for document in documents:
            if len(bson.encode(document)) > self._max_document_bytes:
                raise EntryTooLarge(f"entry {document['_id']!r} exceeds MongoDB's document limit")
        if not documents:
            return
        with storage_errors():
            if self._transactions:
                await self._insert_in_transaction(documents)
            else:
                await self._insert_compensated(documents)

    async def get(self, tenant: str, entry_id: str) -> Entry | None:
        with storage_errors():
            document = await self._entries.find_one(
                {"_id": entry_id, "tenant": tenant, **LIVE}, _WITHOUT_PAST
            )
        return None if document is None else document_to_entry(document)

    async def query(self, tenant: str, spec: QuerySpec) -> EntryPage:
        arguments = self.find_arguments(tenant, spec)
        with storage_errors():
            cursor = self._entries.find(**arguments.as_kwargs())
            documents = await cursor.to_list(arguments.limit)
        items = [document_to_entry(document) for document in documents[: spec.limit]]
        return EntryPage(items=items, has_more=len(documents) > spec.limit)

    async def amend(self, revision: Entry) -> None:
        await self._store_next(revision)

    async def delete(self, tombstone: Entry) -> None:
        await self._store_next(tombstone)

    async def history(self, tenant: str, entry_id: str) -> Sequence[Entry]:
        with storage_errors():
            document = await self._entries.find_one({"_id": entry_id, "tenant": tenant})
        return [] if document is None else document_history(document)

    async def _store_next(self, revision: Entry) -> None:
        """Make ``revision`` current if the stored current one is ``revision - 1``."""
        expected = revision.revision - 1
        with storage_errors():
            current = await self._live_document(revision)
            if current["revision"] != expected:
                raise RevisionConflict(revision.id, expected, current["revision"])
            fields = revision_fields(revision)
            update: dict[str, Any] = {"$set": fields, "$push": {PAST: stored_revision(current)}}
            unset = {name: "" for name in OPTIONAL_FIELDS if name not in fields}
            if unset:
                update["$unset"] = unset
            guard = {"_id": revision.id, "tenant": revision.tenant, "revision": expected, **LIVE}
            result = await self._entries.update_one(guard, update)
            if result.matched_count == 0:  # another amendment or deletion came first
                latest = await self._live_document(revision)
                raise RevisionConflict(revision.id, expected, latest["revision"])

    async def _live_document(self, revision: Entry) -> Mapping[str, Any]:
        document = await self._entries.find_one(
            {"_id": revision.id, "tenant": revision.tenant, **LIVE}, _WITHOUT_PAST
        )
        if document is None:
            raise EntryNotFound(revision.id)
        return document

    async def _insert_in_transaction(self, documents: list[dict[str, Any]]) -> None:
        for attempt in range(1, _TRANSACTION_ATTEMPTS + 1):
            try:
                # PyMongo's start_session() returns the session, Motor's a coroutine of
                # it; PyMongo's start_transaction() is a coroutine, Motor's is not
                session = await _resolved(self._client.start_session())
                async with session:
                    transaction = await _resolved(
                        session.start_transaction(write_concern=self._write_concern)
                    )
                    async with transaction:
                        await self._entries.insert_many(documents, session=session)
                return
            except OperationFailure as exc:
                # e.g. a write conflict with a concurrent transaction: try again
                transient = exc.has_error_label("TransientTransactionError")
                if transient and attempt < _TRANSACTION_ATTEMPTS:
                    continue
                if isinstance(exc, BulkWriteError):
                    raise _refused(exc, documents) from None
                raise

    async def _insert_compensated(self, documents: list[dict[str, Any]]) -> None:
        try:
            await self._entries.insert_many(documents, ordered=True)
        except BulkWriteError as exc:
            failure = _refused(exc, documents)
            first_error = (exc.details.get("writeErrors") or [{}])[0].get("index")
            if first_error is not None:  # ordered: exactly those before it were inserted
                inserted = [document["_id"] for document in documents[:first_error]]
                await self._entries.delete_many({"_id": {"$in": inserted}})
            raise failure from None


def _refused(exc: BulkWriteError, documents: Sequence[Mapping[str, Any]]) -> Exception:
    """The port's error for a batch the server refused."""
    errors = exc.details.get("writeErrors") or []
    if errors:
        first = errors[0]
        if first.get("code") == _DUPLICATE_KEY:
            return DuplicateEntry(documents[first["index"]]["_id"])
        if is_too_large(first.get("code")):
            return EntryTooLarge(f"MongoDB refused an entry: {first.get('errmsg')}")
    return translate(exc) or StorageUnavailable(f"MongoDB did not store the batch: {exc}")


async def _resolved(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


@asynccontextmanager
async def open_mongo_repository(
    *, uri: str, database: str, write_concern: str, journal: bool, timeout_ms: int
) -> AsyncIterator[MongoEntryRepository]:
    """Connect to ``uri`` with PyMongo's asyncio client, create the indexes in
    ``database``, yield the repository, and close the client afterwards.

    ``timeout_ms`` bounds every operation (server selection included): past it,
    ``StorageUnavailable``. The client reconnects by itself when the server is back.
    """
    concern = parse_write_concern(write_concern, journal=journal)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        uri,
        timeoutMS=timeout_ms,
        serverSelectionTimeoutMS=timeout_ms,
        appname="audit-trail",
        tz_aware=True,
    )
    try:
        yield await MongoEntryRepository.open(client[database], write_concern=concern)
    finally:
        await client.close()
