"""SqliteWebhookStore: webhook subscriptions, in the SQLite file of the entries.

Tables created at open when absent (``create_schema``): ``webhooks`` (one row per
subscription: its secret too, which signing needs; its filter as the JSON object the
API shows; its cursor, failure state and lease) and ``webhook_attempts`` (the delivery
log, the newest ``DELIVERY_LOG_SIZE`` per subscription). A lease and a save are one
``UPDATE ... WHERE`` each: of two processes, one wins.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import aiosqlite

from audit_trail.core.holds import filters_to_json, parse_filter
from audit_trail.core.ports.webhooks import DELIVERY_LOG_SIZE, Progress
from audit_trail.core.query import EntryFilters
from audit_trail.core.timestamps import from_epoch_millis, to_epoch_millis
from audit_trail.core.webhooks.subscription import ACTIVE, DeliveryAttempt, Subscription

T = TypeVar("T")
Read = Callable[[str, Sequence[Any]], Awaitable[list[sqlite3.Row]]]
Write = Callable[[Callable[[aiosqlite.Connection], Awaitable[T]]], Awaitable[T]]

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS webhooks ("
    " tenant TEXT NOT NULL, id TEXT NOT NULL, url TEXT NOT NULL, filter TEXT NOT NULL,"
    " description TEXT NOT NULL, secret TEXT NOT NULL, created_at INTEGER NOT NULL,"
    " created_by TEXT NOT NULL, cursor INTEGER NOT NULL, state TEXT NOT NULL,"
    " failures INTEGER NOT NULL, last_error TEXT, next_attempt_at INTEGER,"
    " lease_owner TEXT, lease_until INTEGER, PRIMARY KEY (tenant, id))",
    "CREATE TABLE IF NOT EXISTS webhook_attempts ("
    " tenant TEXT NOT NULL, webhook TEXT NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL,"
    " idx INTEGER NOT NULL, webhook_id TEXT NOT NULL, status INTEGER, error TEXT,"
    " duration_ms REAL NOT NULL, PRIMARY KEY (tenant, webhook, seq))",
)
_COLUMNS = (
    "tenant, id, url, filter, description, secret, created_at, created_by, cursor, state,"
    " failures, last_error, next_attempt_at"
)
_SELECT = f"SELECT {_COLUMNS} FROM webhooks"  # noqa: S608
_INSERT = (
    f"INSERT INTO webhooks ({_COLUMNS}, lease_owner, lease_until)"  # noqa: S608
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)"
)
_LEASE = (
    "UPDATE webhooks SET lease_owner = ?, lease_until = ? WHERE tenant = ? AND id = ?"
    " AND (lease_owner IS NULL OR lease_owner = ? OR lease_until < ?)"
)
_SAVE = (
    "UPDATE webhooks SET cursor = ?, state = ?, failures = ?, last_error = ?,"
    " next_attempt_at = ? WHERE tenant = ? AND id = ? AND lease_owner = ? AND cursor = ?"
)
_APPEND = (
    "INSERT INTO webhook_attempts VALUES (?, ?,"
    " (SELECT COALESCE(MAX(seq), 0) + 1 FROM webhook_attempts WHERE tenant = ? AND webhook = ?),"
    " ?, ?, ?, ?, ?, ?)"
)
_TRIM = (
    "DELETE FROM webhook_attempts WHERE tenant = ? AND webhook = ? AND seq <="
    " (SELECT MAX(seq) FROM webhook_attempts WHERE tenant = ? AND webhook = ?) - ?"
)


async def create_schema(db: aiosqlite.Connection) -> None:
    for statement in SCHEMA:
        await db.execute_fetchall(statement)


class SqliteWebhookStore:
    def __init__(self, read: Read, write: Write[Any]) -> None:
        self._read = read
        self._write = write

    async def create(self, subscription: Subscription) -> None:
        s = subscription
        row = (
            s.tenant,
            s.id,
            s.url,
            json.dumps(filters_to_json(s.filters), sort_keys=True),
            s.description,
            s.secret,
            to_epoch_millis(s.created_at),
            s.created_by,
            s.cursor,
            s.state,
            s.failures,
            s.last_error,
            _millis(s.next_attempt_at),
        )
        await self._changed(_INSERT, row)

    async def get(self, tenant: str, subscription_id: str) -> Subscription | None:
        rows = await self._read(_SELECT + " WHERE tenant = ? AND id = ?", (tenant, subscription_id))
        return _subscription(rows[0]) if rows else None

    async def list(self, tenant: str) -> Sequence[Subscription]:
        rows = await self._read(_SELECT + " WHERE tenant = ? ORDER BY created_at, id", (tenant,))
        return [_subscription(row) for row in rows]

    async def delete(self, tenant: str, subscription_id: str) -> bool:
        async def work(db: aiosqlite.Connection) -> bool:
            await db.execute(
                "DELETE FROM webhook_attempts WHERE tenant = ? AND webhook = ?",
                (tenant, subscription_id),
            )
            cursor = await db.execute(
                "DELETE FROM webhooks WHERE tenant = ? AND id = ?", (tenant, subscription_id)
            )
            return cursor.rowcount > 0

        return bool(await self._write(work))

    async def resume(self, tenant: str, subscription_id: str) -> Subscription | None:
        await self._changed(
            "UPDATE webhooks SET state = ?, failures = 0, next_attempt_at = NULL"
            " WHERE tenant = ? AND id = ?",
            (ACTIVE, tenant, subscription_id),
        )
        return await self.get(tenant, subscription_id)

    async def claimable(self, now: datetime) -> Sequence[Subscription]:
        rows = await self._read(
            _SELECT + " WHERE state = ? AND (lease_owner IS NULL OR lease_until < ?)",
            (ACTIVE, to_epoch_millis(now)),
        )
        return [_subscription(row) for row in rows]

    async def lease(
        self, tenant: str, subscription_id: str, owner: str, until: datetime, now: datetime
    ) -> bool:
        params = (owner, to_epoch_millis(until), tenant, subscription_id, owner)
        return await self._changed(_LEASE, (*params, to_epoch_millis(now)))

    async def release(self, tenant: str, subscription_id: str, owner: str) -> None:
        await self._changed(
            "UPDATE webhooks SET lease_owner = NULL, lease_until = NULL"
            " WHERE tenant = ? AND id = ? AND lease_owner = ?",
            (tenant, subscription_id, owner),
        )

    async def save(
        self,
        tenant: str,
        subscription_id: str,
        owner: str,
        *,
        expected_cursor: int,
        progress: Progress,
        attempts: Sequence[DeliveryAttempt],
    ) -> bool:
        p = progress
        values = (p.cursor, p.state, p.failures, p.last_error, _millis(p.next_attempt_at))
        key = (tenant, subscription_id)

        async def work(db: aiosqlite.Connection) -> bool:
            cursor = await db.execute(_SAVE, (*values, *key, owner, expected_cursor))
            if cursor.rowcount == 0:
                return False
            for a in attempts:
                row = (to_epoch_millis(a.at), a.index, a.webhook_id, a.status, a.error)
                await db.execute(_APPEND, (*key, *key, *row, a.duration_ms))
            if attempts:
                await db.execute(_TRIM, (*key, *key, DELIVERY_LOG_SIZE))
            return True

        return bool(await self._write(work))

    async def attempts(
        self, tenant: str, subscription_id: str, limit: int
    ) -> Sequence[DeliveryAttempt]:
        rows = await self._read(
            "SELECT at, idx, webhook_id, status, error, duration_ms FROM webhook_attempts"
            " WHERE tenant = ? AND webhook = ? ORDER BY seq DESC LIMIT ?",
            (tenant, subscription_id, limit),
        )
        return [
            DeliveryAttempt(from_epoch_millis(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows
        ]

    async def _changed(self, sql: str, params: Sequence[Any]) -> bool:
        async def work(db: aiosqlite.Connection) -> bool:
            cursor = await db.execute(sql, params)
            return cursor.rowcount > 0

        return bool(await self._write(work))


def _millis(moment: datetime | None) -> int | None:
    return None if moment is None else to_epoch_millis(moment)


def _filters(raw: str) -> EntryFilters:
    shown = json.loads(raw)
    return parse_filter(shown) if shown else EntryFilters()


def _subscription(row: sqlite3.Row) -> Subscription:
    return Subscription(
        tenant=row[0],
        id=row[1],
        url=row[2],
        filters=_filters(row[3]),
        description=row[4],
        secret=row[5],
        created_at=from_epoch_millis(row[6]),
        created_by=row[7],
        cursor=row[8],
        state=row[9],
        failures=row[10],
        last_error=row[11],
        next_attempt_at=None if row[12] is None else from_epoch_millis(row[12]),
    )
