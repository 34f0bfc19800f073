"""MongoEntryRepository: the production EntryRepository and TenantLog, on MongoDB.

Runs on PyMongo's asyncio client (``pymongo.AsyncMongoClient``, PyMongo >= 4.13) and
equally on a Motor client (``motor.motor_asyncio.AsyncIOMotorClient``): it only calls
what both share. The document layout is in ``mongo_documents``, the filters and
indexes in ``mongo_queries``, the log (sequencing, integration, proofs' reads and
checkpoints) in ``mongo_log`` and ``mongo_tree``.

- One document per revision: ``get`` reads the last of an entry's ``_id`` range,
  ``history`` the range in order (a page of it when asked), ``query`` only documents
  flagged ``live`` (the current revision of an entry that is not deleted).
- Every write is a commit of the tenant log (``SingleChangeWrites``): a revision and
  its leaf are one document, so the entries and the log never disagree.
- The query index (docs/query-proofs.md) of each tenant log is in collections of
  its own (``mongo_index``, ``mongo_index_journal``).
- Writes use the configured write concern (default majority + journal): when a
  method returns, the write is durable.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Self

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel, WriteConcern
from pymongo.asynchronous.database import AsyncDatabase

from audit_trail.adapters.storage.changes import SingleChangeWrites
from audit_trail.adapters.storage.mongo_documents import (
    CODEC_OPTIONS,
    ENTRIES_COLLECTION,
    ENTRY_PROJECTION,
    document_to_entry,
    revision_id,
    revisions_range,
    rewrite_update,
)
from audit_trail.adapters.storage.mongo_errors import storage_errors
from audit_trail.adapters.storage.mongo_holds import (
    HOLD_INDEXES,
    HOLDS_COLLECTION,
    MongoLegalHolds,
)
from audit_trail.adapters.storage.mongo_idempotency import (
    IDEMPOTENCY_COLLECTION,
    IDEMPOTENCY_INDEXES,
    MongoIdempotencyStore,
)
from audit_trail.adapters.storage.mongo_index import MongoQueryIndex
from audit_trail.adapters.storage.mongo_index_journal import (
    HEADS_COLLECTION,
    JOURNAL_COLLECTION,
    MAP_NODE_INDEXES,
    MAP_NODES_COLLECTION,
    POSTING_HEAD_INDEXES,
    POSTING_HEADS_COLLECTION,
    POSTING_INDEXES,
    POSTINGS_COLLECTION,
    IndexCollections,
)
from audit_trail.adapters.storage.mongo_log import CHECKPOINTS_COLLECTION, MongoTenantLog
from audit_trail.adapters.storage.mongo_queries import INDEXES, FindArguments, find_arguments
from audit_trail.adapters.storage.mongo_retention import (
    RETENTION_INDEXES,
    SETTINGS_COLLECTION,
    MongoRetentionStore,
)
from audit_trail.adapters.storage.mongo_sinks import SINK_CURSORS_COLLECTION, MongoSinkCursors
from audit_trail.adapters.storage.mongo_tree import TREE_COLLECTION
from audit_trail.adapters.storage.mongo_webhooks import WEBHOOKS_COLLECTION, MongoWebhookStore
from audit_trail.core.model import Entry
from audit_trail.core.ports import EntryPage
from audit_trail.core.query import QuerySpec

DURABLE = WriteConcern(w="majority", j=True)
DEFAULT_MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
CHECKPOINT_INDEXES = [IndexModel([("tenant", ASCENDING), ("size", DESCENDING)], name="tenant_size")]


class OlderLayout(ValueError):
    """The database was written by a version that kept no tenant logs."""


def parse_write_concern(w: str, *, journal: bool) -> WriteConcern:
    """``"majority"`` or a positive number of nodes (``"2"``), with or without the
    journal. Unacknowledged writes (``0``) are refused: a write must be durable when
    the repository returns."""
    if w == "majority":
        return WriteConcern(w="majority", j=journal)
    if w.isascii() and w.isdigit() and int(w) >= 1:
        return WriteConcern(w=int(w), j=journal)
    raise ValueError(f"the write concern must be 'majority' or a number of nodes >= 1, not {w!r}")


class MongoEntryRepository(SingleChangeWrites, MongoTenantLog):
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
        def collection(name: str) -> Any:
            return database.get_collection(
                name, codec_options=CODEC_OPTIONS, write_concern=write_concern
            )

        super().__init__(
            client=database.client,
            entries=collection(ENTRIES_COLLECTION),
            checkpoints=collection(CHECKPOINTS_COLLECTION),
            tree=collection(TREE_COLLECTION),
            write_concern=write_concern,
            transactions=transactions,
            max_document_bytes=max_document_bytes,
        )
        self._index_collections = IndexCollections(
            entries=collection(ENTRIES_COLLECTION),
            heads=collection(HEADS_COLLECTION),
            postings=collection(POSTINGS_COLLECTION),
            posting_heads=collection(POSTING_HEADS_COLLECTION),
            map_nodes=collection(MAP_NODES_COLLECTION),
            journal=collection(JOURNAL_COLLECTION),
        )
        self._index = MongoQueryIndex(self._index_collections)
        self._idempotency_records = collection(IDEMPOTENCY_COLLECTION)
        self._idempotency = MongoIdempotencyStore(self._idempotency_records)
        self._holds_collection = collection(HOLDS_COLLECTION)
        self._holds = MongoLegalHolds(self._holds_collection)
        self._webhooks = MongoWebhookStore(collection(WEBHOOKS_COLLECTION))
        self._sink_cursors = MongoSinkCursors(collection(SINK_CURSORS_COLLECTION))
        self._retention = MongoRetentionStore(
            collection(ENTRIES_COLLECTION), collection(SETTINGS_COLLECTION)
        )

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
            await repository._refuse_an_older_layout()
            await repository.ensure_indexes()
        return repository

    async def _refuse_an_older_layout(self) -> None:
        """A database written before the tenant logs (one document per entry, its
        earlier revisions in ``past``) has no leaves to prove anything with; refuse it
        rather than mix the two layouts."""
        if await self._entries.find_one({"past": {"$exists": True}}, {"_id": 1}) is not None:
            raise OlderLayout(
                "the database holds entries in the layout before the tenant logs (one "
                "document per entry, without leaves); use a new database"
            )

    @property
    def uses_transactions(self) -> bool:
        """Whether batches, amendments and deletions are committed in a transaction
        (replica set or sharded cluster)."""
        return self._transactions

    async def ensure_indexes(self) -> None:
        """Create the indexes; indexes that exist already are left as they are."""
        with storage_errors():
            await self._entries.create_indexes(INDEXES)
            await self._checkpoints.create_indexes(CHECKPOINT_INDEXES)
            index = self._index_collections
            await index.postings.create_indexes(POSTING_INDEXES)
            await index.posting_heads.create_indexes(POSTING_HEAD_INDEXES)
            await index.map_nodes.create_indexes(MAP_NODE_INDEXES)
            await self._idempotency_records.create_indexes(IDEMPOTENCY_INDEXES)
            await self._holds_collection.create_indexes(HOLD_INDEXES)
            await self._entries.create_indexes(RETENTION_INDEXES)

    def query_index(self) -> MongoQueryIndex:
        """The query index of these tenant logs (``mongo_index``; one per repository)."""
        return self._index

    def idempotency(self) -> MongoIdempotencyStore:
        """The Idempotency-Key records (``mongo_idempotency``; one per repository)."""
        return self._idempotency

    def webhooks(self) -> MongoWebhookStore:
        """The webhook subscriptions (``mongo_webhooks``; one per repository)."""
        return self._webhooks

    def sink_cursors(self) -> MongoSinkCursors:
        """The sinks' cursors (``mongo_sinks``; one per repository)."""
        return self._sink_cursors

    def legal_holds(self) -> MongoLegalHolds:
        """The legal holds (``mongo_holds``; one per repository)."""
        return self._holds

    def retention(self) -> MongoRetentionStore:
        """Retention settings and purges (``mongo_retention``; one per repository)."""
        return self._retention

    @property
    def index_collections(self) -> IndexCollections:
        """The collections of the query index (for a ``MongoQueryIndex`` of other
        settings, in tests and ops)."""
        return self._index_collections

    def find_arguments(self, tenant: str, spec: QuerySpec) -> FindArguments:
        """Exactly what ``query`` passes to ``find`` (for ``explain`` in tests and ops)."""
        return find_arguments(tenant, spec)

    async def get(self, tenant: str, entry_id: str) -> Entry | None:
        with storage_errors():
            document = await self._entries.find_one(
                {"_id": revisions_range(entry_id), "id": entry_id, "tenant": tenant},
                ENTRY_PROJECTION,
                sort=[("_id", DESCENDING)],
            )
        if document is None or document.get("deleted", False):
            return None
        return document_to_entry(document)

    async def query(self, tenant: str, spec: QuerySpec) -> EntryPage:
        arguments = self.find_arguments(tenant, spec)
        limit = arguments.limit
        with storage_errors():
            while True:
                cursor = self._entries.find(**{**arguments.as_kwargs(), "limit": limit})
                fetched = await cursor.to_list(limit)
                documents = _current_only(fetched)
                if len(documents) > spec.limit or len(fetched) < limit:
                    break
                limit += len(fetched) - len(documents)  # make up for the dropped ones
        items = [document_to_entry(document) for document in documents[: spec.limit]]
        return EntryPage(items=items, has_more=len(documents) > spec.limit)

    async def history(
        self, tenant: str, entry_id: str, *, after: int = 0, limit: int | None = None
    ) -> Sequence[Entry]:
        """Every revision, oldest first; with ``after`` and ``limit``, at most ``limit``
        of those after revision ``after`` (a page: an entry may have thousands)."""
        range_ = {"$gt": revision_id(entry_id, after), "$lt": revisions_range(entry_id)["$lt"]}
        with storage_errors():
            cursor = self._entries.find(
                {"_id": range_, "id": entry_id, "tenant": tenant},
                ENTRY_PROJECTION,
                sort=[("_id", ASCENDING)],
                limit=limit or 0,
            )
            return [document_to_entry(document) async for document in cursor]

    async def revision(
        self, tenant: str, entry_id: str, revision: int | None = None
    ) -> Entry | None:
        by_id = revisions_range(entry_id) if revision is None else revision_id(entry_id, revision)
        with storage_errors():
            document = await self._entries.find_one(
                {"_id": by_id, "id": entry_id, "tenant": tenant},
                ENTRY_PROJECTION,
                sort=[("_id", DESCENDING)],
            )
        return None if document is None else document_to_entry(document)

    async def revisions(
        self, tenant: str, wanted: Sequence[tuple[str, int]]
    ) -> Mapping[tuple[str, int], Entry]:
        ids = [revision_id(entry_id, number) for entry_id, number in dict.fromkeys(wanted)]
        with storage_errors():
            cursor = self._entries.find({"_id": {"$in": ids}, "tenant": tenant}, ENTRY_PROJECTION)
            found = [document_to_entry(document) async for document in cursor]
        return {(entry.id, entry.revision): entry for entry in found}

    async def rewrite(self, revisions: Sequence[Entry]) -> None:
        with storage_errors():
            for revision in revisions:
                await self._entries.update_one(
                    {"_id": revision_id(revision.id, revision.revision), "tenant": revision.tenant},
                    rewrite_update(revision),
                )


def _current_only(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``documents`` without a revision whose successor is among them too. Without
    transactions, an amendment is briefly live twice (its insert, then the flag update
    of the revision before it); a reader sees the newer one only."""
    newest: dict[str, int] = {}
    for document in documents:
        newest[document["id"]] = max(newest.get(document["id"], 0), document["revision"])
    if len(newest) == len(documents):
        return documents
    return [d for d in documents if d["revision"] == newest[d["id"]]]


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
