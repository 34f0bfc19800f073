"""SqliteEntryRepository: the embedded default EntryRepository and TenantLog, on aiosqlite.

One file in WAL mode with ``synchronous=FULL``, so nothing acknowledged is lost.
Two connections: a writer, used by one transaction at a time (an asyncio lock), and
a read-only reader. Each read is a single SELECT, hence one consistent snapshot of
committed data: no reader sees half of an amendment. A write transaction, once
begun, runs to its COMMIT or ROLLBACK even if the caller is cancelled.

Entries and the tenant logs live in one file (``sqlite_schema``): a ``commit`` is one
``BEGIN IMMEDIATE`` transaction for all its groups (``sqlite_log``), which SQLite
serialises with every other writer of the file, in this process or another. Each
tenant's right edge is cached here and used only when the log's size, read inside
the transaction, is still the cached edge's size.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import aiosqlite

from audit_trail.adapters.storage.changes import SingleChangeWrites
from audit_trail.adapters.storage.sqlite_holds import SqliteLegalHolds
from audit_trail.adapters.storage.sqlite_idempotency import SqliteIdempotencyStore, create_schema
from audit_trail.adapters.storage.sqlite_index import SqliteQueryIndex
from audit_trail.adapters.storage.sqlite_log import (
    SELECT_LEAF_INDEX,
    SELECT_LEAF_INDICES,
    SELECT_LEAVES,
    SELECT_NODES,
    SELECT_SIZE,
    SQLITE_TOOBIG,
    append_groups,
    found_nodes,
    nodes_parameter,
)
from audit_trail.adapters.storage.sqlite_migration import migrate
from audit_trail.adapters.storage.sqlite_query import build_query
from audit_trail.adapters.storage.sqlite_retention import SqliteRetentionStore
from audit_trail.adapters.storage.sqlite_retention import create_schema as create_retention_schema
from audit_trail.adapters.storage.sqlite_schema import (
    COLUMNS,
    DELETE_TAGS,
    INSERT_TAG,
    REWRITE_REVISION,
    rewrite_parameters,
    row_to_entry,
    tag_rows,
)
from audit_trail.adapters.storage.sqlite_sinks import SqliteSinkCursors
from audit_trail.adapters.storage.sqlite_sinks import create_schema as create_sink_schema
from audit_trail.adapters.storage.sqlite_webhooks import SqliteWebhookStore
from audit_trail.adapters.storage.sqlite_webhooks import create_schema as create_webhook_schema
from audit_trail.core.errors import DomainError, EntryTooLarge, StorageUnavailable
from audit_trail.core.integrity.merkle import CompactRange
from audit_trail.core.model import Entry
from audit_trail.core.ports import EntryPage
from audit_trail.core.ports.log import LogRecord, NodeId, StoredCheckpoint, StoredLeaf
from audit_trail.core.query import QuerySpec

# S608: the SQL text is built from constant column names only; values are bound
_BY_ID = f"SELECT {', '.join(COLUMNS)} FROM revisions WHERE tenant = ? AND id = ?"  # noqa: S608
_SELECT_LIVE = _BY_ID + " AND live = 1"
_SELECT_HISTORY = _BY_ID + " AND revision > ? ORDER BY revision LIMIT ?"
_SELECT_REVISION = _BY_ID + " AND revision = ?"
_SELECT_LATEST_REVISION = _BY_ID + " ORDER BY revision DESC LIMIT 1"
# The wanted revisions as one JSON array of [id, revision] pairs, each a probe of the
# primary key (as sqlite_log's SELECT_LEAF_INDICES).
_SELECT_REVISIONS = f"""
WITH wanted(id, revision) AS (
    SELECT DISTINCT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?1)
)
SELECT {", ".join("r." + column for column in COLUMNS)} FROM wanted AS w CROSS JOIN revisions AS r
    ON r.tenant = ?2 AND r.id = w.id AND r.revision = w.revision
"""  # noqa: S608
_SELECT_LATEST_CHECKPOINT = (
    "SELECT size, note FROM checkpoints WHERE tenant = ? ORDER BY size DESC LIMIT 1"
)
_SELECT_CHECKPOINT = "SELECT size, note FROM checkpoints WHERE tenant = ? AND size = ?"
_SAVE_CHECKPOINT = "INSERT OR REPLACE INTO checkpoints (tenant, size, note) VALUES (?, ?, ?)"
# busy, locked, out of memory, read-only, I/O error, disk full, cannot open, protocol
_UNAVAILABLE = frozenset({5, 6, 7, 8, 10, 13, 14, 15})
_CACHED_EDGES = 4096  # tenants whose right edge is kept between commits

T = TypeVar("T")
_Work = Callable[[aiosqlite.Connection], Awaitable[T]]


class SqliteEntryRepository(SingleChangeWrites):
    """Create with ``await SqliteEntryRepository.open(path)``; ``await close()`` (or
    ``async with``) when done."""

    def __init__(self, writer: aiosqlite.Connection, reader: aiosqlite.Connection) -> None:
        self._writer = writer
        self._reader = reader
        self._write_lock = asyncio.Lock()
        self._edges: OrderedDict[str, CompactRange] = OrderedDict()

    @classmethod
    async def open(cls, path: str | Path, *, busy_timeout_ms: int = 5000) -> Self:
        """Open (or create) the database file at ``path`` and bring its schema to the
        current version (``sqlite_migration``).

        ``busy_timeout_ms`` is how long a statement waits for another process's lock
        before ``StorageUnavailable``."""
        with _storage_errors():
            writer = await _connect(path, busy_timeout_ms)
            try:
                await _write_ahead_logging(writer, busy_timeout_ms)
                await writer.execute_fetchall("PRAGMA synchronous = FULL")
                await _in_transaction(writer, migrate)
                await _in_transaction(writer, create_schema)
                await _in_transaction(writer, create_retention_schema)
                await _in_transaction(writer, create_webhook_schema)
                await _in_transaction(writer, create_sink_schema)
                reader = await _connect(path, busy_timeout_ms)
                await reader.execute_fetchall("PRAGMA query_only = ON")
            except BaseException:
                await writer.close()
                raise
        return cls(writer, reader)

    async def close(self) -> None:
        """Close both connections; pending writes finish first. Safe to call twice."""
        async with self._write_lock:
            await self._reader.close()
            await self._writer.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def commit(
        self, tenant: str, groups: Sequence[Sequence[LogRecord]]
    ) -> list[int | DomainError]:
        if not groups:
            return []

        async def work(db: aiosqlite.Connection) -> tuple[list[int | DomainError], CompactRange]:
            return await append_groups(db, tenant, groups, self._edges.get(tenant))

        results, edge = await self._write(work)
        # only now: an edge of a rolled-back transaction could match a later size
        self._edges[tenant] = edge
        self._edges.move_to_end(tenant)
        if len(self._edges) > _CACHED_EDGES:
            self._edges.popitem(last=False)
        return results

    async def size(self, tenant: str) -> int:
        rows = await self._read(SELECT_SIZE, (tenant,))
        return int(rows[0][0]) if rows else 0

    async def node_hashes(self, tenant: str, nodes: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        if not nodes:
            return {}
        return found_nodes(await self._read(SELECT_NODES, (nodes_parameter(nodes), tenant)))

    async def leaves(self, tenant: str, start: int, end: int) -> Sequence[StoredLeaf]:
        rows = await self._read(SELECT_LEAVES, (tenant, start, end))
        return [StoredLeaf(index, bytes(leaf)) for index, leaf in rows]

    async def leaf_index(self, tenant: str, entry_id: str, revision: int) -> int | None:
        rows = await self._read(SELECT_LEAF_INDEX, (tenant, entry_id, revision))
        return int(rows[0][0]) if rows else None

    async def leaf_indices(
        self, tenant: str, revisions: Collection[tuple[str, int]]
    ) -> Mapping[tuple[str, int], int]:
        if not revisions:
            return {}
        wanted = json.dumps([[entry_id, revision] for entry_id, revision in revisions])
        rows = await self._read(SELECT_LEAF_INDICES, (wanted, tenant))
        return {(str(row[0]), int(row[1])): int(row[2]) for row in rows}

    async def save_checkpoint(self, tenant: str, checkpoint: StoredCheckpoint) -> None:
        async def work(db: aiosqlite.Connection) -> None:
            await db.execute_fetchall(_SAVE_CHECKPOINT, (tenant, checkpoint.size, checkpoint.note))

        await self._write(work)

    async def latest_checkpoint(self, tenant: str) -> StoredCheckpoint | None:
        rows = await self._read(_SELECT_LATEST_CHECKPOINT, (tenant,))
        return StoredCheckpoint(rows[0][0], rows[0][1]) if rows else None

    async def checkpoint_at(self, tenant: str, size: int) -> StoredCheckpoint | None:
        rows = await self._read(_SELECT_CHECKPOINT, (tenant, size))
        return StoredCheckpoint(rows[0][0], rows[0][1]) if rows else None

    async def get(self, tenant: str, entry_id: str) -> Entry | None:
        rows = await self._read(_SELECT_LIVE, (tenant, entry_id))
        return row_to_entry(rows[0]) if rows else None

    async def query(self, tenant: str, spec: QuerySpec) -> EntryPage:
        sql, params = build_query(tenant, spec)
        rows = await self._read(sql, params)
        items = [row_to_entry(row, evidence=spec.evidence) for row in rows[: spec.limit]]
        return EntryPage(items=items, has_more=len(rows) > spec.limit)

    async def history(
        self, tenant: str, entry_id: str, *, after: int = 0, limit: int | None = None
    ) -> Sequence[Entry]:
        rows = await self._read(_SELECT_HISTORY, (tenant, entry_id, after, limit or -1))
        return [row_to_entry(row) for row in rows]

    async def revision(
        self, tenant: str, entry_id: str, revision: int | None = None
    ) -> Entry | None:
        if revision is None:
            rows = await self._read(_SELECT_LATEST_REVISION, (tenant, entry_id))
        else:
            rows = await self._read(_SELECT_REVISION, (tenant, entry_id, revision))
        return row_to_entry(rows[0]) if rows else None

    async def revisions(
        self, tenant: str, wanted: Sequence[tuple[str, int]]
    ) -> Mapping[tuple[str, int], Entry]:
        if not wanted:
            return {}
        rows = await self._read(_SELECT_REVISIONS, (json.dumps(list(wanted)), tenant))
        found = [row_to_entry(row) for row in rows]
        return {(entry.id, entry.revision): entry for entry in found}

    async def rewrite(self, revisions: Sequence[Entry]) -> None:
        async def work(db: aiosqlite.Connection) -> None:
            for revision in revisions:
                live = list(
                    await db.execute_fetchall(REWRITE_REVISION, rewrite_parameters(revision))
                )
                if live and live[0][0]:  # the tags a query finds are the live revision's
                    await db.execute_fetchall(DELETE_TAGS, (revision.tenant, revision.id))
                    await db.executemany(INSERT_TAG, tag_rows(revision))

        await self._write(work)

    def query_index(self) -> SqliteQueryIndex:
        """The query index of this file's tenant logs."""
        return SqliteQueryIndex(self._read, self._write)

    def idempotency(self) -> SqliteIdempotencyStore:
        """The Idempotency-Key records kept in this file (``sqlite_idempotency``)."""
        return SqliteIdempotencyStore(self._read, self._write)

    def legal_holds(self) -> SqliteLegalHolds:
        """The legal holds kept in this file (``sqlite_holds``)."""
        return SqliteLegalHolds(self._read, self._write)

    def retention(self) -> SqliteRetentionStore:
        """The retention settings and purges of this file (``sqlite_retention``)."""
        return SqliteRetentionStore(self._read, self._write)

    def webhooks(self) -> SqliteWebhookStore:
        """The webhook subscriptions of this file (``sqlite_webhooks``)."""
        return SqliteWebhookStore(self._read, self._write)

    def sink_cursors(self) -> SqliteSinkCursors:
        """The sinks' cursors in this file (``sqlite_sinks``)."""
        return SqliteSinkCursors(self._read, self._write)

    async def _read(self, sql: str, params: Sequence[Any]) -> list[sqlite3.Row]:
        with _storage_errors():
            return list(await self._reader.execute_fetchall(sql, params))

    async def _write(self, work: _Work[T]) -> T:
        async def locked() -> T:
            async with self._write_lock:
                return await _in_transaction(self._writer, work)

        task = asyncio.ensure_future(locked())
        # when the caller was cancelled, nobody else looks at the task's outcome
        task.add_done_callback(lambda done: done.cancelled() or done.exception())
        with _storage_errors():
            return await asyncio.shield(task)


async def _write_ahead_logging(writer: aiosqlite.Connection, busy_timeout_ms: int) -> None:
    """Put the file in WAL mode. SQLite answers "database is locked" at once, without
    its busy handler, while another process opens (and migrates) the same new file:
    try again until the busy timeout has passed."""
    deadline = asyncio.get_running_loop().time() + busy_timeout_ms / 1000
    while True:
        try:
            await writer.execute_fetchall("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or asyncio.get_running_loop().time() >= deadline:
                raise
        await asyncio.sleep(0.01)


async def _connect(path: str | Path, busy_timeout_ms: int) -> aiosqlite.Connection:
    # a failed aiosqlite.connect leaves its worker thread calling back into the event
    # loop later, so find out first, with the standard library, whether the file opens
    await asyncio.to_thread(_probe, path)
    # isolation_level=None: no implicit transactions; writes BEGIN IMMEDIATE themselves
    # timeout: SQLite's busy timeout, how long to wait for another process's lock
    return await aiosqlite.connect(path, isolation_level=None, timeout=busy_timeout_ms / 1000)


def _probe(path: str | Path) -> None:
    sqlite3.connect(path).close()


async def _in_transaction(db: aiosqlite.Connection, work: _Work[T]) -> T:
    await db.execute_fetchall("BEGIN IMMEDIATE")
    try:
        result = await work(db)
    except BaseException:
        if db.in_transaction:  # some failures have rolled it back already
            await db.execute_fetchall("ROLLBACK")
        raise
    await db.execute_fetchall("COMMIT")
    return result


@contextmanager
def _storage_errors() -> Iterator[None]:
    """SQLite's own failures as the port's errors; anything else passes unchanged."""
    try:
        yield
    except sqlite3.Error as exc:
        code = getattr(exc, "sqlite_errorcode", None)
        primary = None if code is None else code & 0xFF
        if primary == SQLITE_TOOBIG:
            raise EntryTooLarge(f"SQLite refused the entry: {exc}") from exc
        if primary in _UNAVAILABLE:
            raise StorageUnavailable(f"SQLite is unavailable: {exc}") from exc
        raise
