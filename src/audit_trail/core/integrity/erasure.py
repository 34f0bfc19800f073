"""Erasure: a field's value and salt removed from a revision, its digest kept.

A revision's leaf commits each field by its salted digest (``fields.py``), so the value
and the salt can go while the digest stays: the leaf still verifies, and nothing
(storage, the log, a proof) can show the value again. The erasure itself is one leaf
of the log, the RFC 8785 JSON of::

    {"v":1, "kind":"erase", "tenant":T, "id":ID, "revisions":[1, 2],
     "fields":["actor.name", "metadata.email"], "reason":"…",
     "recorded_at":"…Z", "recorded_by":<the token subject that erased>}

``revisions`` are those that held at least one of ``fields``; never a value.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from audit_trail.core.integrity.canonical import canonical_json
from audit_trail.core.integrity.fields import committed_fields, field_digest
from audit_trail.core.integrity.leaf import LEAF_VERSION
from audit_trail.core.integrity.merkle import leaf_hash
from audit_trail.core.model import Entry, Evidence, Source
from audit_trail.core.ports.log import LogRecord
from audit_trail.core.timestamps import format_timestamp

ERASE_KIND = "erase"

ERASABLE = frozenset(
    {"actor.type", "actor.name", "target.name", "source.ip", "source.user_agent", "tags"}
)
"""The paths that may be erased, besides every ``metadata.<key>``."""

KEPT = {
    "action": "is required",
    "actor.id": "is required",
    "outcome": "is required",
    "occurred_at": "is required",
    "target.type": "files the entry in the query index",
    "target.id": "files the entry in the query index",
}
"""The committed paths that cannot be erased, and why."""

_METADATA = re.compile(r"metadata\.(?P<key>.+)", re.DOTALL)


def path_problem(path: object) -> str | None:
    """Why ``path`` cannot be erased, or None when it can."""
    if not isinstance(path, str):
        return "must be a string"
    if path in KEPT:
        return f"{path} {KEPT[path]} and cannot be erased"
    if path in ERASABLE or _METADATA.fullmatch(path):
        return None
    return f"unknown field {path!r}: one of {', '.join(sorted(ERASABLE))} or metadata.<key>"


def erased_revision(revision: Entry, paths: Collection[str]) -> Entry | None:
    """``revision`` without the values and salts of those of ``paths`` it holds, their
    digests kept in its evidence; None when it holds none of them."""
    evidence = revision.evidence
    if evidence is None:
        raise ValueError(f"revision {revision.revision} of {revision.id!r} is not sealed")
    committed = committed_fields(revision)
    held = [path for path in paths if path in committed]
    if not held:
        return None
    digests = dict(evidence.erased)
    for path in held:
        digests[path] = field_digest(path, evidence.salts[path], committed[path])
    salts = {path: salt for path, salt in evidence.salts.items() if path not in digests}
    return replace(
        _without_values(revision, held),
        erased=tuple(sorted(digests)),
        evidence=Evidence(
            salts=salts, prev=evidence.prev, leaf_hash=evidence.leaf_hash, erased=digests
        ),
    )


def _without_values(revision: Entry, paths: Iterable[str]) -> Entry:
    changes: dict[str, Any] = {}
    actor, target, source = revision.actor, revision.target, revision.source
    metadata = dict(revision.metadata)
    for path in paths:
        if path == "actor.type":
            actor = replace(actor, type=None)
        elif path == "actor.name":
            actor = replace(actor, name=None)
        elif path == "target.name" and target is not None:
            target = replace(target, name=None)
        elif path == "source.ip":
            source = replace(source, ip=None)
        elif path == "source.user_agent":
            source = replace(source, user_agent=None)
        elif path == "tags":
            changes["tags"] = ()
        else:
            metadata.pop(path.removeprefix("metadata."), None)
    return replace(
        revision,
        actor=actor,
        target=target,
        source=Source(ip=source.ip, user_agent=source.user_agent),
        metadata=metadata,
        **changes,
    )


def erasure_record(
    *,
    tenant: str,
    entry_id: str,
    revisions: Sequence[int],
    fields: Sequence[str],
    reason: str,
    recorded_at: datetime,
    recorded_by: str,
) -> LogRecord:
    """The log record of one erasure (a leaf that commits no revision)."""
    leaf = canonical_json(
        {
            "v": LEAF_VERSION,
            "kind": ERASE_KIND,
            "tenant": tenant,
            "id": entry_id,
            "revisions": sorted(revisions),
            "fields": sorted(fields),
            "reason": reason,
            "recorded_at": format_timestamp(recorded_at),
            "recorded_by": recorded_by,
        }
    )
    return LogRecord(leaf=leaf, leaf_hash=leaf_hash(leaf))


ERASE_LEAF_MEMBERS = frozenset(
    {"v", "kind", "tenant", "id", "revisions", "fields", "reason", "recorded_at", "recorded_by"}
)


def erase_leaf_problem(leaf: Mapping[str, Any]) -> str | None:
    """What is wrong with the shape of an erase leaf, or None."""
    if set(leaf) != ERASE_LEAF_MEMBERS:
        return f"is an erase leaf with members {sorted(leaf)}"
    revisions, fields = leaf["revisions"], leaf["fields"]
    if not isinstance(leaf["id"], str) or not isinstance(leaf["reason"], str):
        return "is an erase leaf without an entry id or reason"
    if not isinstance(revisions, list) or not all(type(r) is int and r > 0 for r in revisions):
        return "is an erase leaf whose revisions are not positive integers"
    if not isinstance(fields, list) or not fields or any(path_problem(p) for p in fields):
        return "is an erase leaf whose fields are not erasable paths"
    return None
