"""SqliteIdempotencyStore: the Idempotency-Key records in the SQLite file of the entries.

One table, ``idempotency``, created at every open when absent (``CREATE TABLE IF NOT
EXISTS``): its records live a day, so it is kept out of the schema version of the
entries and the logs, and a file without it is the same file with no records. Every
write is one ``BEGIN IMMEDIATE`` transaction of the repository's writer, so a claim
(read, then insert or replace) is atomic across processes too; each claim also deletes
up to ``PURGE_PER_CLAIM`` expired records (an index on ``expires_at`` finds them).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import aiosqlite

from audit_trail.core.ports.idempotency import IdempotencyRecord, StoredResponse

PURGE_PER_CLAIM = 100

SCHEMA = (
    # a rowid table: a kept response may be long
    """
    CREATE TABLE IF NOT EXISTS idempotency (
        tenant TEXT NOT NULL,
        key TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        entry_ids TEXT NOT NULL,
        owner TEXT NOT NULL,
        lease_until INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        status INTEGER,
        headers TEXT,
        body BLOB,
        UNIQUE (tenant, key)
    )
    """,
    "CREATE INDEX IF NOT EXISTS idempotency_by_expiry ON idempotency (expires_at)",
)

_COLUMNS = (
    "tenant, key, fingerprint, entry_ids, owner, lease_until, expires_at, status, headers, body"
)
# S608: constant column names only; values are bound
_SELECT = f"SELECT {_COLUMNS} FROM idempotency WHERE tenant = ? AND key = ? AND expires_at > ?"  # noqa: S608
_UPSERT = f"INSERT OR REPLACE INTO idempotency ({_COLUMNS}) VALUES ({', '.join('?' * 10)})"  # noqa: S608
_PURGE = (
    "DELETE FROM idempotency WHERE rowid IN"
    " (SELECT rowid FROM idempotency WHERE expires_at <= ? LIMIT ?)"
)
_TAKE_OVER = (
    "UPDATE idempotency SET owner = ?, lease_until = ?"
    " WHERE tenant = ? AND key = ? AND owner = ? AND status IS NULL"
)
_RELEASE = (
    "UPDATE idempotency SET lease_until = ?"
    " WHERE tenant = ? AND key = ? AND owner = ? AND status IS NULL"
)
_COMPLETE = (
    "UPDATE idempotency SET status = ?, headers = ?, body = ?"
    " WHERE tenant = ? AND key = ? AND entry_ids = ? AND status IS NULL"
)
_FORGET = (
    "UPDATE idempotency SET status = NULL, headers = NULL, body = NULL"
    " WHERE tenant = ? AND status IS NOT NULL"
    " AND EXISTS (SELECT 1 FROM json_each(idempotency.entry_ids) WHERE value = ?)"
)

T = TypeVar("T")
Read = Callable[[str, Sequence[Any]], Awaitable[list[sqlite3.Row]]]
Write = Callable[[Callable[[aiosqlite.Connection], Awaitable[T]]], Awaitable[T]]


async def create_schema(db: aiosqlite.Connection) -> None:
    """Create the table and its index when absent (inside the caller's transaction)."""
    for statement in SCHEMA:
        await db.execute_fetchall(statement)


class SqliteIdempotencyStore:
    def __init__(self, read: Read, write: Write[Any]) -> None:
        self._read = read
        self._write = write

    async def claim(self, record: IdempotencyRecord, now: int) -> IdempotencyRecord | None:
        async def work(db: aiosqlite.Connection) -> IdempotencyRecord | None:
            await db.execute_fetchall(_PURGE, (now, PURGE_PER_CLAIM))
            rows = list(await db.execute_fetchall(_SELECT, (record.tenant, record.key, now)))
            if rows:
                return _record(rows[0])
            await db.execute_fetchall(_UPSERT, _row(record))
            return None

        held: IdempotencyRecord | None = await self._write(work)
        return held

    async def take_over(self, record: IdempotencyRecord, owner: str, lease_until: int) -> bool:
        params = (owner, lease_until, record.tenant, record.key, record.owner)
        changed: int = await self._write(_changes(_TAKE_OVER, params))
        return changed == 1

    async def release(self, record: IdempotencyRecord, now: int) -> None:
        await self._write(_changes(_RELEASE, (now, record.tenant, record.key, record.owner)))

    async def complete(self, record: IdempotencyRecord, response: StoredResponse) -> None:
        params = (
            response.status,
            json.dumps([list(header) for header in response.headers]),
            response.body,
            record.tenant,
            record.key,
            json.dumps(list(record.entry_ids)),
        )
        await self._write(_changes(_COMPLETE, params))

    async def forget_responses(self, tenant: str, entry_id: str) -> None:
        await self._write(_changes(_FORGET, (tenant, entry_id)))

    async def find(self, tenant: str, key: str, now: int) -> IdempotencyRecord | None:
        rows = await self._read(_SELECT, (tenant, key, now))
        return _record(rows[0]) if rows else None


def _changes(sql: str, params: Sequence[Any]) -> Callable[[aiosqlite.Connection], Awaitable[int]]:
    async def work(db: aiosqlite.Connection) -> int:
        cursor = await db.execute(sql, params)
        try:
            return cursor.rowcount
        finally:
            await cursor.close()

    return work


def _row(record: IdempotencyRecord) -> tuple[Any, ...]:
    response = record.response
    return (
        record.tenant,
        record.key,
        record.fingerprint,
        json.dumps(list(record.entry_ids)),
        record.owner,
        record.lease_until,
        record.expires_at,
        None if response is None else response.status,
        None if response is None else json.dumps([list(h) for h in response.headers]),
        None if response is None else response.body,
    )


def _record(row: Sequence[Any]) -> IdempotencyRecord:
    tenant, key, fingerprint, ids, owner, lease_until, expires_at, status, headers, body = row
    response = None
    if status is not None:
        pairs = tuple((str(name), str(value)) for name, value in json.loads(headers))
        response = StoredResponse(int(status), pairs, bytes(body))
    return IdempotencyRecord(
        tenant=tenant,
        key=key,
        fingerprint=fingerprint,
        entry_ids=tuple(json.loads(ids)),
        owner=owner,
        lease_until=int(lease_until),
        expires_at=int(expires_at),
        response=response,
    )
