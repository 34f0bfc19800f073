"""The purge leaf: how the tenant log records a retention purge (docs/integrity.md).

``{"v":1, "kind":"purge", "tenant":T, "recorded_at":"…Z", "recorded_by":"system:retention",
"before":"…Z", "ids":[…entry ids, sorted, distinct…]}``, as RFC 8785 JSON: the entries
listed, whose current revision was recorded before ``before``, are purged from storage.
It is committed in the same group as the tombstones of those of them still live, so the
log never lists a purge without them; their earlier leaves stay in the log.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from audit_trail.core.integrity.canonical import canonical_json
from audit_trail.core.integrity.leaf import LEAF_VERSION
from audit_trail.core.integrity.merkle import ProofError, leaf_hash
from audit_trail.core.ports.log import LogRecord
from audit_trail.core.timestamps import format_timestamp, parse_timestamp

PURGE_KIND = "purge"
RETENTION_SUBJECT = "system:retention"
_FIELDS = frozenset({"v", "kind", "tenant", "recorded_at", "recorded_by", "before", "ids"})


@dataclass(frozen=True, slots=True)
class PurgeLeaf:
    tenant: str
    recorded_at: datetime
    before: datetime
    ids: tuple[str, ...]
    recorded_by: str = RETENTION_SUBJECT

    def as_json(self) -> dict[str, Any]:
        return {
            "v": LEAF_VERSION,
            "kind": PURGE_KIND,
            "tenant": self.tenant,
            "recorded_at": format_timestamp(self.recorded_at),
            "recorded_by": self.recorded_by,
            "before": format_timestamp(self.before),
            "ids": list(self.ids),
        }

    def record(self) -> LogRecord:
        leaf = canonical_json(self.as_json())
        return LogRecord(leaf=leaf, leaf_hash=leaf_hash(leaf))


def purge_leaf(
    tenant: str, recorded_at: datetime, before: datetime, ids: Collection[str]
) -> PurgeLeaf:
    return PurgeLeaf(tenant, recorded_at, before, tuple(sorted(set(ids))))


def is_purge_leaf(leaf: Mapping[str, Any]) -> bool:
    return leaf.get("kind") == PURGE_KIND


def parse_purge_leaf(leaf: Mapping[str, Any]) -> PurgeLeaf:
    """The purge a leaf object states; ``ProofError`` when it is not a well-formed one."""
    if set(leaf) != _FIELDS:
        raise ProofError(f"not a purge leaf: fields {sorted(leaf)}")
    if leaf["v"] != LEAF_VERSION or leaf["kind"] != PURGE_KIND:
        raise ProofError(f"not a purge leaf: v {leaf['v']!r}, kind {leaf['kind']!r}")
    ids = leaf["ids"]
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise ProofError("a purge leaf lists the ids of the entries it purges")
    if ids != sorted(set(ids)):
        raise ProofError("a purge leaf lists its ids sorted, each once")
    for name in ("tenant", "recorded_by", "recorded_at", "before"):
        if not isinstance(leaf[name], str) or not leaf[name]:
            raise ProofError(f"a purge leaf's {name} is a non-empty string")
    try:
        recorded_at = parse_timestamp(leaf["recorded_at"])
        before = parse_timestamp(leaf["before"])
    except ValueError as exc:
        raise ProofError(f"a purge leaf's times: {exc}") from None
    if before > recorded_at:
        raise ProofError("a purge leaf's before is not after its recorded_at")
    return PurgeLeaf(leaf["tenant"], recorded_at, before, tuple(ids), leaf["recorded_by"])
