"""Legal holds: a filter over a tenant's entries that protects every entry it matches
from retention purges and erasure, until the hold is released.

A hold's filter takes the entry filters of ``GET /entries`` that identify entries:
``actor_id``, ``actor_type``, ``action`` (exact, or a prefix ending in ``*``),
``target_type``, ``target_id`` (or ``target: {"type", "id"}``, the same two),
``outcome``, ``tag``, and ``since``/``until`` (inclusive, on ``occurred_at``). An
entry is held when its **current** revision matches every field given; an amendment
that takes an entry out of a hold's filter releases it from that hold (an amendment
is itself an acknowledged change, in the log, by an admin).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from audit_trail.core.checks import ErrorCollector, text
from audit_trail.core.errors import ValidationFailed
from audit_trail.core.model import Entry, Outcome
from audit_trail.core.query import EntryFilters, action_filter
from audit_trail.core.timestamps import format_timestamp, parse_timestamp
from audit_trail.core.validation import identifier

T = TypeVar("T")

MAX_REASON_LENGTH = 1000
HOLD_FIELDS = frozenset({"filter", "reason"})
FILTER_FIELDS = (
    "actor_id",
    "actor_type",
    "action",
    "target",
    "target_type",
    "target_id",
    "outcome",
    "tag",
    "since",
    "until",
)


@dataclass(frozen=True, slots=True)
class HoldRequest:
    filters: EntryFilters
    reason: str


@dataclass(frozen=True, slots=True)
class Hold:
    id: str
    tenant: str
    filters: EntryFilters
    reason: str
    created_at: datetime
    created_by: str
    released_at: datetime | None = None
    released_by: str | None = None

    @property
    def active(self) -> bool:
        return self.released_at is None

    def holds(self, entry: Entry) -> bool:
        """Whether this hold protects ``entry`` (its current revision): active, same
        tenant, and every filter field matching."""
        return self.active and entry.tenant == self.tenant and self.filters.matches(entry)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "filter": filters_to_json(self.filters),
            "reason": self.reason,
            "status": "active" if self.active else "released",
            "created_at": format_timestamp(self.created_at),
            "created_by": self.created_by,
            "released_at": None if self.released_at is None else format_timestamp(self.released_at),
            "released_by": self.released_by,
        }


def filters_to_json(filters: EntryFilters) -> dict[str, str]:
    """The filter as the API shows it (and as storage keeps it): the flat names of the
    query parameters, ``action`` with its ``*`` when a prefix, times in UTC."""
    shown: dict[str, str] = {}
    for name in ("actor_id", "actor_type", "target_type", "target_id", "tag"):
        value = getattr(filters, name)
        if value is not None:
            shown[name] = value
    if filters.action is not None:
        shown["action"] = filters.action
    if filters.action_prefix is not None:
        shown["action"] = f"{filters.action_prefix}*"
    if filters.outcome is not None:
        shown["outcome"] = filters.outcome.value
    if filters.since is not None:
        shown["since"] = format_timestamp(filters.since)
    if filters.until is not None:
        shown["until"] = format_timestamp(filters.until)
    return shown


def parse_filter(raw: object, *, path: str = "filter") -> EntryFilters:
    """A hold's filter from its JSON object; ``ValidationFailed`` naming each bad field
    (under ``path``). At least one field must be given: a hold on everything is a
    decision to stop retention, which ``PUT /tenant/retention {"days": null}`` says."""
    errors = ErrorCollector()
    if not isinstance(raw, Mapping):
        raise ValidationFailed.single(path, "must be an object of entry filters")
    for name in raw:
        if name not in FILTER_FIELDS:
            errors.add(f"{path}.{name}", f"unknown filter; use {', '.join(FILTER_FIELDS)}")

    def value(name: str, parse: Callable[[Any], T]) -> T | None:
        if name not in raw:
            return None
        return errors.check(f"{path}.{name}", raw[name], parse)

    target_type, target_id = value("target_type", identifier), value("target_id", identifier)
    if "target" in raw:
        if "target_type" in raw or "target_id" in raw:
            errors.add(f"{path}.target", "give target, or target_type and target_id, not both")
        target = raw["target"]
        if not isinstance(target, Mapping) or not target or set(target) - {"type", "id"}:
            errors.add(f"{path}.target", 'must be an object with "type" and/or "id"')
        else:
            if "type" in target:
                target_type = errors.check(f"{path}.target.type", target["type"], identifier)
            if "id" in target:
                target_id = errors.check(f"{path}.target.id", target["id"], identifier)
    exact, prefix = value("action", action_filter) or (None, None)
    filters = EntryFilters(
        actor_id=value("actor_id", identifier),
        actor_type=value("actor_type", identifier),
        action=exact,
        action_prefix=prefix,
        target_type=target_type,
        target_id=target_id,
        outcome=value("outcome", Outcome.parse),
        tag=value("tag", identifier),
        since=value("since", _timestamp),
        until=value("until", _timestamp),
    )
    if filters.since and filters.until and filters.since > filters.until:
        errors.add(f"{path}.until", "must not be before since")
    if not raw:
        errors.add(path, "must name at least one of " + ", ".join(FILTER_FIELDS))
    errors.raise_if_any()
    return filters


def parse_hold_body(body: object) -> HoldRequest:
    """``POST /holds``: ``{"filter": {...}, "reason": "..."}``, both required."""
    if not isinstance(body, Mapping):
        raise ValidationFailed.single("", "the body must be a JSON object")
    errors = ErrorCollector()
    for name in body:
        if name not in HOLD_FIELDS:
            errors.add(str(name), "unknown field")
    filters: EntryFilters | None = None
    if "filter" not in body:
        errors.add("filter", "required: the entry filters the hold protects")
    else:
        try:
            filters = parse_filter(body["filter"])
        except ValidationFailed as exc:
            for error in exc.errors:
                errors.add(error.field, error.message)
    reason: str | None = None
    if "reason" not in body:
        errors.add("reason", "required: why the entries are held")
    else:
        reason = errors.check("reason", body["reason"], _reason)
    errors.raise_if_any()
    assert filters is not None
    assert reason is not None
    return HoldRequest(filters, reason)


def _reason(value: Any) -> str:
    reason = text(value, max_length=MAX_REASON_LENGTH)
    if not reason.strip():
        raise ValueError("must not be blank")
    return reason


def _timestamp(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 timestamp with a timezone")
    return parse_timestamp(value)
