"""SqliteRetentionStore: retention settings, and purges, in the SQLite file.

Tables created at open when absent (``create_schema``): ``retention_settings`` (one
row per tenant with its own setting; ``days`` NULL: keep forever), ``legal_holds``
(``sqlite_holds``), and an index of every revision by ``(tenant, recorded_at, id)``
that the sweeper reads expired entries through. A purge deletes the rows of
``revisions`` and ``entry_tags`` of its entries in one transaction, which first reads
the active legal holds and leaves out every entry one covers: a hold (created in a
write transaction of the same file) is in force before the purge, or comes after it.
``log`` and ``nodes`` stay as they are, so the log and its proofs still verify.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import datetime
from typing import Any, TypeVar

import aiosqlite

from audit_trail.adapters.storage.sqlite_holds import SELECT_ACTIVE, hold_from_row
from audit_trail.adapters.storage.sqlite_schema import COLUMNS, row_to_entry
from audit_trail.core.holds import Hold
from audit_trail.core.model import Entry
from audit_trail.core.timestamps import to_epoch_millis
from audit_trail.core.usecases.holds import first_holding

T = TypeVar("T")
Read = Callable[[str, Sequence[Any]], Awaitable[list[sqlite3.Row]]]
Write = Callable[[Callable[[aiosqlite.Connection], Awaitable[T]]], Awaitable[T]]

SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS retention_settings (
        tenant TEXT PRIMARY KEY,
        days REAL
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS legal_holds (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        filter TEXT NOT NULL,
        reason TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        released_at INTEGER,
        released_by TEXT,
        PRIMARY KEY (tenant, id)
    ) WITHOUT ROWID
    """,
    # current revisions only: a live one, or a tombstone (always an entry's last)
    "CREATE INDEX IF NOT EXISTS revisions_by_recorded ON revisions (tenant, recorded_at, id)"
    " WHERE live = 1 OR deleted = 1",
)

_ENTRY_COLUMNS = ", ".join(COLUMNS)
_CURRENT = "tenant = ? AND (live = 1 OR deleted = 1)"
_EXPIRED = f"SELECT {_ENTRY_COLUMNS} FROM revisions WHERE {_CURRENT} AND recorded_at < ?"  # noqa: S608
_TOMBSTONED_BY = (
    f"SELECT {_ENTRY_COLUMNS} FROM revisions WHERE tenant = ? AND deleted = 1"  # noqa: S608
    " AND recorded_by = ?"
)
_CHUNK = 500  # ids per statement (SQLite's bound parameter limit is higher)


async def create_schema(db: aiosqlite.Connection) -> None:
    """Create the tables and the index when absent (inside the caller's transaction)."""
    for statement in SCHEMA:
        await db.execute_fetchall(statement)


class SqliteRetentionStore:
    def __init__(self, read: Read, write: Write[Any]) -> None:
        self._read = read
        self._write = write

    async def setting(self, tenant: str) -> tuple[float | None] | None:
        rows = await self._read("SELECT days FROM retention_settings WHERE tenant = ?", (tenant,))
        return (rows[0][0],) if rows else None

    async def set_setting(self, tenant: str, days: float | None) -> None:
        async def work(db: aiosqlite.Connection) -> None:
            await db.execute_fetchall(
                "INSERT OR REPLACE INTO retention_settings (tenant, days) VALUES (?, ?)",
                (tenant, days),
            )

        await self._write(work)

    async def clear_setting(self, tenant: str) -> bool:
        async def work(db: aiosqlite.Connection) -> bool:
            cursor = await db.execute("DELETE FROM retention_settings WHERE tenant = ?", (tenant,))
            return cursor.rowcount > 0

        result: bool = await self._write(work)
        return result

    async def tenants_with_setting(self) -> Sequence[tuple[str, float | None]]:
        rows = await self._read("SELECT tenant, days FROM retention_settings ORDER BY tenant", ())
        return [(row[0], row[1]) for row in rows]

    async def log_tenants(self) -> Sequence[str]:
        rows = await self._read("SELECT DISTINCT tenant FROM log ORDER BY tenant", ())
        return [row[0] for row in rows]

    async def expired(
        self,
        tenant: str,
        before: datetime,
        limit: int,
        after: tuple[datetime, str] | None = None,
    ) -> Sequence[Entry]:
        sql, params = _EXPIRED, [tenant, to_epoch_millis(before)]
        if after is not None:
            sql += " AND (recorded_at, id) > (?, ?)"
            params += [to_epoch_millis(after[0]), after[1]]
        rows = await self._read(sql + " ORDER BY recorded_at, id LIMIT ?", (*params, limit))
        return [row_to_entry(row) for row in rows]

    async def tombstoned_by(
        self,
        tenant: str,
        recorded_by: str,
        limit: int,
        after: tuple[datetime, str] | None = None,
    ) -> Sequence[Entry]:
        sql, params = _TOMBSTONED_BY, list[object]([tenant, recorded_by])
        if after is not None:
            sql += " AND (recorded_at, id) > (?, ?)"
            params += [to_epoch_millis(after[0]), after[1]]
        rows = await self._read(sql + " ORDER BY recorded_at, id LIMIT ?", (*params, limit))
        return [row_to_entry(row) for row in rows]

    async def purge(self, tenant: str, entry_ids: Collection[str]) -> int:
        ids = sorted(set(entry_ids))

        async def work(db: aiosqlite.Connection) -> int:
            purged = 0
            holds = [
                hold_from_row(row) for row in await db.execute_fetchall(SELECT_ACTIVE, (tenant,))
            ]
            for at in range(0, len(ids), _CHUNK):
                chunk = await _unheld(db, tenant, ids[at : at + _CHUNK], holds)
                if not chunk:
                    continue
                marks = ", ".join("?" * len(chunk))
                await db.execute(
                    f"DELETE FROM entry_tags WHERE tenant = ? AND id IN ({marks})",  # noqa: S608
                    (tenant, *chunk),
                )
                found = await db.execute_fetchall(
                    f"SELECT COUNT(DISTINCT id) FROM revisions WHERE tenant = ? AND id IN ({marks})",  # noqa: S608, E501
                    (tenant, *chunk),
                )
                purged += next(iter(found))[0]
                await db.execute(
                    f"DELETE FROM revisions WHERE tenant = ? AND id IN ({marks})",  # noqa: S608
                    (tenant, *chunk),
                )
            return purged

        result: int = await self._write(work)
        return result


async def _unheld(
    db: aiosqlite.Connection, tenant: str, ids: Sequence[str], holds: Sequence[Hold]
) -> list[str]:
    """Those of ``ids`` whose current revision no hold covers."""
    if not holds:
        return list(ids)
    marks = ", ".join("?" * len(ids))
    rows = await db.execute_fetchall(
        f"SELECT {_ENTRY_COLUMNS} FROM revisions WHERE {_CURRENT} AND id IN ({marks})",  # noqa: S608
        (tenant, *ids),
    )
    held = {entry.id for entry in map(row_to_entry, rows) if first_holding(holds, entry)}
    return [entry_id for entry_id in ids if entry_id not in held]
