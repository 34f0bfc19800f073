"""SqliteEntryRepository: the embedded default EntryRepository, on aiosqlite.

One file in WAL mode with ``synchronous=FULL``, so nothing acknowledged is lost.
Two connections: a writer, used by one transaction at a time (an asyncio lock), and
a read-only reader. Each read is a single SELECT, hence one consistent snapshot of
committed data: no reader sees half of an amendment. A write transaction, once
begun, runs to its COMMIT or ROLLBACK even if the caller is cancelled.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiosqlite

from audit_trail.adapters.storage.sqlite_query import build_query
from audit_trail.adapters.storage.sqlite_schema import (
    COLUMNS,
    INSERT_REVISION,
    INSERT_TAG,
    SCHEMA,
    entry_to_row,
    row_to_entry,
    tag_rows,
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

# S608: the SQL text is built from constant column names only; values are bound
_BY_ID = f"SELECT {', '.join(COLUMNS)} FROM revisions WHERE tenant = ? AND id = ?"  # noqa: S608
_SELECT_LIVE = _BY_ID + " AND live = 1"
_SELECT_HISTORY = _BY_ID + " ORDER BY revision"
_SELECT_LATEST = (
    "SELECT revision, deleted FROM revisions WHERE tenant = ? AND id = ?"
    " ORDER BY revision DESC LIMIT 1"
)
_SQLITE_TOOBIG = 18
# busy, locked, out of memory, read-only, I/O error, disk full, cannot open, protocol
_UNAVAILABLE = frozenset({5, 6, 7, 8, 10, 13, 14, 15})

_Work = Callable[[aiosqlite.Connection], Awaitable[None]]


class SqliteEntryRepository:
    """Create with ``await SqliteEntryRepository.open(path)``; ``await close()`` (or
    ``async with``) when done."""

    def __init__(self, writer: aiosqlite.Connection, reader: aiosqlite.Connection) -> None:
        self._writer = writer
        self._reader = reader
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path, *, busy_timeout_ms: int = 5000) -> Self:
        """Open (or create) the database file at ``path`` and make sure the schema exists.

        ``busy_timeout_ms`` is how long a statement waits for another process's lock
        before ``StorageUnavailable``."""
        with _storage_errors():
            writer = await _connect(path, busy_timeout_ms)
            try:
                await writer.execute_fetchall("PRAGMA journal_mode = WAL")
                await writer.execute_fetchall("PRAGMA synchronous = FULL")
                await _in_transaction(writer, _create_schema)
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

    async def append(self, entry: Entry) -> None:
        await self.append_many([entry])

    async def append_many(self, entries: Sequence[Entry]) -> None:
        ids = [entry.id for entry in entries]
        seen: set[str] = set()
        for entry_id in ids:
            if entry_id in seen:
                raise DuplicateEntry(entry_id)
            seen.add(entry_id)
        if not entries:
            return
        rows = [entry_to_row(entry, live=not entry.deleted) for entry in entries]
        tags = [row for entry in entries if not entry.deleted for row in tag_rows(entry)]

        async def work(db: aiosqlite.Connection) -> None:
            try:
                await _execute_many(db, INSERT_REVISION, rows)
            except sqlite3.IntegrityError:
                existing = await _first_existing(db, ids)
                if existing is None:  # some other constraint
                    raise
                raise DuplicateEntry(existing) from None
            await _execute_many(db, INSERT_TAG, tags)

        await self._write(work)

    async def get(self, tenant: str, entry_id: str) -> Entry | None:
        rows = await self._read(_SELECT_LIVE, (tenant, entry_id))
        return row_to_entry(rows[0]) if rows else None

    async def query(self, tenant: str, spec: QuerySpec) -> EntryPage:
        sql, params = build_query(tenant, spec)
        rows = await self._read(sql, params)
        items = [row_to_entry(row) for row in rows[: spec.limit]]
        return EntryPage(items=items, has_more=len(rows) > spec.limit)

    async def amend(self, revision: Entry) -> None:
        await self._store_next(revision)

    async def delete(self, tombstone: Entry) -> None:
        await self._store_next(tombstone)

    async def history(self, tenant: str, entry_id: str) -> Sequence[Entry]:
        rows = await self._read(_SELECT_HISTORY, (tenant, entry_id))
        return [row_to_entry(row) for row in rows]

    async def _store_next(self, revision: Entry) -> None:
        tenant, entry_id = revision.tenant, revision.id

        async def work(db: aiosqlite.Connection) -> None:
            rows = list(await db.execute_fetchall(_SELECT_LATEST, (tenant, entry_id)))
            if not rows or rows[0][1]:
                raise EntryNotFound(entry_id)
            current = rows[0][0]
            if revision.revision != current + 1:
                raise RevisionConflict(entry_id, revision.revision - 1, current)
            await db.execute_fetchall(
                "UPDATE revisions SET live = 0 WHERE tenant = ? AND id = ? AND revision = ?",
                (tenant, entry_id, current),
            )
            await db.execute_fetchall(
                INSERT_REVISION, entry_to_row(revision, live=not revision.deleted)
            )
            await db.execute_fetchall(
                "DELETE FROM entry_tags WHERE tenant = ? AND id = ?", (tenant, entry_id)
            )
            if not revision.deleted:
                await _execute_many(db, INSERT_TAG, tag_rows(revision))

        await self._write(work)

    async def _read(self, sql: str, params: Sequence[Any]) -> list[sqlite3.Row]:
        with _storage_errors():
            return list(await self._reader.execute_fetchall(sql, params))

    async def _write(self, work: _Work) -> None:
        async def locked() -> None:
            async with self._write_lock:
                await _in_transaction(self._writer, work)

        task = asyncio.ensure_future(locked())
        # when the caller was cancelled, nobody else looks at the task's outcome
        task.add_done_callback(lambda done: done.cancelled() or done.exception())
        with _storage_errors():
            await asyncio.shield(task)


async def _connect(path: str | Path, busy_timeout_ms: int) -> aiosqlite.Connection:
    # a failed aiosqlite.connect leaves its worker thread calling back into the event
    # loop later, so find out first, with the standard library, whether the file opens
    await asyncio.to_thread(_probe, path)
    # isolation_level=None: no implicit transactions; writes BEGIN IMMEDIATE themselves
    # timeout: SQLite's busy timeout, how long to wait for another process's lock
    return await aiosqlite.connect(path, isolation_level=None, timeout=busy_timeout_ms / 1000)


def _probe(path: str | Path) -> None:
    sqlite3.connect(path).close()


async def _create_schema(db: aiosqlite.Connection) -> None:
    for statement in SCHEMA:
        await db.execute_fetchall(statement)


async def _in_transaction(db: aiosqlite.Connection, work: _Work) -> None:
    await db.execute_fetchall("BEGIN IMMEDIATE")
    try:
        await work(db)
    except BaseException:
        await db.execute_fetchall("ROLLBACK")
        raise
    await db.execute_fetchall("COMMIT")


async def _execute_many(db: aiosqlite.Connection, sql: str, rows: Iterable[Any]) -> None:
    cursor = await db.executemany(sql, rows)
    await cursor.close()


async def _first_existing(db: aiosqlite.Connection, ids: Iterable[str]) -> str | None:
    for entry_id in ids:
        if await db.execute_fetchall("SELECT 1 FROM revisions WHERE id = ? LIMIT 1", (entry_id,)):
            return entry_id
    return None


@contextmanager
def _storage_errors() -> Iterator[None]:
    """SQLite's own failures as the port's errors; anything else passes unchanged."""
    try:
        yield
    except sqlite3.Error as exc:
        code = getattr(exc, "sqlite_errorcode", None)
        primary = None if code is None else code & 0xFF
        if primary == _SQLITE_TOOBIG:
            raise EntryTooLarge(f"SQLite refused the entry: {exc}") from exc
        if primary in _UNAVAILABLE:
            raise StorageUnavailable(f"SQLite is unavailable: {exc}") from exc
        raise
