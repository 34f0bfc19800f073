"""The audit entry: who did what to which resource, when, with what outcome."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeAlias, cast

JsonValue: TypeAlias = Any
"""A value that ``json.dumps`` accepts: None, bool, int, float, str, list, dict."""


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"
    ERROR = "error"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, raw: object) -> Outcome:
        """The outcome named ``raw``; ``ValueError`` with the choices otherwise."""
        member = cls._value2member_map_.get(raw) if isinstance(raw, str) else None
        if member is not None:
            return cast(Outcome, member)
        raise ValueError("must be one of " + ", ".join(o.value for o in cls))


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acted. ``id`` is required; ``type`` (user, service, ...) and ``name`` are not."""

    id: str
    type: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """What was acted on."""

    type: str
    id: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Source:
    """Where the request came from, as the server saw it."""

    ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class EntryDraft:
    """An entry as a client sends it, after validation: no server-assigned fields yet."""

    action: str
    outcome: Outcome = Outcome.SUCCESS
    actor: Actor | None = None
    target: Target | None = None
    occurred_at: datetime | None = None
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, JsonValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Evidence:
    """What commits one revision to its tenant's log (DESIGN.md, "Integrity").

    ``salts`` holds the 16-byte salt of each committed field path; ``prev`` is the leaf
    hash of the previous revision (None for revision 1); ``leaf_hash`` is this
    revision's own leaf hash, from which the next revision's ``prev`` is taken.
    ``erased`` holds the field digest of each path whose value and salt were erased
    (docs/lifecycle.md, "Erasure"): the leaf still commits it, nothing can show it."""

    salts: Mapping[str, bytes]
    prev: bytes | None
    leaf_hash: bytes
    erased: Mapping[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Entry:
    """One revision of a recorded entry.

    ``revision`` starts at 1; an amendment stores revision n+1 under the same ``id`` and
    keeps the earlier ones; a deletion stores a tombstone revision (``deleted=True``).
    ``recorded_at`` is when this revision was stored and ``recorded_by`` the subject of
    the token that made it. Times are UTC, to the millisecond. ``evidence`` binds the
    revision to its leaf in the tenant log; storage refuses a revision without it.
    ``erased`` names, sorted, the committed paths of this revision whose values were
    erased: they are absent (``tags`` is empty), and the leaf keeps their digests.
    """

    id: str
    tenant: str
    action: str
    outcome: Outcome
    actor: Actor
    occurred_at: datetime
    recorded_at: datetime
    revision: int = 1
    target: Target | None = None
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, JsonValue] = field(default_factory=dict)
    source: Source = Source()
    deleted: bool = False
    recorded_by: str = ""
    erased: tuple[str, ...] = ()
    evidence: Evidence | None = field(default=None, compare=False, repr=False)

    def next_revision(self, recorded_at: datetime, recorded_by: str, **changes: Any) -> Entry:
        """The revision that follows this one, with ``changes`` applied, not yet sealed."""
        return replace(
            self,
            revision=self.revision + 1,
            recorded_at=recorded_at,
            recorded_by=recorded_by,
            erased=(),
            evidence=None,
            **changes,
        )
