"""The query spec of GET /entries: whitelisted filters, sort, limit, and a canonical form.

Query values are data, never operators: a spec holds only typed values that the
adapters bind as parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from audit_trail.core.checks import ErrorCollector
from audit_trail.core.model import Entry, Outcome
from audit_trail.core.timestamps import format_timestamp, parse_timestamp
from audit_trail.core.validation import ACTION_PATTERN, identifier

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
MAX_CURSOR_LENGTH = 512


class SortOrder(StrEnum):
    NEWEST_FIRST = "-occurred_at"
    OLDEST_FIRST = "occurred_at"

    @classmethod
    def parse(cls, raw: str) -> SortOrder:
        try:
            return cls(raw)
        except ValueError:
            raise ValueError("must be -occurred_at or occurred_at") from None


@dataclass(frozen=True, slots=True)
class EntryFilters:
    """Every filter is optional; those given must all match.

    ``action`` matches exactly; ``action_prefix`` matches actions that start with it.
    ``tag`` matches entries carrying that tag. ``since``/``until`` bound ``occurred_at``,
    both inclusive.
    """

    actor_id: str | None = None
    actor_type: str | None = None
    action: str | None = None
    action_prefix: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    outcome: Outcome | None = None
    tag: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, entry: Entry) -> bool:
        """Whether ``entry`` passes every filter given (the reference for adapters that
        filter in Python, and for verifiers checking a proven set)."""
        target = entry.target
        checks = (
            self.actor_id is None or entry.actor.id == self.actor_id,
            self.actor_type is None or entry.actor.type == self.actor_type,
            self.action is None or entry.action == self.action,
            self.action_prefix is None or entry.action.startswith(self.action_prefix),
            self.target_type is None or (target is not None and target.type == self.target_type),
            self.target_id is None or (target is not None and target.id == self.target_id),
            self.outcome is None or entry.outcome == self.outcome,
            self.tag is None or self.tag in entry.tags,
            self.since is None or entry.occurred_at >= self.since,
            self.until is None or entry.occurred_at <= self.until,
        )
        return all(checks)


_FILTER_NAMES = tuple(spec_field.name for spec_field in fields(EntryFilters))


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """Where a page ended: the (occurred_at, id) of its last entry."""

    occurred_at: datetime
    id: str


@dataclass(frozen=True, slots=True)
class QuerySpec:
    """A validated query: what to match, in which order, how many, and after where."""

    filters: EntryFilters = EntryFilters()
    sort: SortOrder = SortOrder.NEWEST_FIRST
    limit: int = DEFAULT_LIMIT
    after: Position | None = None
    evidence: bool = False  # the caller needs each entry's evidence (an export)


@dataclass(frozen=True, slots=True)
class QueryRequest:
    """A query as the client asked for it, before its cursor is opened."""

    filters: EntryFilters = EntryFilters()
    sort: SortOrder = SortOrder.NEWEST_FIRST
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None
    proof: bool = False  # answer with what proves the result complete (query proofs)
    _canonical: str = field(init=False, repr=False, compare=False)
    _scope: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # formed once: a request is shared by every read of its query string
        canonical = canonical_form(self.filters, self.sort, self.limit, self.cursor)
        if self.proof:
            canonical += "&proof=1"
        object.__setattr__(self, "_canonical", canonical)
        object.__setattr__(self, "_scope", canonical_form(self.filters, self.sort, None, None))

    def canonical(self) -> str:
        """One string per distinct query: equal queries written differently agree."""
        return self._canonical

    def scope(self) -> str:
        """What a cursor is bound to: the filters and the sort, not the page size."""
        return self._scope


QUERY_PARAMETERS = frozenset(
    {
        "actor_id",
        "actor_type",
        "action",
        "target_type",
        "target_id",
        "outcome",
        "tag",
        "since",
        "until",
        "sort",
        "limit",
        "cursor",
        "proof",
    }
)


def parse_query(params: Mapping[str, Sequence[str]]) -> QueryRequest:
    """Validate query-string parameters (each name mapped to all its values).

    Unknown names, repeated names and bad values are collected into one ``ValidationFailed``.
    """
    errors = ErrorCollector()
    values: dict[str, str] = {}
    for name, given in params.items():
        if name not in QUERY_PARAMETERS:
            errors.add(name, "unknown query parameter")
        elif len(given) != 1:
            errors.add(name, "must be given once")
        else:
            values[name] = given[0]

    def value(name: str, parse: Callable[[str], T]) -> T | None:
        return None if name not in values else errors.check(name, values[name], parse)

    exact, prefix = value("action", action_filter) or (None, None)
    filters = EntryFilters(
        actor_id=value("actor_id", identifier),
        actor_type=value("actor_type", identifier),
        action=exact,
        action_prefix=prefix,
        target_type=value("target_type", identifier),
        target_id=value("target_id", identifier),
        outcome=value("outcome", Outcome.parse),
        tag=value("tag", identifier),
        since=value("since", parse_timestamp),
        until=value("until", parse_timestamp),
    )
    if filters.since and filters.until and filters.since > filters.until:
        errors.add("until", "must not be before since")
    sort = value("sort", SortOrder.parse) or SortOrder.NEWEST_FIRST
    limit = value("limit", _limit) or DEFAULT_LIMIT
    cursor = value("cursor", _cursor_text)
    proof = value("proof", _flag) or False
    errors.raise_if_any()
    return QueryRequest(filters, sort, limit, cursor, proof)


def canonical_form(
    filters: EntryFilters, sort: SortOrder, limit: int | None, cursor: str | None
) -> str:
    """``name=value`` pairs of the set parameters, sorted by name, joined by ``&``.

    Values are normalised (times as UTC milliseconds, a prefix with its ``*``), and
    ``%``, ``&`` and ``=`` inside values are escaped, so the form is unambiguous.
    """
    pairs: dict[str, str] = {"sort": sort.value}
    if limit is not None:
        pairs["limit"] = str(limit)
    if cursor is not None:
        pairs["cursor"] = cursor
    for name in _FILTER_NAMES:
        value = getattr(filters, name)
        if value is None:
            continue
        if name == "action_prefix":
            pairs["action"] = f"{value}*"
        elif isinstance(value, datetime):
            pairs[name] = format_timestamp(value)
        else:
            pairs[name] = str(value)
    return "&".join(f"{name}={_escape(pairs[name])}" for name in sorted(pairs))


def _escape(value: str) -> str:
    return value.replace("%", "%25").replace("&", "%26").replace("=", "%3D")


def action_filter(raw: object) -> tuple[str | None, str | None]:
    """(exact, prefix): ``a.b`` matches exactly, ``a.*`` matches actions starting ``a.``
    (a query parameter, or a hold's or a subscription's filter)."""
    if not isinstance(raw, str):
        raise ValueError("must be an action, or an action prefix ending in '*'")
    if ACTION_PATTERN.fullmatch(raw):
        return raw, None
    if raw.endswith("*") and ACTION_PATTERN.fullmatch(raw[:-1]):
        return None, raw[:-1]
    raise ValueError("must be an action, or an action prefix ending in '*'")


def _limit(raw: str) -> int:
    # the length check first: int() of thousands of digits fails with its own message
    if not raw.isascii() or not raw.isdigit() or len(raw.lstrip("0")) > 4:
        raise ValueError(f"must be an integer from 1 to {MAX_LIMIT}")
    if not 1 <= int(raw) <= MAX_LIMIT:
        raise ValueError(f"must be an integer from 1 to {MAX_LIMIT}")
    return int(raw)


def _flag(raw: str) -> bool:
    if raw not in ("0", "1", "true", "false"):
        raise ValueError("must be 1, true, 0 or false")
    return raw in ("1", "true")


def _cursor_text(raw: str) -> str:
    if not raw or len(raw) > MAX_CURSOR_LENGTH:
        raise ValueError("is not a valid cursor")
    return raw
