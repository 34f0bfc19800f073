"""Typed results, parsed from the JSON the service sends; each keeps it in ``raw``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from audit_trail.client.errors import UnexpectedResponse
from audit_trail.core.model import Actor, Outcome, Source, Target
from audit_trail.core.serialization import entry_from_json

__all__ = ["Actor", "Entry", "History", "LogKey", "Outcome", "Page", "Proof", "Source", "Target"]


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise UnexpectedResponse(f"{what} is not a JSON object")
    return value


@dataclass(frozen=True, slots=True)
class Entry:
    """One revision of an entry, as the service rendered it (``Actor``, ``Target``,
    ``Source`` and ``Outcome`` are the service's own types)."""

    id: str
    tenant: str
    revision: int
    action: str
    outcome: Outcome
    actor: Actor
    target: Target | None
    occurred_at: datetime
    recorded_at: datetime
    recorded_by: str
    tags: tuple[str, ...]
    metadata: Mapping[str, Any]
    source: Source
    deleted: bool = False
    erased: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Any) -> Entry:
        """The entry in ``data``, read by the service's own ``entry_from_json``."""
        body = _object(data, "an entry")
        try:
            parsed = entry_from_json(body)
        except (KeyError, TypeError, ValueError) as exc:
            raise UnexpectedResponse(f"an entry the client cannot read: {exc!r}") from None
        names = (f.name for f in fields(cls) if f.name != "raw")
        return cls(**{name: getattr(parsed, name) for name in names}, raw=dict(body))


def entries_of(data: Any, what: str = "a list of entries") -> tuple[Entry, ...]:
    """The entries of an answer ``{"items": [...], ...}``."""
    items = _object(data, what).get("items")
    if not isinstance(items, list):
        raise UnexpectedResponse(f"{what} without items")
    return tuple(Entry.from_json(item) for item in items)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a query; ``next_cursor`` is None on the last."""

    items: tuple[Entry, ...]
    next_cursor: str | None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Any) -> Page:
        items = entries_of(data, "a page")
        cursor = data.get("next_cursor")
        if not (cursor is None or isinstance(cursor, str)):
            raise UnexpectedResponse(f"a page with next_cursor {cursor!r}")
        return cls(items, cursor, dict(data))


@dataclass(frozen=True, slots=True)
class History:
    """Every revision of an entry, oldest first (a tombstone last, if deleted)."""

    entry_id: str
    revisions: tuple[Entry, ...]

    @property
    def current(self) -> Entry:
        return self.revisions[-1]


@dataclass(frozen=True, slots=True)
class LogKey:
    """The log's checkpoint signing key as served (``GET /log/key``)."""

    name: str
    public_key: str
    vkey: str
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Proof:
    """A revision with its inclusion proof and the signed checkpoint it is proven in.
    ``verified`` is True once the client checked it end to end against ``vkey``."""

    entry: Entry
    leaf_index: int
    tree_size: int
    leaf: Mapping[str, Any]
    salts: Mapping[str, str]
    inclusion: tuple[str, ...]
    checkpoint: str  # the C2SP signed note
    verified: bool = False
    vkey: str | None = None  # the key it was verified with
    root: bytes | None = None  # the verified checkpoint's root hash
    withheld: tuple[str, ...] = ()  # committed fields shown only as digests
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
