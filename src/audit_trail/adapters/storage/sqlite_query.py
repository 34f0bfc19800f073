"""A QuerySpec as one parameterised SQLite SELECT over the live-entry indexes.

Every value is bound as a parameter; the SQL text depends only on which filters are
set. An action prefix is a range (``action >= p AND action < next(p)``), so ``%``
and ``_`` in it are plain characters and the action index serves it.
"""

from __future__ import annotations

from typing import Any

from audit_trail.adapters.storage.sqlite_schema import COLUMNS
from audit_trail.core.query import QuerySpec, SortOrder
from audit_trail.core.timestamps import to_epoch_millis

_SELECTED = ", ".join(f"r.{column}" for column in COLUMNS)
_EXACT_FILTERS = ("actor_id", "actor_type", "action", "target_type", "target_id")
_MAX_CODE_POINT = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)


def build_query(tenant: str, spec: QuerySpec) -> tuple[str, list[Any]]:
    """The SELECT for one page of ``spec``, fetching one row more than ``spec.limit``
    so the caller learns whether more follow. Columns are ``COLUMNS``, in order."""
    filters = spec.filters
    params: list[Any] = [tenant]
    if filters.tag is None:
        # k: the alias whose (occurred_at, id) the ORDER BY and the keyset use
        source, key = "revisions AS r", "r"
        where = ["r.tenant = ?", "r.live = 1"]
    else:
        source, key = (
            "entry_tags AS t JOIN revisions AS r"
            " ON r.tenant = t.tenant AND r.id = t.id AND r.live = 1",
            "t",
        )
        where = ["t.tenant = ?", "t.tag = ?"]
        params.append(filters.tag)
    for name in _EXACT_FILTERS:
        value = getattr(filters, name)
        if value is not None:
            where.append(f"r.{name} = ?")
            params.append(value)
    if filters.outcome is not None:
        where.append("r.outcome = ?")
        params.append(filters.outcome.value)
    if filters.action_prefix is not None:
        where.append("r.action >= ?")
        params.append(filters.action_prefix)
        upper = prefix_upper_bound(filters.action_prefix)
        if upper is not None:
            where.append("r.action < ?")
            params.append(upper)
    if filters.since is not None:
        where.append(f"{key}.occurred_at >= ?")
        params.append(to_epoch_millis(filters.since))
    if filters.until is not None:
        where.append(f"{key}.occurred_at <= ?")
        params.append(to_epoch_millis(filters.until))
    newest_first = spec.sort is SortOrder.NEWEST_FIRST
    if spec.after is not None:
        where.append(f"({key}.occurred_at, {key}.id) {'<' if newest_first else '>'} (?, ?)")
        params.extend([to_epoch_millis(spec.after.occurred_at), spec.after.id])
    direction = "DESC" if newest_first else "ASC"
    sql = (  # only constant SQL fragments; every value is a bound parameter
        f"SELECT {_SELECTED} FROM {source} WHERE {' AND '.join(where)}"  # noqa: S608
        f" ORDER BY {key}.occurred_at {direction}, {key}.id {direction} LIMIT ?"
    )
    params.append(spec.limit + 1)
    return sql, params


def prefix_upper_bound(prefix: str) -> str | None:
    """The least string above every string that starts with ``prefix`` (in code point
    order, which is SQLite's byte order for UTF-8 text); None when there is none."""
    chars = list(prefix)
    while chars:
        following = ord(chars.pop()) + 1
        if following in _SURROGATES:  # not encodable as UTF-8: skip the whole block
            following = _SURROGATES.stop
        if following <= _MAX_CODE_POINT:
            return "".join(chars) + chr(following)
    return None
