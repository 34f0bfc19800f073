"""The tenant log half of SqliteEntryRepository: a commit's groups, the right edge,
and node hashes, as statements on a connection the caller holds a transaction on.

``append_groups`` runs inside the caller's ``BEGIN IMMEDIATE``: it reads the
tenant's size there (another process may have appended since this one last looked),
takes its right edge from the nodes table unless the caller's cached edge has that
very size (a log only grows, so an edge of the same size is the same edge), stores
the groups, and writes the subtree hashes that the accepted leaves complete.

A group is stored whole or not at all. Groups of new entries and bare leaves are
decided before anything is written (one lookup of all their ids) and go in together;
a group that amends is written under a SAVEPOINT and rolled back alone when refused.
When SQLite refuses a value of a batch, the commit starts over with a SAVEPOINT per
group, to refuse the group it belongs to (``EntryTooLarge``) and no other.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

import aiosqlite

from audit_trail.adapters.storage.changes import check_groups
from audit_trail.adapters.storage.sqlite_schema import (
    INSERT_REVISION,
    INSERT_TAG,
    entry_to_row,
    tag_rows,
)
from audit_trail.core.errors import (
    DomainError,
    DuplicateEntry,
    EntryNotFound,
    EntryTooLarge,
    RevisionConflict,
)
from audit_trail.core.integrity.merkle import CompactRange
from audit_trail.core.model import Entry
from audit_trail.core.ports.log import LogRecord, NodeId

SQLITE_TOOBIG = 18

# One statement whatever the number of nodes: the wanted ids come as one JSON array,
# and CROSS JOIN keeps them the outer loop, so each is one primary-key probe.
SELECT_NODES = """
WITH wanted(level, idx) AS (
    SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?1)
)
SELECT n.level, n.idx, n.hash FROM wanted AS w CROSS JOIN nodes AS n
    ON n.tenant = ?2 AND n.level = w.level AND n.idx = w.idx
UNION ALL
SELECT 0, l.idx, l.leaf_hash FROM wanted AS w CROSS JOIN log AS l
    ON l.tenant = ?2 AND l.idx = w.idx
    WHERE w.level = 0
"""
SELECT_SIZE = "SELECT idx + 1 FROM log WHERE tenant = ? ORDER BY idx DESC LIMIT 1"
SELECT_LEAVES = "SELECT idx, leaf FROM log WHERE tenant = ? AND idx >= ? AND idx < ? ORDER BY idx"
SELECT_LEAF_INDEX = "SELECT idx FROM log WHERE tenant = ? AND entry_id = ? AND revision = ?"
# As SELECT_NODES: the wanted revisions as one JSON array, each a probe of log_by_revision.
SELECT_LEAF_INDICES = """
WITH wanted(entry_id, revision) AS (
    SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?1)
)
SELECT l.entry_id, l.revision, l.idx FROM wanted AS w CROSS JOIN log AS l
    ON l.tenant = ?2 AND l.entry_id = w.entry_id AND l.revision = w.revision
"""
_INSERT_LEAF = (
    "INSERT INTO log (tenant, idx, leaf_hash, entry_id, revision, leaf) VALUES (?, ?, ?, ?, ?, ?)"
)
_INSERT_NODE = "INSERT INTO nodes (tenant, level, idx, hash) VALUES (?, ?, ?, ?)"
_SELECT_EXISTING = (
    "SELECT id FROM revisions WHERE revision = 1 AND id IN (SELECT value FROM json_each(?))"
)
_SELECT_LATEST = (
    "SELECT revision, deleted FROM revisions WHERE tenant = ? AND id = ?"
    " ORDER BY revision DESC LIMIT 1"
)


def nodes_parameter(nodes: Iterable[NodeId]) -> str:
    """The ``?1`` of ``SELECT_NODES``."""
    return json.dumps([[level, index] for level, index in nodes])


def edge_nodes(size: int) -> list[NodeId]:
    """The roots of the perfect subtrees that make up a tree of ``size`` leaves, left
    to right: the nodes of its compact range."""
    nodes: list[NodeId] = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            nodes.append((level, start >> level))
            start += 1 << level
    return nodes


async def log_size(db: aiosqlite.Connection, tenant: str) -> int:
    rows = list(await db.execute_fetchall(SELECT_SIZE, (tenant,)))
    return int(rows[0][0]) if rows else 0


async def node_hashes(
    db: aiosqlite.Connection, tenant: str, nodes: Iterable[NodeId]
) -> dict[NodeId, bytes]:
    rows = await db.execute_fetchall(SELECT_NODES, (nodes_parameter(nodes), tenant))
    return found_nodes(rows)


async def append_groups(
    db: aiosqlite.Connection,
    tenant: str,
    groups: Sequence[Sequence[LogRecord]],
    cached: CompactRange | None,
) -> tuple[list[int | DomainError], CompactRange]:
    """Store every group that can be stored at the end of ``tenant``'s log, and its
    nodes. Returns the results of ``TenantLog.commit`` and the new right edge (for
    the caller to cache once the transaction has committed)."""
    check_groups(tenant, groups)
    size = await log_size(db, tenant)
    edge = await _edge(db, tenant, size, cached)
    await db.execute_fetchall("SAVEPOINT log_commit")
    try:
        results = await _store_groups(db, tenant, groups, size, batched=True)
    except _BatchTooLarge:  # find out which group it was, one group at a time
        await db.execute_fetchall("ROLLBACK TO log_commit")
        results = await _store_groups(db, tenant, groups, size, batched=False)
    await db.execute_fetchall("RELEASE log_commit")
    accepted = [
        record.leaf_hash
        for group, result in zip(groups, results, strict=True)
        if isinstance(result, int)
        for record in group
    ]
    completed = edge.append(accepted)
    await _execute_many(
        db, _INSERT_NODE, [(tenant, level, index, digest) for (level, index), digest in completed]
    )
    return results, edge


class _BatchTooLarge(Exception):
    """SQLite refused a value of a batch of groups: which group's, it did not say."""


async def _store_groups(
    db: aiosqlite.Connection,
    tenant: str,
    groups: Sequence[Sequence[LogRecord]],
    size: int,
    *,
    batched: bool,
) -> list[int | DomainError]:
    """Store the groups from index ``size`` on. A group of new entries and bare leaves
    is decided before anything of it is written (its ids against one lookup of them
    all), so such groups go in together, without a savepoint each (``batched``); any
    other group, or every group when not ``batched``, is stored under a savepoint."""
    results: list[int | DomainError] = []
    claimed = await _existing(db, [i for g in groups for i in _new_ids(g)]) if batched else set()
    batch: list[tuple[int, Sequence[LogRecord]]] = []
    for group in groups:
        refusal: DomainError | None
        if batched and all(r.revision is None or r.revision.revision == 1 for r in group):
            refusal = _repeated(_new_ids(group), claimed)
            if refusal is None:
                batch.append((size, group))
        else:
            await _flush(db, tenant, batch)
            batch = []
            refusal = await _in_savepoint(db, tenant, group, size)
        if refusal is not None:
            results.append(refusal)
            continue
        claimed.update(_new_ids(group))
        results.append(size)
        size += len(group)
    await _flush(db, tenant, batch)
    return results


def _new_ids(group: Sequence[LogRecord]) -> list[str]:
    return [r.revision.id for r in group if r.revision is not None and r.revision.revision == 1]


def _repeated(ids: Sequence[str], claimed: set[str]) -> DuplicateEntry | None:
    """The first of ``ids`` that is repeated or ``claimed`` already, as the error."""
    seen: set[str] = set()
    for entry_id in ids:
        if entry_id in seen or entry_id in claimed:
            return DuplicateEntry(entry_id)
        seen.add(entry_id)
    return None


async def _existing(db: aiosqlite.Connection, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` name an entry already, in any tenant."""
    if not ids:
        return set()
    return {row[0] for row in await db.execute_fetchall(_SELECT_EXISTING, (json.dumps(ids),))}


async def _flush(
    db: aiosqlite.Connection, tenant: str, batch: Sequence[tuple[int, Sequence[LogRecord]]]
) -> None:
    if not batch:
        return
    entries = [r.revision for _, group in batch for r in group if r.revision is not None]
    leaves = [row for first, group in batch for row in _leaf_rows(tenant, group, first)]
    try:
        await _insert_new(db, entries)
        await _execute_many(db, _INSERT_LEAF, leaves)
    except sqlite3.Error as exc:
        if _too_big(exc):
            raise _BatchTooLarge from exc
        raise


def _too_big(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == SQLITE_TOOBIG


async def _edge(
    db: aiosqlite.Connection, tenant: str, size: int, cached: CompactRange | None
) -> CompactRange:
    """A copy of the right edge of the tenant's log of ``size`` leaves."""
    if cached is not None and cached.size == size:
        return CompactRange(cached.size, list(cached.hashes))
    wanted = edge_nodes(size)
    found = await node_hashes(db, tenant, wanted)
    missing = [node for node in wanted if node not in found]
    if missing:
        raise RuntimeError(f"the log of tenant {tenant!r} lacks the nodes {missing}")
    return CompactRange(size, [found[node] for node in wanted])


async def _in_savepoint(
    db: aiosqlite.Connection, tenant: str, group: Sequence[LogRecord], first: int
) -> DomainError | None:
    """Store one group at ``first``, or nothing of it and the reason why."""
    await db.execute_fetchall("SAVEPOINT log_group")
    try:
        refusal = await _store_group(db, tenant, group, first)
    except sqlite3.Error as exc:
        if not _too_big(exc):
            await _abandon(db)
            raise
        refusal = EntryTooLarge(f"SQLite refused the entry: {exc}")
    except BaseException:
        await _abandon(db)
        raise
    if refusal is not None:
        await db.execute_fetchall("ROLLBACK TO log_group")
    await db.execute_fetchall("RELEASE log_group")
    return refusal


async def _abandon(db: aiosqlite.Connection) -> None:
    # some failures end the whole transaction, savepoints included
    if db.in_transaction:
        await db.execute_fetchall("ROLLBACK TO log_group")
        await db.execute_fetchall("RELEASE log_group")


async def _store_group(
    db: aiosqlite.Connection, tenant: str, group: Sequence[LogRecord], first: int
) -> DomainError | None:
    ids = _new_ids(group)
    duplicate = _repeated(ids, await _existing(db, ids))
    if duplicate is not None:
        return duplicate
    pending: list[Entry] = []
    for record in group:
        revision = record.revision
        if revision is None:
            continue
        if revision.revision == 1:
            pending.append(revision)
            continue
        await _insert_new(db, pending)  # what the next revision may follow
        pending = []
        refusal = await _store_next(db, revision)
        if refusal is not None:
            return refusal
    await _insert_new(db, pending)
    await _execute_many(db, _INSERT_LEAF, _leaf_rows(tenant, group, first))
    return None


async def _insert_new(db: aiosqlite.Connection, entries: Sequence[Entry]) -> None:
    if entries:
        await _execute_many(db, INSERT_REVISION, [_row(entry) for entry in entries])
        await _execute_many(db, INSERT_TAG, [row for e in entries for row in _tags(e)])


async def _store_next(db: aiosqlite.Connection, revision: Entry) -> DomainError | None:
    tenant, entry_id = revision.tenant, revision.id
    rows = list(await db.execute_fetchall(_SELECT_LATEST, (tenant, entry_id)))
    if not rows or rows[0][1]:
        return EntryNotFound(entry_id)
    current = rows[0][0]
    if revision.revision != current + 1:
        return RevisionConflict(entry_id, revision.revision - 1, current)
    await db.execute_fetchall(
        "UPDATE revisions SET live = 0 WHERE tenant = ? AND id = ? AND revision = ?",
        (tenant, entry_id, current),
    )
    await db.execute_fetchall(INSERT_REVISION, _row(revision))
    await db.execute_fetchall(
        "DELETE FROM entry_tags WHERE tenant = ? AND id = ?", (tenant, entry_id)
    )
    await _execute_many(db, INSERT_TAG, _tags(revision))
    return None


def _row(entry: Entry) -> tuple[Any, ...]:
    return entry_to_row(entry, live=not entry.deleted)


def _tags(entry: Entry) -> list[tuple[str, str, int, str]]:
    return [] if entry.deleted else tag_rows(entry)


def _leaf_rows(tenant: str, group: Sequence[LogRecord], first: int) -> list[tuple[Any, ...]]:
    rows = []
    for offset, record in enumerate(group):
        revision = record.revision
        entry_id = None if revision is None else revision.id
        number = None if revision is None else revision.revision
        rows.append((tenant, first + offset, record.leaf_hash, entry_id, number, record.leaf))
    return rows


async def _execute_many(db: aiosqlite.Connection, sql: str, rows: Iterable[Any]) -> None:
    cursor = await db.executemany(sql, rows)
    await cursor.close()


def found_nodes(rows: Iterable[Sequence[Any]]) -> dict[NodeId, bytes]:
    """The rows of ``SELECT_NODES`` as ``TenantLog.node_hashes`` answers."""
    return {(int(level), int(index)): bytes(digest) for level, index, digest in rows}
