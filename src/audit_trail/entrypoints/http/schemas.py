"""JSON Schemas (2020-12, as OpenAPI 3.1 uses them) of what the API sends and takes."""

from __future__ import annotations

from typing import Any

from audit_trail.core import Outcome
from audit_trail.core.holds import MAX_REASON_LENGTH
from audit_trail.core.query import MAX_LIMIT
from audit_trail.core.retention.policy import MAX_RETENTION_DAYS
from audit_trail.core.timestamps import MAX_TIMESTAMP_LENGTH
from audit_trail.core.usecases.erase import MAX_FIELDS as MAX_ERASED_FIELDS
from audit_trail.core.usecases.erase import MAX_REASON as MAX_ERASE_REASON
from audit_trail.core.validation import (
    ACTION_PATTERN,
    MAX_ID_LENGTH,
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    MAX_NAME_LENGTH,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    SAFE_INTEGER_MAX,
    SAFE_INTEGER_MIN,
)

Schema = dict[str, Any]

# What validation refuses, said in the document too, so that a client (or a fuzzer)
# that follows the document is never refused: no NUL in any text; metadata keys
# non-empty, not starting with '$', without '.' or NUL.
NO_NUL = "^[^\\x00]*$"
METADATA_KEY = "^[^$.\\x00][^.\\x00]*$"


_STORED_METADATA: Schema = {
    "type": "object",
    "description": "The metadata as stored: as sent, unless a plugin enriched or redacted it.",
}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def text(max_length: int, description: str = "") -> Schema:
    """A non-empty string of at most ``max_length`` characters, without NUL."""
    schema: Schema = {
        "type": "string",
        "minLength": 1,
        "maxLength": max_length,
        "pattern": NO_NUL,
    }
    return {**schema, "description": description} if description else schema


def timestamp(description: str = "") -> Schema:
    schema: Schema = {"type": "string", "format": "date-time", "maxLength": MAX_TIMESTAMP_LENGTH}
    return {**schema, "description": description} if description else schema


def _nullable(schema: Schema) -> Schema:
    """An optional input field: ``null`` is the same as leaving it out."""
    return {"anyOf": [schema, {"type": "null"}]}


_READY_CHECKS: Schema = {
    "type": "object",
    "description": "not-ready and GET /ready: each dependency checked (storage, signer, "
    'redis) and its outcome, `"ok"` or why not.',
    "additionalProperties": {"type": "string"},
}


def _object(properties: dict[str, Schema], required: list[str], description: str) -> Schema:
    return {
        "type": "object",
        "description": description,
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _entry_fields(*, sent: bool) -> dict[str, Schema]:
    """The fields a client sends (``sent``: optional ones may be null) or gets back."""
    optional = _nullable if sent else (lambda schema: schema)
    return {
        "action": {
            "type": "string",
            "pattern": f"^{ACTION_PATTERN.pattern}$",
            "examples": ["document.update"],
        },
        "outcome": {"enum": [o.value for o in Outcome], "default": Outcome.SUCCESS.value},
        "actor": optional(ref("Actor")),
        "target": optional(ref("Target")),
        "occurred_at": optional(
            timestamp("With a timezone; kept to the millisecond, in UTC. Default: now.")
        ),
        "tags": optional({"type": "array", "maxItems": MAX_TAGS, "items": text(MAX_TAG_LENGTH)}),
        "metadata": optional(ref("Metadata")) if sent else _STORED_METADATA,
    }


def _metadata_schema() -> Schema:
    # JSON Schema cannot count depth, so each level of nesting is its own schema:
    # the object is at depth 1, containers may sit down to depth MAX_METADATA_DEPTH,
    # and below that only scalars.
    scalar: Schema = {
        "anyOf": [
            {"type": ["string", "boolean", "null"]},
            {"type": "integer", "minimum": SAFE_INTEGER_MIN, "maximum": SAFE_INTEGER_MAX},
            {"type": "number", "not": {"type": "integer"}},
        ]
    }

    def at(depth: int) -> Schema:
        return {"$ref": f"#/components/schemas/Metadata/$defs/depth{depth}"}

    def container(depth: int) -> Schema:
        return {
            "anyOf": [
                *scalar["anyOf"],
                {"type": "array", "items": at(depth + 1)},
                {
                    "type": "object",
                    "propertyNames": {"pattern": METADATA_KEY},
                    "additionalProperties": at(depth + 1),
                },
            ]
        }

    levels = {f"depth{d}": container(d) for d in range(2, MAX_METADATA_DEPTH + 1)}
    return {
        "type": "object",
        "description": f"Any JSON object of at most {MAX_METADATA_BYTES} bytes and "
        f"{MAX_METADATA_DEPTH} levels; no key may be empty, start with '$' or "
        "contain '.' or NUL; integers (numbers with no fraction, 1e19 as well as 19 "
        "digits) must lie within ±(2**53 - 1), other numbers be finite; no object may "
        "repeat a key; the size is checked again once plugins (PII masking) processed it.",
        "propertyNames": {"pattern": METADATA_KEY},
        "additionalProperties": at(2),
        "$defs": {**levels, f"depth{MAX_METADATA_DEPTH + 1}": scalar},
    }


ERASURE_MEMBERS = [
    "entry_id",
    "fields",
    "revisions",
    "reason",
    "recorded_at",
    "recorded_by",
    "leaf_index",
]


def component_schemas(max_batch_entries: int) -> dict[str, Schema]:
    # the optional members may be sent as null (never returned as null)
    actor = {
        "id": text(MAX_ID_LENGTH, "Defaults to the token's subject when actor is omitted."),
        "type": _nullable(text(MAX_NAME_LENGTH)),
        "name": _nullable(text(MAX_NAME_LENGTH)),
    }
    target = {
        "type": text(MAX_ID_LENGTH),
        "id": text(MAX_ID_LENGTH),
        "name": _nullable(text(MAX_NAME_LENGTH)),
    }
    entry: dict[str, Schema] = {
        "id": {"type": "string", "description": "Time-ordered and URL-safe."},
        "tenant": {"type": "string"},
        "revision": {"type": "integer", "minimum": 1},
        **_entry_fields(sent=False),
        "recorded_at": {"type": "string", "format": "date-time"},
        "recorded_by": {
            "type": "string",
            "description": "The subject of the token that made this revision.",
        },
        "source": {
            "type": "object",
            "properties": {"ip": {"type": "string"}, "user_agent": {"type": "string"}},
        },
        "erased": {
            "type": "array",
            "items": {"type": "string"},
            "description": "The fields of this revision whose values were erased"
            " (POST /entries/{id}/erase), sorted; absent when none. An erased field is"
            " absent from the entry (tags: empty); its leaf keeps its digest.",
        },
        "deleted": {"const": True, "description": "Only on a tombstone revision."},
    }
    entry_required = ["id", "tenant", "revision", "action", "outcome", "actor"]
    entry_required += ["occurred_at", "recorded_at", "recorded_by", "tags", "metadata", "source"]
    return {
        "Actor": _object(actor, ["id"], "Who acted."),
        "Target": _object(target, ["type", "id"], "What was acted on."),
        "EntryInput": _object(
            _entry_fields(sent=True), ["action"], "An entry as a client sends it."
        ),
        "Metadata": _metadata_schema(),
        "Entry": _object(entry, entry_required, "One revision of a recorded entry."),
        "EntryBatch": _object(
            {
                "entries": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": max_batch_entries,
                    "items": ref("EntryInput"),
                }
            },
            ["entries"],
            "Entries to record together: all of them, or none.",
        ),
        "EraseRequest": _object(
            {
                "fields": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_ERASED_FIELDS,
                    "items": {
                        "type": "string",
                        "description": "actor.type, actor.name, target.name, source.ip,"
                        " source.user_agent, tags or metadata.<key>; action, actor.id,"
                        " outcome, occurred_at, target.type and target.id cannot be erased"
                        " (422).",
                    },
                },
                "reason": {"type": "string", "minLength": 1, "maxLength": MAX_ERASE_REASON},
            },
            ["fields", "reason"],
            "The fields to erase from every revision of the entry, and why (recorded in"
            " the erase leaf; never the values).",
        ),
        "Erasure": _object(
            {
                "entry_id": {"type": "string"},
                "fields": {"type": "array", "items": {"type": "string"}},
                "revisions": {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 1},
                    "description": "The revisions the fields were taken out of; empty when"
                    " every field was erased already.",
                },
                "reason": {"type": "string"},
                "recorded_at": {"type": "string", "format": "date-time"},
                "recorded_by": {"type": "string"},
                "leaf_index": {
                    "type": ["integer", "null"],
                    "description": "The erase leaf's index in the tenant log; null when"
                    " nothing was left to erase (no leaf appended).",
                },
            },
            [*ERASURE_MEMBERS],
            "What an erasure did.",
        ),
        "EntryList": _object(
            {"items": {"type": "array", "items": ref("Entry")}}, ["items"], "Entries."
        ),
        "EntryHistoryPage": _object(
            {
                "items": {"type": "array", "items": ref("Entry"), "maxItems": 1000},
                "next_after": {
                    "type": ["integer", "null"],
                    "description": "Pass as `after` for the next page; null on the last.",
                },
            },
            ["items", "next_after"],
            "Revisions after `after` (default 0), oldest first, at most `limit` "
            "(1-1000, default 100).",
        ),
        "EntryPage": _object(
            {
                "items": {"type": "array", "items": ref("Entry"), "maxItems": MAX_LIMIT},
                "next_cursor": {
                    "type": ["string", "null"],
                    "description": "Pass as `cursor` for the next page; null on the last.",
                },
            },
            ["items", "next_cursor"],
            "One page of a query.",
        ),
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details.",
            "properties": {
                "type": {"type": "string", "format": "uri-reference"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "errors": {
                    "type": "array",
                    "items": _object(
                        {"field": {"type": "string"}, "message": {"type": "string"}},
                        ["field", "message"],
                        "One offending field, e.g. `actor.id` or `entries[3].action`.",
                    ),
                },
                "hold_id": {
                    "type": "string",
                    "description": "entry-held: the legal hold that protects the entry.",
                },
                "entry_id": {"type": "string", "description": "entry-held: the entry."},
                "checks": _READY_CHECKS,
            },
            "required": ["type", "title", "status", "detail"],
        },
        "Status": _object({"status": {"const": "ok"}}, ["status"], "The service is up."),
        "Readiness": _object(
            {"status": {"const": "ready"}, "checks": _READY_CHECKS},
            ["status", "checks"],
            "Every dependency answered in time.",
        ),
        **_evidence_schemas(),
        **_retention_schemas(),
        **_webhooks(),
        **_viewer_tokens(),
    }


def _webhooks() -> dict[str, Schema]:
    from audit_trail.entrypoints.http.webhook_schemas import webhook_schemas  # noqa: PLC0415

    # one list of entry filters: a webhook takes a hold's (none given: every change)
    return webhook_schemas(_retention_schemas()["HoldInput"]["properties"]["filter"])


def _viewer_tokens() -> dict[str, Schema]:
    from audit_trail.entrypoints.http.viewer_token_schemas import (  # noqa: PLC0415
        viewer_token_schemas,
    )

    return viewer_token_schemas()


def _evidence_schemas() -> dict[str, Schema]:
    """The tenant log's documents (DESIGN.md, "Integrity")."""
    b64: Schema = {"type": "string", "contentEncoding": "base64"}
    hashes: Schema = {"type": "array", "items": b64}
    leaf: Schema = {
        "type": "object",
        "description": "A leaf object; its RFC 8785 canonical JSON is what the log hashes.",
        "properties": {
            "v": {"const": 1},
            "kind": {"type": "string"},
            "tenant": {"type": "string"},
            "id": {"type": "string"},
            "revision": {"type": "integer", "minimum": 1},
            "recorded_at": {"type": "string"},
            "recorded_by": {"type": "string"},
            "prev": {"type": ["string", "null"]},
            "fields": {"type": "object", "additionalProperties": b64},
        },
        "required": ["v", "kind"],
    }
    return {
        "LogKey": _object(
            {"name": {"type": "string"}, "public_key": b64, "vkey": {"type": "string"}},
            ["name", "public_key", "vkey"],
            "The Ed25519 key that signs checkpoints, and its signed-note verifier key.",
        ),
        "LogConsistency": _object(
            {"first": {"type": "integer"}, "second": {"type": "integer"}, "proof": hashes},
            ["first", "second", "proof"],
            "An RFC 9162 consistency proof.",
        ),
        "LogLeaves": _object(
            {
                "leaves": {
                    "type": "array",
                    "maxItems": 1000,
                    "items": _object(
                        {"index": {"type": "integer", "minimum": 0}, "leaf": leaf},
                        ["index", "leaf"],
                        "A leaf and its position.",
                    ),
                }
            },
            ["leaves"],
            "Leaves of the tenant's log, by index.",
        ),
        "EntryProof": _object(
            {
                "entry": ref("Entry"),
                "leaf_index": {"type": "integer", "minimum": 0},
                "tree_size": {"type": "integer", "minimum": 1},
                "leaf": leaf,
                "salts": {"type": "object", "additionalProperties": b64},
                "inclusion": hashes,
                "checkpoint": {"type": "string", "description": "A C2SP signed note."},
            },
            ["entry", "leaf_index", "tree_size", "leaf", "salts", "inclusion", "checkpoint"],
            "A revision as the caller may see it, the salts of the fields it sees, its leaf, "
            "and the inclusion proof in the tree the checkpoint signs.",
        ),
        "QueryProof": _query_proof(b64, hashes, leaf),
    }


def _query_proof(b64: Schema, hashes: Schema, leaf: Schema) -> Schema:
    """``GET /entries?…&proof=1`` (query_proofs.py; docs/query-proofs.md)."""
    bucket = _object(
        {
            "kind": {"type": "string"},
            "value": {"type": "string"},
            "bucket": {"type": "string"},
            "map": {"type": "object", "description": "The map proof (page 1 only)."},
            "start": {"type": "integer", "minimum": 0},
            "end": {"type": "integer", "minimum": 0},
            "postings": {"type": "array", "items": {"type": "object"}},
        },
        ["kind", "value", "bucket", "start", "end", "postings"],
        "One index bucket's postings, and on page 1 its map proof.",
    )
    proven = _object(
        {
            "entry": ref("Entry"),
            "salts": {"type": "object", "additionalProperties": b64},
            "digests": {"type": "object", "additionalProperties": b64},
            "prev": {"type": ["string", "null"], "contentEncoding": "base64"},
        },
        ["entry", "salts", "digests", "prev"],
        "A matching revision, the salts of the fields it shows and the digests of the rest.",
    )
    index = _object(
        {
            "leaf_index": {"type": "integer", "minimum": 0},
            "leaf": leaf,
            "inclusion": hashes,
            "key": b64,
        },
        ["leaf_index", "leaf", "inclusion", "key"],
        "The index leaf the answer is proven through, and its inclusion proof.",
    )
    return _object(
        {
            "checkpoint": {"type": "string", "description": "A C2SP signed note."},
            "tree_size": {"type": "integer", "minimum": 0},
            "covers": {"type": "integer", "minimum": 0},
            "index": index,
            "buckets": {"type": "array", "items": bucket},
            "entries": {"type": "array", "items": proven},
            "next_cursor": {
                "type": ["string", "null"],
                "description": "Pass as `cursor` for the next page; null on the last.",
            },
        },
        ["checkpoint", "tree_size", "covers", "index", "buckets", "entries", "next_cursor"],
        "A query proof: the answer, and what shows it holds every entry the log has for it.",
    )


def _retention_schemas() -> dict[str, Schema]:
    """Retention periods and legal holds (docs/lifecycle.md, "Retention and legal holds")."""
    days: Schema = {
        "anyOf": [
            {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_RETENTION_DAYS},
            {"type": "null"},
        ],
        "description": "Days an entry is kept after its current revision was recorded "
        "(fractions allowed); null: kept forever.",
    }
    identifier = text(MAX_ID_LENGTH)
    hold_filter: Schema = {
        "type": "object",
        "description": "Entry filters, as the query parameters of GET /entries; an entry is "
        "held when its current revision matches every one given (at least one). `target` "
        "(`{type, id}`) is another way to give `target_type` and `target_id`.",
        "properties": {
            "actor_id": identifier,
            "actor_type": identifier,
            "action": text(MAX_ID_LENGTH, "An action, or a prefix ending in `*`."),
            "target": {
                "type": "object",
                "properties": {"type": identifier, "id": identifier},
                "minProperties": 1,
                "additionalProperties": False,
            },
            "target_type": identifier,
            "target_id": identifier,
            "outcome": {"enum": [o.value for o in Outcome]},
            "tag": identifier,
            "since": timestamp("occurred_at at or after this"),
            "until": timestamp("occurred_at at or before this"),
        },
        "minProperties": 1,
        "additionalProperties": False,
    }
    shown_filter = {**hold_filter, "description": "The filter, flat (`target_type`, `target_id`)."}
    moment = {"anyOf": [timestamp(), {"type": "null"}]}
    hold = _object(
        {
            "id": {"type": "string"},
            "filter": shown_filter,
            "reason": {"type": "string"},
            "status": {"enum": ["active", "released"]},
            "created_at": timestamp(),
            "created_by": {"type": "string"},
            "released_at": moment,
            "released_by": {"type": ["string", "null"]},
        },
        ["id", "filter", "reason", "status", "created_at", "created_by", "released_at"],
        "A legal hold: while active, no entry it matches is purged or erased.",
    )
    hold["required"].append("released_by")
    return {
        "RetentionInput": _object(
            {"days": days}, ["days"], "The tenant's retention period (null: keep forever)."
        ),
        "Retention": _object(
            {"days": days, "source": {"enum": ["tenant", "default"]}},
            ["days", "source"],
            "The retention period in force: the tenant's own, or the default "
            "(AUDIT_RETENTION_DAYS; null when unset: keep forever).",
        ),
        "HoldInput": _object(
            {"filter": hold_filter, "reason": text(MAX_REASON_LENGTH, "Why the entries are held.")},
            ["filter", "reason"],
            "A legal hold to place.",
        ),
        "Hold": hold,
        "HoldList": _object(
            {"items": {"type": "array", "items": ref("Hold")}}, ["items"], "Legal holds."
        ),
    }
