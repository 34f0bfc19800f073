"""SqliteSinkCursors: the sinks' cursors and leases, in the SQLite file of the entries.

One table, created at open when absent (``create_schema``): ``sink_cursors``, a row
per (sink, tenant) made by its first lease. A lease and an advance are one statement
each: of two processes, one wins.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import aiosqlite

from audit_trail.core.ports.sinks import NO_CURSOR
from audit_trail.core.timestamps import to_epoch_millis

T = TypeVar("T")
Read = Callable[[str, Sequence[Any]], Awaitable[list[sqlite3.Row]]]
Write = Callable[[Callable[[aiosqlite.Connection], Awaitable[T]]], Awaitable[T]]

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS sink_cursors ("
    " sink TEXT NOT NULL, tenant TEXT NOT NULL, cursor INTEGER NOT NULL,"
    " lease_owner TEXT, lease_until INTEGER, PRIMARY KEY (sink, tenant))"
)
_LEASE = (
    "INSERT INTO sink_cursors VALUES (?, ?, ?, ?, ?) ON CONFLICT (sink, tenant) DO UPDATE"
    " SET lease_owner = excluded.lease_owner, lease_until = excluded.lease_until"
    " WHERE lease_owner IS NULL OR lease_owner = excluded.lease_owner OR lease_until < ?"
)
_ADVANCE = (
    "UPDATE sink_cursors SET cursor = ?"
    " WHERE sink = ? AND tenant = ? AND lease_owner = ? AND cursor = ?"
)
_RELEASE = (
    "UPDATE sink_cursors SET lease_owner = NULL, lease_until = NULL"
    " WHERE sink = ? AND tenant = ? AND lease_owner = ?"
)


async def create_schema(db: aiosqlite.Connection) -> None:
    await db.execute_fetchall(SCHEMA)


class SqliteSinkCursors:
    def __init__(self, read: Read, write: Write[Any]) -> None:
        self._read = read
        self._write = write

    async def cursor(self, sink: str, tenant: str) -> int:
        rows = await self._read(
            "SELECT cursor FROM sink_cursors WHERE sink = ? AND tenant = ?", (sink, tenant)
        )
        return int(rows[0][0]) if rows else NO_CURSOR

    async def lease(
        self, sink: str, tenant: str, owner: str, until: datetime, now: datetime
    ) -> bool:
        params = (sink, tenant, NO_CURSOR, owner, to_epoch_millis(until), to_epoch_millis(now))
        return await self._changed(_LEASE, params)

    async def release(self, sink: str, tenant: str, owner: str) -> None:
        await self._changed(_RELEASE, (sink, tenant, owner))

    async def advance(self, sink: str, tenant: str, owner: str, expected: int, cursor: int) -> bool:
        return await self._changed(_ADVANCE, (cursor, sink, tenant, owner, expected))

    async def _changed(self, statement: str, params: Sequence[Any]) -> bool:
        async def work(db: aiosqlite.Connection) -> bool:
            cursor = await db.execute(statement, params)
            return bool(cursor.rowcount)

        changed: bool = await self._write(work)
        return changed
