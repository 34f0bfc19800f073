"""SqliteLegalHolds: the legal holds, in the SQLite file of the entries.

Table ``legal_holds`` (created at open when absent, ``create_schema`` of
``sqlite_retention``): one row per hold, its filter as the JSON object the API shows.
A release is one ``UPDATE ... WHERE released_at IS NULL``: of two, one wins.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import aiosqlite

from audit_trail.core.holds import Hold, filters_to_json, parse_filter
from audit_trail.core.timestamps import from_epoch_millis, to_epoch_millis

T = TypeVar("T")
Read = Callable[[str, Sequence[Any]], Awaitable[list[sqlite3.Row]]]
Write = Callable[[Callable[[aiosqlite.Connection], Awaitable[T]]], Awaitable[T]]

_COLUMNS = "tenant, id, filter, reason, created_at, created_by, released_at, released_by"
_SELECT = f"SELECT {_COLUMNS} FROM legal_holds WHERE tenant = ?"  # noqa: S608
_INSERT = f"INSERT INTO legal_holds ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)"  # noqa: S608
SELECT_ACTIVE = _SELECT + " AND released_at IS NULL ORDER BY created_at, id"
_RELEASE = (
    "UPDATE legal_holds SET released_at = ?, released_by = ?"
    " WHERE tenant = ? AND id = ? AND released_at IS NULL"
)


class SqliteLegalHolds:
    def __init__(self, read: Read, write: Write[Any]) -> None:
        self._read = read
        self._write = write

    async def create(self, hold: Hold) -> None:
        row = (
            hold.tenant,
            hold.id,
            json.dumps(filters_to_json(hold.filters), sort_keys=True),
            hold.reason,
            to_epoch_millis(hold.created_at),
            hold.created_by,
        )

        async def work(db: aiosqlite.Connection) -> None:
            await db.execute_fetchall(_INSERT, row)

        await self._write(work)

    async def get(self, tenant: str, hold_id: str) -> Hold | None:
        rows = await self._read(_SELECT + " AND id = ?", (tenant, hold_id))
        return hold_from_row(rows[0]) if rows else None

    async def list(self, tenant: str, *, include_released: bool = False) -> Sequence[Hold]:
        where = "" if include_released else " AND released_at IS NULL"
        rows = await self._read(_SELECT + where + " ORDER BY created_at, id", (tenant,))
        return [hold_from_row(row) for row in rows]

    async def release(self, tenant: str, hold_id: str, at: datetime, by: str) -> Hold | None:
        async def work(db: aiosqlite.Connection) -> None:
            await db.execute_fetchall(_RELEASE, (to_epoch_millis(at), by, tenant, hold_id))

        await self._write(work)
        return await self.get(tenant, hold_id)


def hold_from_row(row: sqlite3.Row) -> Hold:
    released_at = row[6]
    return Hold(
        id=row[1],
        tenant=row[0],
        filters=parse_filter(json.loads(row[2])),
        reason=row[3],
        created_at=from_epoch_millis(row[4]),
        created_by=row[5],
        released_at=None if released_at is None else from_epoch_millis(released_at),
        released_by=row[7],
    )
