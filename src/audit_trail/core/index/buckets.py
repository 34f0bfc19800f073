"""Which buckets prove a query: the plan a server proves and a verifier expects.

A query is proven through one of its filters: ``actor_id``, else ``target_type`` with
``target_id``, else ``action``, else its time range alone. With ``since`` and
``until`` (both inclusive) the buckets are those of the range, as long as there are at
most ``MAX_BUCKETS``; otherwise the filter's all-time bucket. A bare time range needs
both bounds and at most ``MAX_BUCKETS`` hours. Every other filter is checked by the
verifier on the proven entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from audit_trail.core.errors import ValidationFailed
from audit_trail.core.index.keys import (
    ALL_TIME,
    IndexKey,
    IndexKind,
    buckets_between,
    target_value,
)
from audit_trail.core.query import EntryFilters

MAX_BUCKETS = 64
PROVABLE = (
    "proof=1 proves a query through actor_id, target_type with target_id, action "
    f"(exact), or a time range alone (since and until, over at most {MAX_BUCKETS} UTC hours); "
    "other filters are checked on the proven entries"
)


@dataclass(frozen=True, slots=True)
class ProofPlan:
    kind: IndexKind
    value: str
    keys: tuple[IndexKey, ...]


def proof_plan(filters: EntryFilters) -> ProofPlan:
    """The buckets that prove a query with ``filters``; ``ValidationFailed`` (a 422)
    saying which filters can be proven when none of them can."""
    if filters.actor_id is not None:
        kind, value = IndexKind.ACTOR, filters.actor_id
    elif filters.target_type is not None and filters.target_id is not None:
        kind, value = IndexKind.TARGET, target_value(filters.target_type, filters.target_id)
    elif filters.action is not None:
        kind, value = IndexKind.ACTION, filters.action
    else:
        kind, value = IndexKind.TIME, ""
    buckets: list[str] = []
    if filters.since is not None and filters.until is not None:
        end = filters.until + timedelta(milliseconds=1)  # until is inclusive
        for bucket in buckets_between(kind, filters.since, end):
            buckets.append(bucket)
            if len(buckets) > MAX_BUCKETS:
                break
    if not buckets or len(buckets) > MAX_BUCKETS:
        if kind is IndexKind.TIME:
            raise ValidationFailed.single("proof", PROVABLE)
        buckets = [ALL_TIME]
    return ProofPlan(kind, value, tuple(IndexKey(kind, value, b) for b in buckets))
