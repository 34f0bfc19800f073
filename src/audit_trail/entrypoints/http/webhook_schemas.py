"""The OpenAPI schemas of /webhooks (docs/streaming.md, "Webhooks")."""

from __future__ import annotations

from audit_trail.core.ports.webhooks import DELIVERY_LOG_SIZE
from audit_trail.core.webhooks.subscription import MAX_DESCRIPTION_LENGTH, MAX_URL_LENGTH
from audit_trail.entrypoints.http.schemas import Schema, _object, ref, text, timestamp


def webhook_schemas(entry_filter: Schema) -> dict[str, Schema]:
    sent_filter = {
        key: value for key, value in entry_filter.items() if key not in ("minProperties",)
    }
    sent_filter["description"] = (
        "Entry filters, as the query parameters of GET /entries; only matching changes are "
        "delivered (none given: every change)."
    )
    shown_filter = {**sent_filter, "description": "The filter, flat (`target_type`, `target_id`)."}
    moment = {"anyOf": [timestamp(), {"type": "null"}]}
    url = {
        "type": "string",
        "format": "uri",
        "minLength": 1,
        "maxLength": MAX_URL_LENGTH,
        "pattern": "^https?://[^\\s#]+$",
        "description": "The receiver: an absolute http(s) URL at a public address.",
    }
    webhook_fields: dict[str, Schema] = {
        "id": {"type": "string"},
        "url": {"type": "string"},
        "filter": shown_filter,
        "description": {"type": "string"},
        "state": {"enum": ["active", "dead"]},
        "cursor": {"type": "integer", "description": "The last log index handled."},
        "failures": {"type": "integer", "minimum": 0, "description": "Consecutive failures."},
        "last_error": {"type": ["string", "null"]},
        "next_attempt_at": moment,
        "created_at": timestamp(),
        "created_by": {"type": "string"},
    }
    required = list(webhook_fields)
    webhook = _object(webhook_fields, required, "A webhook subscription (no secret).")
    created = _object(
        {
            **webhook_fields,
            "secret": {
                "type": "string",
                "pattern": "^whsec_",
                "description": "The signing secret (Standard Webhooks); shown only here.",
            },
        },
        [*required, "secret"],
        "The new webhook subscription, with its secret (shown this once).",
    )
    attempt = _object(
        {
            "at": timestamp(),
            "log_index": {"type": "integer", "minimum": 0},
            "webhook_id": {"type": "string"},
            "status": {"type": ["integer", "null"]},
            "error": {"type": ["string", "null"]},
            "duration_ms": {"type": "number", "minimum": 0},
        },
        ["at", "log_index", "webhook_id", "status", "error", "duration_ms"],
        "One delivery attempt.",
    )
    return {
        "WebhookInput": _object(
            {
                "url": url,
                "filter": {"anyOf": [sent_filter, {"type": "null"}]},
                "description": {"anyOf": [text(MAX_DESCRIPTION_LENGTH), {"type": "null"}]},
            },
            ["url"],
            "A webhook subscription to create.",
        ),
        "Webhook": webhook,
        "WebhookCreated": created,
        "WebhookList": _object(
            {"items": {"type": "array", "items": ref("Webhook")}}, ["items"], "Webhooks."
        ),
        "WebhookDelivery": attempt,
        "WebhookDeliveries": _object(
            {
                "items": {
                    "type": "array",
                    "items": ref("WebhookDelivery"),
                    "maxItems": DELIVERY_LOG_SIZE,
                }
            },
            ["items"],
            "The delivery log, newest first.",
        ),
    }
