"""Bringing a SQLite file to the current schema, inside the caller's transaction.

``PRAGMA user_version`` says what a file holds. 0: a new file, the schema is
created. 1: entries from before the tenant logs, whose revisions carry no evidence
and have no leaf; they are read out, the old tables are replaced by the current
ones, and every revision is sealed into its tenant's log: each entry's revisions in
order, the entries in the order they were recorded, with an empty ``recorded_by``
(nobody's subject was recorded then). From there on they verify like any other
revision, which proves they have not changed since the migration, not before it.
2: no query index yet; its tables are created empty. 3: postings one per row; the
query index is derived from the log, so it is emptied (each tenant keeps its index
key, so that the rebuilt map is the one its index leaves commit) and built again,
in runs, on first use. 4: no ``erased`` column; it is added, NULL (nothing erased).
A file of a later version than this code knows is refused.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import aiosqlite

from audit_trail.adapters.storage.sqlite_log import append_groups
from audit_trail.adapters.storage.sqlite_schema import (
    COLUMNS,
    SCHEMA,
    SCHEMA_VERSION,
    row_to_entry,
)
from audit_trail.core.errors import DomainError, StorageUnavailable
from audit_trail.core.integrity.leaf import sealed_record
from audit_trail.core.model import Entry
from audit_trail.core.ports.log import LogRecord

_EVIDENCE_COLUMNS = ("recorded_by", "erased", "salts", "prev", "leaf_hash")
_V1_COLUMNS = tuple(column for column in COLUMNS if column not in _EVIDENCE_COLUMNS)
_UNSEALED = ("", None, "{}", None, b"")  # the evidence columns of a revision not yet sealed
_EMPTY_VERSION_3_INDEX = (
    "DROP TABLE postings",
    "DELETE FROM posting_heads",
    "DELETE FROM map_nodes",
    "UPDATE index_heads SET covers = NULL, map_root = NULL, leaf_index = NULL",
)


async def migrate(db: aiosqlite.Connection) -> None:
    """Create or upgrade the schema of the file ``db`` is open on."""
    [(version,)] = await db.execute_fetchall("PRAGMA user_version")
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise StorageUnavailable(
            f"the SQLite file has schema version {version}; this version of audit-trail"
            f" reads version {SCHEMA_VERSION} and older"
        )
    legacy = await _read_version_1(db) if version == 1 else []
    if version == 1:
        await db.execute_fetchall("DROP TABLE entry_tags")
        await db.execute_fetchall("DROP TABLE revisions")
    if version == 3:
        for statement in _EMPTY_VERSION_3_INDEX:
            await db.execute_fetchall(statement)
    if version in (2, 3, 4):  # erasure keeps digests in a column of its own
        columns = await db.execute_fetchall("PRAGMA table_info(revisions)")
        if "erased" not in {column[1] for column in columns}:
            await db.execute_fetchall("ALTER TABLE revisions ADD COLUMN erased TEXT")
    for statement in SCHEMA:
        await db.execute_fetchall(statement)
    by_tenant: dict[str, list[Entry]] = defaultdict(list)
    for entry in _in_recorded_order(legacy):
        by_tenant[entry.tenant].append(entry)
    for tenant, entries in by_tenant.items():
        [result], _ = await append_groups(db, tenant, [_sealed(entries)], None)
        if isinstance(result, DomainError):
            raise result


async def _read_version_1(db: aiosqlite.Connection) -> list[Entry]:
    # S608: constant column names only
    sql = f"SELECT {', '.join(_V1_COLUMNS)} FROM revisions ORDER BY tenant, id, revision"  # noqa: S608
    entries = []
    for row in await db.execute_fetchall(sql):
        values = dict(zip(_V1_COLUMNS, row, strict=True))
        values.update(zip(_EVIDENCE_COLUMNS, _UNSEALED, strict=True))
        entries.append(row_to_entry([values[column] for column in COLUMNS]))
    return entries


def _in_recorded_order(entries: list[Entry]) -> list[Entry]:
    """Oldest first; a revision never before the one it follows, even when the clock
    that stamped them went back (entries come grouped by id, revisions in order)."""
    keyed: list[tuple[datetime, str, int, Entry]] = []
    latest: dict[str, datetime] = {}
    for entry in entries:
        moment = max(entry.recorded_at, latest.get(entry.id, entry.recorded_at))
        latest[entry.id] = moment
        keyed.append((moment, entry.id, entry.revision, entry))
    keyed.sort(key=lambda item: item[:3])
    return [item[3] for item in keyed]


def _sealed(entries: list[Entry]) -> list[LogRecord]:
    records = []
    previous: dict[str, bytes] = {}
    for entry in entries:
        record = sealed_record(entry, previous.get(entry.id))
        previous[entry.id] = record.leaf_hash
        records.append(record)
    return records
