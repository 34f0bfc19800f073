"""A webhook subscription: where a tenant's changes go, which of them, and how far
delivery has got (the durable cursor: the last log index handled)."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from audit_trail.core.checks import ErrorCollector, text
from audit_trail.core.errors import ValidationFailed
from audit_trail.core.holds import filters_to_json, parse_filter
from audit_trail.core.query import EntryFilters
from audit_trail.core.timestamps import format_timestamp

MAX_URL_LENGTH = 2048
MAX_DESCRIPTION_LENGTH = 1000
SUBSCRIPTION_FIELDS = frozenset({"url", "filter", "description"})
ACTIVE, DEAD = "active", "dead"
SECRET_PREFIX = "whsec_"  # noqa: S105 - the format, not a secret


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    url: str
    filters: EntryFilters
    description: str


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    tenant: str
    url: str
    filters: EntryFilters
    description: str
    secret: str  # whsec_ + base64 of 32 random bytes; shown once, kept to sign
    created_at: datetime
    created_by: str
    cursor: int  # the last log index handled (delivered, or not matching the filter)
    state: str = ACTIVE
    failures: int = 0  # consecutive
    last_error: str | None = None
    next_attempt_at: datetime | None = None  # None: at once

    def as_json(self, *, with_secret: bool = False) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "id": self.id,
            "url": self.url,
            "filter": filters_to_json(self.filters),
            "description": self.description,
            "state": self.state,
            "cursor": self.cursor,
            "failures": self.failures,
            "last_error": self.last_error,
            "next_attempt_at": _moment(self.next_attempt_at),
            "created_at": format_timestamp(self.created_at),
            "created_by": self.created_by,
        }
        if with_secret:
            shown["secret"] = self.secret
        return shown


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One request to a receiver, as the delivery log shows it."""

    at: datetime
    index: int  # the change's log index
    webhook_id: str
    status: int | None  # the receiver's HTTP status; None when no answer came
    error: str | None  # why it failed (None after a 2xx)
    duration_ms: float

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_json(self) -> dict[str, Any]:
        return {
            "at": format_timestamp(self.at),
            "log_index": self.index,
            "webhook_id": self.webhook_id,
            "status": self.status,
            "error": self.error,
            "duration_ms": round(self.duration_ms, 1),
        }


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def parse_webhook_body(body: object) -> WebhookRequest:
    """``POST /webhooks``: ``{"url": ..., "filter": {...}, "description": ...}``; only
    ``url`` is required. The filter takes the fields of a legal hold's (an empty or
    absent filter: every change)."""
    if not isinstance(body, Mapping):
        raise ValidationFailed.single("", "the body must be a JSON object")
    errors = ErrorCollector()
    for name in body:
        if name not in SUBSCRIPTION_FIELDS:
            errors.add(str(name), "unknown field")
    url: str | None = None
    if "url" not in body:
        errors.add("url", "required: the receiver's absolute http(s) URL")
    else:
        url = errors.check("url", body["url"], webhook_url)
    filters = EntryFilters()
    raw_filter = body.get("filter")
    if raw_filter is not None and raw_filter != {}:
        try:
            filters = parse_filter(raw_filter)
        except ValidationFailed as exc:
            for error in exc.errors:
                errors.add(error.field, error.message)
    description = ""
    if body.get("description") not in (None, ""):
        description = errors.check("description", body["description"], _description) or ""
    errors.raise_if_any()
    assert url is not None
    return WebhookRequest(url, filters, description)


def webhook_url(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("must be an absolute http(s) URL")
    if len(value) > MAX_URL_LENGTH:
        raise ValueError(f"must be at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValueError("must be an absolute http(s) URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials")
    if parts.fragment or any(ord(c) <= 32 or ord(c) == 127 for c in value):
        raise ValueError("must be an absolute http(s) URL without a fragment or spaces")
    return value


def _description(value: Any) -> str:
    return text(value, max_length=MAX_DESCRIPTION_LENGTH)


def _moment(value: datetime | None) -> str | None:
    return None if value is None else format_timestamp(value)
