"""The OpenAPI schemas of POST /viewer-tokens: its body and its answer."""

from __future__ import annotations

from audit_trail.core.usecases.viewer_tokens import (
    DEFAULT_VIEWER_TTL_SECONDS,
    MAX_VIEWER_TTL_SECONDS,
)
from audit_trail.core.validation import MAX_ID_LENGTH
from audit_trail.entrypoints.http.schemas import Schema, text, timestamp


def viewer_token_schemas() -> dict[str, Schema]:
    identifier = text(MAX_ID_LENGTH)
    target: Schema = {
        "type": "object",
        "properties": {"type": identifier, "id": identifier},
        "required": ["type", "id"],
        "additionalProperties": False,
    }
    restriction: dict[str, Schema] = {
        "actor_id": {**identifier, "description": "Only this actor's entries are visible."},
        "target": {**target, "description": "Only this target's entries are visible."},
    }
    return {
        "ViewerTokenInput": {
            "type": "object",
            "description": "A viewer token to mint: at most one of actor_id and target.",
            "properties": {
                "ttl_seconds": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_VIEWER_TTL_SECONDS,
                    "default": DEFAULT_VIEWER_TTL_SECONDS,
                },
                **restriction,
            },
            "additionalProperties": False,
        },
        "ViewerToken": {
            "type": "object",
            "description": "A read-only bearer token for the tenant, valid until expires_at.",
            "properties": {
                "token": {"type": "string"},
                "token_type": {"const": "Bearer"},
                "expires_at": timestamp(),
                "tenant": {"type": "string"},
                "restriction": {
                    "type": "object",
                    "properties": restriction,
                    "additionalProperties": False,
                    "description": "Empty: the whole tenant.",
                },
            },
            "required": ["token", "token_type", "expires_at", "tenant", "restriction"],
        },
    }
