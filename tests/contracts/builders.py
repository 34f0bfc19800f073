"""Entries for tests: ``make_entry(tenant="t1", **overrides)`` and small helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from audit_trail.adapters.ids import UlidIdFactory
from audit_trail.core.integrity.leaf import seal
from audit_trail.core.model import Actor, Entry, Outcome, Source, Target

BASE_TIME = datetime(2026, 11, 28, 9, 30, 0, 123_000, tzinfo=UTC)

_ids = UlidIdFactory()


def new_id() -> str:
    return _ids.new_id()


def moment(millis: int) -> datetime:
    """``BASE_TIME`` plus ``millis`` milliseconds."""
    return BASE_TIME + timedelta(milliseconds=millis)


def make_entry(tenant: str = "t1", **overrides: Any) -> Entry:
    """Revision 1 of a complete entry with a new id, sealed (ready for storage); any
    ``Entry`` field can be overridden."""
    fields: dict[str, Any] = {
        "id": new_id(),
        "tenant": tenant,
        "action": "document.update",
        "outcome": Outcome.SUCCESS,
        "actor": Actor(id="u-42", type="user", name="Ada"),
        "occurred_at": BASE_TIME,
        "recorded_at": BASE_TIME + timedelta(seconds=1),
        "target": Target(type="document", id="d-7", name="Q3 report"),
        "tags": ("ui",),
        "metadata": {"field": "title", "old": "a", "new": "b"},
        "source": Source(ip="127.0.0.1", user_agent="pytest"),
        "recorded_by": "u-recorder",
    }
    fields.update(overrides)
    return seal(Entry(**fields), prev=None)


def amended(entry: Entry, **changes: Any) -> Entry:
    """The revision after ``entry``, recorded a second later by ``u-admin``, with
    ``changes``, sealed after it."""
    assert entry.evidence is not None
    following = entry.next_revision(entry.recorded_at + timedelta(seconds=1), "u-admin", **changes)
    return seal(following, prev=entry.evidence.leaf_hash)


def tombstone(entry: Entry) -> Entry:
    """The deletion of ``entry``: its next revision, marked deleted."""
    return amended(entry, deleted=True)
