"""What a caller sends: a new entry, and the filters of a query."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from audit_trail.client.models import Actor, Target


def _timestamp(value: datetime | str) -> str:
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise ValueError("a datetime sent to the service must carry a timezone")
    return value.isoformat()


@dataclass(frozen=True, slots=True)
class NewEntry:
    """An entry to record or the new content of an amendment. Unset fields are left
    to the service's defaults (actor: the token's subject, outcome: success, now)."""

    action: str
    outcome: str | None = None
    actor: Actor | None = None
    target: Target | None = None
    occurred_at: datetime | str | None = None
    tags: Sequence[str] | None = None
    metadata: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"action": self.action}
        if self.outcome is not None:
            body["outcome"] = self.outcome
        if self.actor is not None:
            body["actor"] = _members(self.actor.id, self.actor.type, self.actor.name, "id")
        if self.target is not None:
            body["target"] = _members(self.target.type, self.target.id, self.target.name)
        if self.occurred_at is not None:
            body["occurred_at"] = _timestamp(self.occurred_at)
        if self.tags is not None:
            body["tags"] = list(self.tags)
        if self.metadata is not None:
            body["metadata"] = dict(self.metadata)
        return body


def _members(first: str | None, second: str | None, name: str | None, order: str = "") -> Any:
    keys = ("id", "type") if order == "id" else ("type", "id")
    values = {keys[0]: first, keys[1]: second, "name": name}
    return {k: v for k, v in values.items() if v is not None}


EntryLike = NewEntry | Mapping[str, Any]


def entry_json(entry: EntryLike) -> dict[str, Any]:
    """The JSON body of ``entry``: a ``NewEntry``, or a mapping sent as it is."""
    return entry.to_json() if isinstance(entry, NewEntry) else dict(entry)


_TEXT_FILTERS = (
    *("actor_id", "actor_type", "action", "target_type", "target_id"),
    *("outcome", "tag", "sort"),
)


@dataclass(frozen=True, slots=True)
class EntryQuery:
    """The filters of ``GET /entries``. ``action`` is exact or a prefix ending in
    ``*``; ``since``/``until`` are inclusive bounds on occurred_at; ``limit`` is the
    page size (1-1000); ``extra``: parameters this client does not know by name."""

    actor_id: str | None = None
    actor_type: str | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    outcome: str | None = None
    tag: str | None = None
    since: datetime | str | None = None
    until: datetime | str | None = None
    sort: str | None = None
    limit: int | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    def params(self, cursor: str | None = None) -> dict[str, str]:
        params: dict[str, str] = {}
        for name in _TEXT_FILTERS:
            value = getattr(self, name)
            if value is not None:
                params[name] = value
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None:
                params[name] = _timestamp(value)
        if self.limit is not None:
            params["limit"] = str(self.limit)
        params.update(self.extra)
        if cursor is not None:
            params["cursor"] = cursor
        return params
