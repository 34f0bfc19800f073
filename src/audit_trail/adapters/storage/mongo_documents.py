"""How MongoEntryRepository keeps entries: one document per entry, all revisions inside.

A document holds the entry's current revision as flat, indexable fields, with
``_id`` = the entry id, and its earlier revisions, oldest first, in ``past``::

    {"_id": "01J...", "tenant": "acme", "revision": 2, "action": "document.update",
     "outcome": "success", "actor_id": "u-42", "actor_type": "user",
     "target_type": "document", "target_id": "d-7", "occurred_at": ISODate(...),
     "recorded_at": ISODate(...), "tags": ["ui"], "metadata": {...},
     "source_ip": "10.0.0.1", "deleted": false,
     "past": [{"revision": 1, "action": ..., ...}]}

Keeping every revision in the one document makes an amendment a single atomic
``update_one`` (set the new fields, push the old ones onto ``past``), guarded by a
filter on ``revision``; no transaction and no second collection can fall out of step.
Optional fields that are unset are left out. Times are BSON datetimes (UTC,
milliseconds), read back timezone-aware through ``CODEC_OPTIONS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from typing import Any

from bson import CodecOptions, Int64

from audit_trail.core.model import Actor, Entry, Outcome, Source, Target

ENTRIES_COLLECTION = "entries"
PAST = "past"
CODEC_OPTIONS: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=True, tzinfo=UTC)

# the fields an amendment may leave unset: $unset when absent, so none lingers
OPTIONAL_FIELDS = (
    "actor_type",
    "actor_name",
    "target_type",
    "target_id",
    "target_name",
    "source_ip",
    "source_user_agent",
)


def entry_to_document(entry: Entry) -> dict[str, Any]:
    """The document of a new entry: its first revision and an empty ``past``."""
    return {"_id": entry.id, "tenant": entry.tenant, **revision_fields(entry), PAST: []}


def revision_fields(entry: Entry) -> dict[str, Any]:
    """The fields of one revision, without the entry's identity (``_id``, ``tenant``)."""
    target = entry.target
    fields: dict[str, Any] = {
        "revision": entry.revision,
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
        "tags": list(entry.tags),
        "metadata": dict(entry.metadata),
        "source_ip": entry.source.ip,
        "source_user_agent": entry.source.user_agent,
        "deleted": entry.deleted,
    }
    return {name: value for name, value in fields.items() if value is not None}


def stored_revision(document: Mapping[str, Any]) -> dict[str, Any]:
    """The current revision's fields of a stored document, as ``past`` keeps them."""
    return {name: value for name, value in document.items() if name not in {"_id", "tenant", PAST}}


def document_to_entry(document: Mapping[str, Any]) -> Entry:
    """The current revision of a stored document."""
    return revision_to_entry(document["_id"], document["tenant"], document)


def document_history(document: Mapping[str, Any]) -> list[Entry]:
    """Every revision of a stored document, oldest first, the current one last."""
    entry_id, tenant = document["_id"], document["tenant"]
    past = [revision_to_entry(entry_id, tenant, fields) for fields in document.get(PAST, ())]
    return [*past, document_to_entry(document)]


def revision_to_entry(entry_id: str, tenant: str, fields: Mapping[str, Any]) -> Entry:
    target = None
    if "target_type" in fields and "target_id" in fields:
        target = Target(
            type=fields["target_type"], id=fields["target_id"], name=fields.get("target_name")
        )
    return Entry(
        id=entry_id,
        tenant=tenant,
        revision=int(fields["revision"]),
        action=fields["action"],
        outcome=Outcome(fields["outcome"]),
        actor=Actor(
            id=fields["actor_id"], type=fields.get("actor_type"), name=fields.get("actor_name")
        ),
        occurred_at=fields["occurred_at"],
        recorded_at=fields["recorded_at"],
        target=target,
        tags=tuple(fields.get("tags", ())),
        metadata=_plain(fields.get("metadata", {})),
        source=Source(ip=fields.get("source_ip"), user_agent=fields.get("source_user_agent")),
        deleted=bool(fields.get("deleted", False)),
    )


def _plain(value: Any) -> Any:
    """JSON values as they were given: BSON's Int64 back to a plain ``int``."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, Int64):
        return int(value)
    return value
