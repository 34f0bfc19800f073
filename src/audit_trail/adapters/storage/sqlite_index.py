"""SqliteQueryIndex: the QueryIndex of SqliteEntryRepository, in the same file.

Reads are single SELECTs on the repository's reader; ``write`` is one ``BEGIN
IMMEDIATE`` transaction of the repository's writer that first reads the head and
applies nothing unless it is still the one the write was computed from, so two
processes integrating one tenant at once stay one sequence (SQLite serialises
writers of a file). The index key is made with ``INSERT OR IGNORE``: the first
process to store one wins, and every process reads that one.
"""

from __future__ import annotations

import secrets
import sqlite3
import struct
from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import aiosqlite

from audit_trail.core.index.keys import INDEX_KEY_BYTES, Filed
from audit_trail.core.integrity.merkle import HASH_SIZE
from audit_trail.core.model import Actor, Target
from audit_trail.core.ports.index import (
    IndexHead,
    IndexWrite,
    LoggedChange,
    PostingHead,
    PostingRun,
)
from audit_trail.core.timestamps import from_epoch_millis

T = TypeVar("T")
Reader = Callable[[str, Sequence[Any]], Awaitable[list[sqlite3.Row]]]
Writer = Callable[[Callable[[aiosqlite.Connection], Awaitable[T]]], Awaitable[T]]

_CHUNK = 500  # bound parameters per IN (...) list
_FILED = ("id", "revision", "occurred_at", "action", "actor_id", "target_type", "target_id")
_REVISION = ", ".join(f"r.{c}" for c in (*_FILED, "deleted"))
_PREVIOUS = ", ".join(f"p.{c}" for c in (*_FILED, "deleted"))
# S608: constant column names only; values are bound
_SELECT_CHANGES = (
    f"SELECT l.idx, l.leaf_hash, l.entry_id IS NOT NULL, {_REVISION}, {_PREVIOUS} FROM log l"  # noqa: S608
    " LEFT JOIN revisions r ON r.tenant = l.tenant AND r.id = l.entry_id"
    " AND r.revision = l.revision"
    " LEFT JOIN revisions p ON p.tenant = l.tenant AND p.id = l.entry_id"
    " AND p.revision = l.revision - 1"
    " WHERE l.tenant = ? AND l.idx >= ? AND l.idx < ? ORDER BY l.idx"
)
_SELECT_HEAD = "SELECT covers, map_root, leaf_index FROM index_heads WHERE tenant = ?"
# the runs holding positions [start, end): from the last run starting at or before start
_SELECT_RUNS = (
    "SELECT position, postings FROM posting_runs WHERE tenant = ? AND map_key = ?"
    " AND position < ? AND position >= (SELECT COALESCE(MAX(position), 0) FROM posting_runs"
    " WHERE tenant = ? AND map_key = ? AND position <= ?) ORDER BY position"
)
_LENGTH = struct.Struct(">H")  # each posting of a run's row, after its length
# A run is stored in rows of at most this many bytes of postings, so that a row fits in
# its b-tree page: a longer one would spill into overflow pages, mostly empty.
_ROW_BYTES = 900


class SqliteQueryIndex:
    def __init__(self, read: Reader, write: Writer[Any]) -> None:
        self._read = read
        self._write = write
        self._keys: dict[str, bytes] = {}

    async def index_key(self, tenant: str) -> bytes:
        key = self._keys.get(tenant)
        if key is not None:
            return key
        rows = await self._read("SELECT index_key FROM index_heads WHERE tenant = ?", (tenant,))
        if not rows:

            async def create(db: aiosqlite.Connection) -> None:
                await db.execute(
                    "INSERT OR IGNORE INTO index_heads (tenant, index_key) VALUES (?, ?)",
                    (tenant, secrets.token_bytes(INDEX_KEY_BYTES)),
                )

            await self._write(create)
            rows = await self._read("SELECT index_key FROM index_heads WHERE tenant = ?", (tenant,))
        key = self._keys[tenant] = bytes(rows[0][0])
        return key

    async def head(self, tenant: str) -> IndexHead | None:
        return _head(await self._read(_SELECT_HEAD, (tenant,)))

    async def changes(self, tenant: str, start: int, end: int) -> Sequence[LoggedChange]:
        width = len(_FILED)
        changes: list[LoggedChange] = []
        for row in await self._read(_SELECT_CHANGES, (tenant, start, end)):
            index, digest, commits = row[0], bytes(row[1]), row[2]
            if not commits:
                changes.append(LoggedChange(index, digest))
                continue
            revision = _filed(row[3 : 4 + width])
            previous = row[4 + width :]
            before = None if previous[0] is None else _filed(previous)
            changes.append(LoggedChange(index, digest, revision, before))
        return changes

    async def posting_heads(
        self, tenant: str, map_keys: Collection[bytes]
    ) -> Mapping[bytes, PostingHead]:
        heads: dict[bytes, PostingHead] = {}
        for chunk in _chunks(list(map_keys)):
            sql = (
                "SELECT map_key, size, edge FROM posting_heads WHERE tenant = ?"  # noqa: S608
                f" AND map_key IN ({', '.join('?' * len(chunk))})"
            )
            for key, size, edge in await self._read(sql, (tenant, *chunk)):
                heads[bytes(key)] = PostingHead(size, _split(bytes(edge)))
        return heads

    async def postings(self, tenant: str, map_key: bytes, start: int, end: int) -> Sequence[bytes]:
        start = max(start, 0)
        if end <= start:
            return []
        rows = await self._read(_SELECT_RUNS, (tenant, map_key, end, tenant, map_key, start))
        postings: list[bytes] = []
        for position, run in rows:
            unframed = _unframe(bytes(run))
            postings.extend(unframed[max(start - position, 0) : end - position])
        return postings

    async def map_nodes(self, tenant: str, ids: Collection[bytes]) -> Mapping[bytes, bytes]:
        nodes: dict[bytes, bytes] = {}
        for chunk in _chunks(list(ids)):
            sql = (
                "SELECT id, node FROM map_nodes WHERE tenant = ?"  # noqa: S608
                f" AND id IN ({', '.join('?' * len(chunk))})"
            )
            for node_id, node in await self._read(sql, (tenant, *chunk)):
                nodes[bytes(node_id)] = bytes(node)
        return nodes

    async def write(self, tenant: str, expected: IndexHead | None, write: IndexWrite) -> bool:
        key = await self.index_key(tenant)

        async def apply(db: aiosqlite.Connection) -> bool:
            if _head(list(await db.execute_fetchall(_SELECT_HEAD, (tenant,)))) != expected:
                return False
            await db.executemany(
                "INSERT INTO posting_runs (tenant, map_key, position, postings)"
                " VALUES (?, ?, ?, ?)",
                [
                    (tenant, run.map_key, position, _frame(postings))
                    for run in write.postings
                    for position, postings in _rows(run)
                ],
            )
            await db.executemany(
                "INSERT OR REPLACE INTO posting_heads (tenant, map_key, size, edge)"
                " VALUES (?, ?, ?, ?)",
                [(tenant, k, h.size, b"".join(h.edge)) for k, h in write.posting_heads.items()],
            )
            await db.executemany(
                "INSERT OR REPLACE INTO map_nodes (tenant, id, node) VALUES (?, ?, ?)",
                [(tenant, i, node) for i, node in write.map_nodes.items() if node is not None],
            )
            await db.executemany(
                "DELETE FROM map_nodes WHERE tenant = ? AND id = ?",
                [(tenant, i) for i, node in write.map_nodes.items() if node is None],
            )
            head = write.head
            await db.execute(
                "INSERT INTO index_heads (tenant, index_key, covers, map_root, leaf_index)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant) DO UPDATE SET covers ="
                " excluded.covers, map_root = excluded.map_root, leaf_index = excluded.leaf_index",
                (tenant, key, head.covers, head.map_root, head.leaf_index),
            )
            return True

        result: bool = await self._write(apply)
        return result

    async def set_leaf_index(self, tenant: str, covers: int, leaf_index: int) -> None:
        async def apply(db: aiosqlite.Connection) -> None:
            await db.execute(
                "UPDATE index_heads SET leaf_index = ? WHERE tenant = ? AND covers = ?",
                (leaf_index, tenant, covers),
            )

        await self._write(apply)


def _filed(columns: Sequence[Any]) -> Filed:
    entry_id, revision, occurred_at, action, actor_id, target_type, target_id, deleted = columns
    target = None
    if target_type is not None and target_id is not None:
        target = Target(type=target_type, id=target_id)
    return Filed(
        id=entry_id,
        revision=revision,
        occurred_at=from_epoch_millis(occurred_at),
        action=action,
        actor=Actor(id=actor_id),
        target=target,
        deleted=bool(deleted),
    )


def _head(rows: Sequence[sqlite3.Row]) -> IndexHead | None:
    if not rows or rows[0][0] is None:
        return None
    covers, root, leaf_index = rows[0]
    return IndexHead(covers, bytes(root), leaf_index)


def _split(edge: bytes) -> tuple[bytes, ...]:
    return tuple(edge[i : i + HASH_SIZE] for i in range(0, len(edge), HASH_SIZE))


def _rows(run: PostingRun) -> Iterator[tuple[int, list[bytes]]]:
    """``run`` as rows: each its first position, and postings of at most ``_ROW_BYTES``
    framed bytes (or one posting, however long)."""
    row: list[bytes] = []
    position, size = run.start, 0
    for offset, posting in enumerate(run.postings):
        framed = _LENGTH.size + len(posting)
        if row and size + framed > _ROW_BYTES:
            yield position, row
            position, row, size = run.start + offset, [], 0
        row.append(posting)
        size += framed
    if row:
        yield position, row


def _frame(postings: Sequence[bytes]) -> bytes:
    return b"".join(_LENGTH.pack(len(posting)) + posting for posting in postings)


def _unframe(run: bytes) -> list[bytes]:
    postings: list[bytes] = []
    at = 0
    while at < len(run):
        (length,) = _LENGTH.unpack_from(run, at)
        at += _LENGTH.size
        postings.append(run[at : at + length])
        at += length
    return postings


def _chunks(values: list[bytes]) -> list[list[bytes]]:
    return [values[i : i + _CHUNK] for i in range(0, len(values), _CHUNK)]
