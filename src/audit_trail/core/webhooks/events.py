"""A change as a CloudEvents 1.0 structured JSON event (the webhook's body)."""

from __future__ import annotations

import json
from typing import Any

from audit_trail.core.usecases.change_reader import Change

EVENT_TYPE_PREFIX = "audit_trail.entry."


def webhook_id(tenant: str, index: int) -> str:
    """The CloudEvent ``id`` and ``webhook-id``: the same for every retry of a change."""
    return f"{tenant}:{index}"


def cloud_event(change: Change, tenant: str, source: str) -> dict[str, Any]:
    data = change.data
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": webhook_id(tenant, change.index),
        "source": source,
        "type": EVENT_TYPE_PREFIX + change.kind,
        "datacontenttype": "application/json",
        "logindex": change.index,
    }
    if isinstance(data.get("recorded_at"), str):
        event["time"] = data["recorded_at"]
    if isinstance(data.get("id"), str):
        event["subject"] = data["id"]
    event["data"] = dict(data)
    return event


def event_body(change: Change, tenant: str, source: str) -> bytes:
    return json.dumps(cloud_event(change, tenant, source), separators=(",", ":")).encode()
