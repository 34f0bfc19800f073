"""The SQLite schema of SqliteEntryRepository, and entries to rows and back.

``revisions`` holds one row per revision, with its evidence (``recorded_by``, the
salts as a JSON object of base64 strings, ``prev`` and ``leaf_hash``) and, in
``erased``, the digests of its erased fields in the same form (NULL when none). ``live`` is 1
on the current revision of an entry that is not deleted, 0 everywhere else; every
query index is partial on ``live = 1`` and led by the tenant, so queries only ever
walk the tenant's live entries. ``entry_tags`` holds the tags of live entries (one
row per distinct tag), with their ``occurred_at`` so that a tag query pages through
an index too.
Times are integer epoch milliseconds; tags and metadata are JSON text.

The tenant logs: ``log`` holds every leaf (``idx`` from 0 per tenant, its bytes, its
hash, and the entry id and revision when it commits one), so level-0 node hashes come
from it; ``nodes`` holds the hash of every complete subtree of level 1 and up;
``checkpoints`` the signed notes kept per tree size. A leaf and the revision it
commits are written in one transaction, so they never disagree.

The query index (``sqlite_index``): ``index_heads`` (per tenant: its index key and
what the index covers), ``posting_runs`` (the postings of one integration for one
posting log, from ``position`` on, in one row), ``posting_heads`` (each posting log's
size and right edge) and ``map_nodes`` (the map's internal nodes, ``core.index.map``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from audit_trail.adapters.storage.flat_fields import FLAT_FIELDS
from audit_trail.core.model import Actor, Entry, Evidence, Outcome, Source, Target
from audit_trail.core.timestamps import from_epoch_millis, to_epoch_millis

SCHEMA_VERSION = 5

COLUMNS = (*FLAT_FIELDS, "salts", "prev", "leaf_hash", "deleted", "live")

_LIVE_INDEXES = {
    "by_time": "tenant, occurred_at, id",
    "by_actor_id": "tenant, actor_id, occurred_at, id",
    "by_actor_type": "tenant, actor_type, occurred_at, id",
    "by_action": "tenant, action, occurred_at, id",
    "by_target": "tenant, target_type, target_id, occurred_at, id",
    "by_target_id": "tenant, target_id, occurred_at, id",
    "by_outcome": "tenant, outcome, occurred_at, id",
}

SCHEMA = [
    """
    CREATE TABLE IF NOT EXISTS revisions (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        revision INTEGER NOT NULL,
        action TEXT NOT NULL,
        outcome TEXT NOT NULL,
        actor_id TEXT NOT NULL,
        actor_type TEXT,
        actor_name TEXT,
        target_type TEXT,
        target_id TEXT,
        target_name TEXT,
        occurred_at INTEGER NOT NULL,
        recorded_at INTEGER NOT NULL,
        tags TEXT NOT NULL,
        metadata TEXT NOT NULL,
        source_ip TEXT,
        source_user_agent TEXT,
        recorded_by TEXT NOT NULL,
        erased TEXT,
        salts TEXT NOT NULL,
        prev BLOB,
        leaf_hash BLOB NOT NULL,
        deleted INTEGER NOT NULL,
        live INTEGER NOT NULL,
        PRIMARY KEY (tenant, id, revision)
    ) WITHOUT ROWID
    """,
    *(
        f"CREATE INDEX IF NOT EXISTS revisions_{name} ON revisions ({columns}) WHERE live = 1"
        for name, columns in _LIVE_INDEXES.items()
    ),
    """
    CREATE TABLE IF NOT EXISTS entry_tags (
        tenant TEXT NOT NULL,
        tag TEXT NOT NULL,
        occurred_at INTEGER NOT NULL,
        id TEXT NOT NULL,
        PRIMARY KEY (tenant, tag, occurred_at, id)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX IF NOT EXISTS entry_tags_by_entry ON entry_tags (tenant, id)",
    # An id names one entry across all tenants, as on every other adapter.
    "CREATE UNIQUE INDEX IF NOT EXISTS revisions_by_id ON revisions (id, revision)",
    # a rowid table: leaves are too long for WITHOUT ROWID; leaf last, after the hash
    """
    CREATE TABLE IF NOT EXISTS log (
        tenant TEXT NOT NULL,
        idx INTEGER NOT NULL,
        leaf_hash BLOB NOT NULL,
        entry_id TEXT,
        revision INTEGER,
        leaf BLOB NOT NULL,
        UNIQUE (tenant, idx)
    )
    """,
    "CREATE UNIQUE INDEX IF NOT EXISTS log_by_revision"
    " ON log (tenant, entry_id, revision) WHERE entry_id IS NOT NULL",
    """
    CREATE TABLE IF NOT EXISTS nodes (
        tenant TEXT NOT NULL,
        level INTEGER NOT NULL CHECK (level > 0),
        idx INTEGER NOT NULL,
        hash BLOB NOT NULL,
        PRIMARY KEY (tenant, level, idx)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS checkpoints (
        tenant TEXT NOT NULL,
        size INTEGER NOT NULL,
        note TEXT NOT NULL,
        PRIMARY KEY (tenant, size)
    ) WITHOUT ROWID
    """,
    # the query index (sqlite_index): derived from the log, so a file of version 2
    # gains these empty and the index is built from its log on first use
    """
    CREATE TABLE IF NOT EXISTS index_heads (
        tenant TEXT PRIMARY KEY,
        index_key BLOB NOT NULL,
        covers INTEGER,
        map_root BLOB,
        leaf_index INTEGER
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS posting_runs (
        tenant TEXT NOT NULL,
        map_key BLOB NOT NULL,
        position INTEGER NOT NULL,
        postings BLOB NOT NULL,
        PRIMARY KEY (tenant, map_key, position)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS posting_heads (
        tenant TEXT NOT NULL,
        map_key BLOB NOT NULL,
        size INTEGER NOT NULL,
        edge BLOB NOT NULL,
        PRIMARY KEY (tenant, map_key)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS map_nodes (
        tenant TEXT NOT NULL,
        id BLOB NOT NULL,
        node BLOB NOT NULL,
        PRIMARY KEY (tenant, id)
    ) WITHOUT ROWID
    """,
    f"PRAGMA user_version = {SCHEMA_VERSION}",
]

_NAMES, _PLACEHOLDERS = ", ".join(COLUMNS), ", ".join("?" * len(COLUMNS))
INSERT_REVISION = f"INSERT INTO revisions ({_NAMES}) VALUES ({_PLACEHOLDERS})"  # noqa: S608
INSERT_TAG = "INSERT OR IGNORE INTO entry_tags (tenant, tag, occurred_at, id) VALUES (?, ?, ?, ?)"


def entry_to_row(entry: Entry, *, live: bool) -> tuple[Any, ...]:
    """The row of a sealed revision; ``ValueError`` when it has no evidence."""
    target = entry.target
    evidence = entry.evidence
    if evidence is None:
        raise ValueError(f"revision {entry.revision} of {entry.id!r} is not sealed")
    return (
        entry.tenant,
        entry.id,
        entry.revision,
        entry.action,
        entry.outcome.value,
        entry.actor.id,
        entry.actor.type,
        entry.actor.name,
        None if target is None else target.type,
        None if target is None else target.id,
        None if target is None else target.name,
        to_epoch_millis(entry.occurred_at),
        to_epoch_millis(entry.recorded_at),
        _dump_json(list(entry.tags)),
        _dump_json(entry.metadata),
        entry.source.ip,
        entry.source.user_agent,
        entry.recorded_by,
        _dump_erased(evidence.erased),
        _dump_salts(evidence.salts),
        evidence.prev,
        evidence.leaf_hash,
        int(entry.deleted),
        int(live),
    )


_KEPT_BY_REWRITE = ("tenant", "id", "revision", "live")
_REWRITTEN = tuple(column for column in COLUMNS if column not in _KEPT_BY_REWRITE)
REWRITE_REVISION = (
    f"UPDATE revisions SET {', '.join(f'{column} = ?' for column in _REWRITTEN)}"  # noqa: S608
    " WHERE tenant = ? AND id = ? AND revision = ? RETURNING live"
)
DELETE_TAGS = "DELETE FROM entry_tags WHERE tenant = ? AND id = ?"


def rewrite_parameters(entry: Entry) -> tuple[Any, ...]:
    """The parameters of ``REWRITE_REVISION`` for one sealed revision."""
    row = dict(zip(COLUMNS, entry_to_row(entry, live=False), strict=True))
    return (*(row[column] for column in _REWRITTEN), entry.tenant, entry.id, entry.revision)


def tag_rows(entry: Entry) -> list[tuple[str, str, int, str]]:
    occurred_at = to_epoch_millis(entry.occurred_at)
    return [(entry.tenant, tag, occurred_at, entry.id) for tag in dict.fromkeys(entry.tags)]


# an export reads every row: msgspec and binascii, for speed
_SALTS = msgspec.json.Decoder(dict[str, bytes])  # base64 strings decoded by msgspec, in C
_TAGS = msgspec.json.Decoder(list[str])


def row_to_entry(row: Sequence[Any], *, evidence: bool = True) -> Entry:
    """The revision a row (of ``COLUMNS``) holds; without its evidence when
    ``evidence`` is false (a query page shows none, and salts take long to load)."""
    (
        tenant,
        entry_id,
        revision,
        action,
        outcome,
        actor_id,
        actor_type,
        actor_name,
        target_type,
        target_id,
        target_name,
        occurred_at,
        recorded_at,
        tags,
        metadata,
        source_ip,
        source_user_agent,
        recorded_by,
        erased,
        salts,
        prev,
        leaf_hash,
        deleted,
        _live,
    ) = row
    target = None
    if target_type is not None and target_id is not None:
        target = Target(type=target_type, id=target_id, name=target_name)
    return Entry(
        id=entry_id,
        tenant=tenant,
        revision=revision,
        action=action,
        outcome=Outcome(outcome),
        actor=Actor(id=actor_id, type=actor_type, name=actor_name),
        occurred_at=from_epoch_millis(occurred_at),
        recorded_at=from_epoch_millis(recorded_at),
        target=target,
        tags=tuple(_TAGS.decode(tags)),
        metadata=json.loads(metadata),
        source=Source(ip=source_ip, user_agent=source_user_agent),
        deleted=bool(deleted),
        recorded_by=recorded_by,
        erased=() if erased is None else tuple(sorted(json.loads(erased))),
        evidence=Evidence(
            salts=_load_salts(salts),
            prev=prev,
            leaf_hash=leaf_hash,
            erased={} if erased is None else _load_salts(erased),
        )
        if evidence
        else None,
    )


def _dump_json(value: Any) -> str:
    # ASCII escapes keep even lone surrogates storable
    return json.dumps(value, separators=(",", ":"))


def _dump_salts(salts: Mapping[str, bytes]) -> str:
    return _dump_json({path: base64.b64encode(s).decode("ascii") for path, s in salts.items()})


def _dump_erased(digests: Mapping[str, bytes]) -> str | None:
    """The kept digests of erased fields, as salts are kept; NULL when there are none."""
    return _dump_salts(digests) if digests else None


def _load_salts(text: str) -> dict[str, bytes]:
    return _SALTS.decode(text)
