"""JSON Schemas (2020-12, as OpenAPI 3.1 uses them) of what the API sends and takes."""

from __future__ import annotations

from typing import Any

from audit_trail.core import Outcome
from audit_trail.core.query import MAX_LIMIT
from audit_trail.core.validation import (
    ACTION_PATTERN,
    MAX_ID_LENGTH,
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    MAX_NAME_LENGTH,
    MAX_TAG_LENGTH,
    MAX_TAGS,
)

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _text(max_length: int, description: str = "") -> Schema:
    schema: Schema = {"type": "string", "minLength": 1, "maxLength": max_length}
    return {**schema, "description": description} if description else schema


def _object(properties: dict[str, Schema], required: list[str], description: str) -> Schema:
    return {
        "type": "object",
        "description": description,
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _entry_fields() -> dict[str, Schema]:
    return {
        "action": {
            "type": "string",
            "pattern": f"^{ACTION_PATTERN.pattern}$",
            "examples": ["document.update"],
        },
        "outcome": {"enum": [o.value for o in Outcome], "default": Outcome.SUCCESS.value},
        "actor": ref("Actor"),
        "target": ref("Target"),
        "occurred_at": {
            "type": "string",
            "format": "date-time",
            "description": "With a timezone; kept to the millisecond, in UTC. Default: now.",
        },
        "tags": {"type": "array", "maxItems": MAX_TAGS, "items": _text(MAX_TAG_LENGTH)},
        "metadata": {
            "type": "object",
            "description": f"Any JSON object of at most {MAX_METADATA_BYTES} bytes and "
            f"{MAX_METADATA_DEPTH} levels; no key may start with '$' or contain '.' or NUL.",
        },
    }


def component_schemas(max_batch_entries: int) -> dict[str, Schema]:
    actor = {
        "id": _text(MAX_ID_LENGTH, "Defaults to the token's subject when actor is omitted."),
        "type": _text(MAX_NAME_LENGTH),
        "name": _text(MAX_NAME_LENGTH),
    }
    target = {
        "type": _text(MAX_ID_LENGTH),
        "id": _text(MAX_ID_LENGTH),
        "name": _text(MAX_NAME_LENGTH),
    }
    entry: dict[str, Schema] = {
        "id": {"type": "string", "description": "Time-ordered and URL-safe."},
        "tenant": {"type": "string"},
        "revision": {"type": "integer", "minimum": 1},
        **_entry_fields(),
        "recorded_at": {"type": "string", "format": "date-time"},
        "source": {
            "type": "object",
            "properties": {"ip": {"type": "string"}, "user_agent": {"type": "string"}},
        },
        "deleted": {"const": True, "description": "Only on a tombstone revision."},
    }
    entry_required = ["id", "tenant", "revision", "action", "outcome", "actor"]
    entry_required += ["occurred_at", "recorded_at", "tags", "metadata", "source"]
    return {
        "Actor": _object(actor, ["id"], "Who acted."),
        "Target": _object(target, ["type", "id"], "What was acted on."),
        "EntryInput": _object(_entry_fields(), ["action"], "An entry as a client sends it."),
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
        "EntryList": _object(
            {"items": {"type": "array", "items": ref("Entry")}}, ["items"], "Entries."
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
            },
            "required": ["type", "title", "status", "detail"],
        },
        "Status": _object({"status": {"const": "ok"}}, ["status"], "The service is up."),
    }
