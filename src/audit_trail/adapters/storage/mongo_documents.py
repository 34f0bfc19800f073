"""How MongoEntryRepository keeps entries: one document per revision, each a leaf.

Every document of the ``entries`` collection is one leaf of its tenant's log, at
``log_index``; most leaves commit an entry revision, and then the document is that
revision too, as flat, indexable fields::

    {"_id": "01J...:00000002", "id": "01J...", "tenant": "acme", "revision": 2,
     "live": true, "log_index": 41, "leaf": b"{...}", "leaf_hash": b"...",
     "salts": [["action", b"..."], ...], "prev": b"...", "recorded_by": "u-admin",
     "action": "document.update", "outcome": "success", "actor_id": "u-42",
     "actor_type": "user", "target_type": "document", "target_id": "d-7",
     "occurred_at": ISODate(...), "recorded_at": ISODate(...), "tags": ["ui"],
     "metadata": {...}, "source_ip": "10.0.0.1", "deleted": false}

- ``_id`` = ``<entry id>:<revision, 8 digits>``: unique, so each revision n of an
  entry is stored once (the one of two racing amendments that comes second is
  refused), and an entry's revisions are one ``_id`` range, oldest first: history
  and the current revision (the last of the range) need no other index. No document
  ever holds more than one revision, so an entry amended a thousand times with big
  metadata can still be amended, deleted and read.
- ``live`` is true only on the current revision of an entry that is not deleted; the
  query indexes are partial on it, so they hold exactly the entries a query can see.
- A leaf that commits no revision (``revision=None``) is a document with only
  ``tenant``, ``log_index``, ``leaf`` and ``leaf_hash`` (and an ObjectId ``_id``).

Salts are kept as ``[path, salt]`` pairs since a path holds dots, and so are the
kept digests of erased fields, in ``erased`` (absent when none). Optional fields that
are unset are left out. Times are BSON datetimes (UTC, milliseconds), read back
timezone-aware through ``CODEC_OPTIONS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from typing import Any

from bson import CodecOptions, Int64, ObjectId

from audit_trail.adapters.storage.flat_fields import FLAT_FIELDS
from audit_trail.core.model import Actor, Entry, Evidence, Outcome, Source, Target
from audit_trail.core.ports.log import LogRecord

ENTRIES_COLLECTION = "entries"
CODEC_OPTIONS: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=True, tzinfo=UTC)

LIVE = "live"
LOG_INDEX = "log_index"
LEAF = "leaf"
LEAF_HASH = "leaf_hash"

# what a read of entries leaves on the server: the leaf bytes are the log's business
ENTRY_PROJECTION = {LEAF: 0, LOG_INDEX: 0}

# the fields of a revision that a query page shows: not its evidence (salts, hashes),
# which only ``revision`` needs, nor what only the log and the indexes use
PAGE_FIELDS = FLAT_FIELDS
PAGE_PROJECTION = {"_id": 0, **dict.fromkeys(PAGE_FIELDS, 1)}


def revision_id(entry_id: str, revision: int) -> str:
    """The ``_id`` of one revision; revisions of one entry sort by number."""
    return f"{entry_id}:{revision:08d}"


def revisions_range(entry_id: str) -> dict[str, str]:
    """An ``_id`` condition matching every revision of ``entry_id`` (and possibly of an
    id that starts with ``entry_id + ':'``, so filter on ``id`` too)."""
    return {"$gte": f"{entry_id}:", "$lt": f"{entry_id};"}


def entry_to_document(
    entry: Entry, *, log_index: int | None = None, leaf: bytes | None = None
) -> dict[str, Any]:
    """The document of one revision (``live`` unless it is a tombstone); its log
    fields when ``log_index`` is given, its evidence when it is sealed."""
    target = entry.target
    fields: dict[str, Any] = {
        "_id": revision_id(entry.id, entry.revision),
        "id": entry.id,
        "tenant": entry.tenant,
        "revision": entry.revision,
        LIVE: not entry.deleted,
        LOG_INDEX: log_index,
        LEAF: leaf,
        "action": entry.action,
        "outcome": entry.outcome.value,
        "actor_id": entry.actor.id,
        "actor_type": entry.actor.type,
        "actor_name": entry.actor.name,
        "target_type": None if target is None else target.type,
        "target_id": None if target is None else target.id,
        "target_name": None if target is None else target.name,
        "occurred_at": entry.occurred_at,
        "recorded_at": entry.recorded_at,
        "recorded_by": entry.recorded_by,
        "tags": list(entry.tags),
        "metadata": dict(entry.metadata),
        "source_ip": entry.source.ip,
        "source_user_agent": entry.source.user_agent,
        "deleted": entry.deleted,
    }
    evidence = entry.evidence
    if evidence is not None:
        fields[LEAF_HASH] = evidence.leaf_hash
        fields["salts"] = [[path, salt] for path, salt in evidence.salts.items()]
        fields["prev"] = evidence.prev
        if evidence.erased:
            fields["erased"] = [[path, digest] for path, digest in evidence.erased.items()]
    return {name: value for name, value in fields.items() if value is not None}


_KEPT_BY_REWRITE = frozenset({"_id", "id", "tenant", "revision", LIVE, LOG_INDEX, LEAF, LEAF_HASH})
_REWRITTEN = frozenset(
    name for name in (*FLAT_FIELDS, "salts", "prev", "deleted") if name not in _KEPT_BY_REWRITE
)


def rewrite_update(entry: Entry) -> dict[str, Any]:
    """The update that stores ``entry`` over its stored revision's document, leaving
    what places it in the log (``_id``, ``live``, ``log_index``, the leaf)."""
    document = entry_to_document(entry)
    kept = {name: value for name, value in document.items() if name in _REWRITTEN}
    update: dict[str, Any] = {"$set": kept}
    gone = sorted(_REWRITTEN - set(kept))
    if gone:
        update["$unset"] = dict.fromkeys(gone, "")
    return update


def leaf_document(tenant: str, log_index: int, record: LogRecord) -> dict[str, Any]:
    """The document of one leaf: its revision's, or a bare leaf's."""
    if record.revision is not None:
        document = entry_to_document(record.revision, log_index=log_index, leaf=record.leaf)
        document[LEAF_HASH] = record.leaf_hash  # the hash the tree is built from
        return document
    return {
        "_id": ObjectId(),
        "tenant": tenant,
        LOG_INDEX: log_index,
        LEAF: record.leaf,
        LEAF_HASH: record.leaf_hash,
    }


def document_to_entry(document: Mapping[str, Any]) -> Entry:
    """The revision a stored document holds (without evidence when the document was
    read without it, as ``PAGE_PROJECTION`` does)."""
    target = None
    if "target_type" in document and "target_id" in document:
        target = Target(
            type=document["target_type"],
            id=document["target_id"],
            name=document.get("target_name"),
        )
    evidence = None
    if LEAF_HASH in document:
        evidence = Evidence(
            salts={path: bytes(salt) for path, salt in document.get("salts", ())},
            prev=None if document.get("prev") is None else bytes(document["prev"]),
            leaf_hash=bytes(document[LEAF_HASH]),
            erased={path: bytes(digest) for path, digest in document.get("erased", ())},
        )
    return Entry(
        id=document["id"],
        tenant=document["tenant"],
        revision=int(document["revision"]),
        action=document["action"],
        outcome=Outcome(document["outcome"]),
        actor=Actor(
            id=document["actor_id"],
            type=document.get("actor_type"),
            name=document.get("actor_name"),
        ),
        occurred_at=document["occurred_at"],
        recorded_at=document["recorded_at"],
        target=target,
        tags=tuple(document.get("tags", ())),
        metadata=_plain(document.get("metadata", {})),
        source=Source(ip=document.get("source_ip"), user_agent=document.get("source_user_agent")),
        deleted=bool(document.get("deleted", False)),
        recorded_by=document.get("recorded_by", ""),
        erased=tuple(sorted(path for path, _ in document.get("erased", ()))),
        evidence=evidence,
    )


def _plain(value: Any) -> Any:
    """JSON values as they were given: BSON's Int64 back to a plain ``int``. A container
    that holds none is returned as it is (most hold none, and every read runs this)."""
    kind = type(value)
    if kind is Int64:
        return int(value)
    if kind is dict or kind is list:
        plain = value
        for key, item in value.items() if kind is dict else enumerate(value):
            if type(item) not in _SCALARS and (new := _plain(item)) is not item:
                if plain is value:
                    plain = kind(value)  # copied on the first change only
                plain[key] = new
        return plain
    return value


_SCALARS = frozenset({str, int, float, bool, type(None)})
