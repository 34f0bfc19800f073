"""The merge rules of ``audit_enrich_entry`` results (see its contract in hookspecs)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from audit_trail.core.checks import text
from audit_trail.core.errors import ValidationFailed
from audit_trail.core.model import Entry
from audit_trail.core.validation import MAX_NAME_LENGTH, MAX_TAG_LENGTH, validate_entry

MAX_SOURCE_LENGTH = 512

SERVER_FIELDS = frozenset({"id", "tenant", "revision", "recorded_at"})
MERGEABLE = {
    "tags": None,
    "metadata": None,
    "source": frozenset({"ip", "user_agent"}),
    "actor": frozenset({"type", "name"}),
}


def check_enrichment(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a well-formed enrichment; ``ValueError`` saying why not."""
    if not isinstance(value, Mapping):
        raise ValueError(f"returned {type(value).__name__}, not a mapping of fields")
    for key, item in value.items():
        if key in SERVER_FIELDS:
            raise ValueError(f"may not change the server-assigned field {key!r}")
        if key not in MERGEABLE:
            raise ValueError(f"returned {key!r}, which enrichment cannot set")
        allowed = MERGEABLE[key]
        if allowed is not None:
            _check_object(key, item, allowed)
    if "tags" in value:
        _check_tags(value["tags"])
    if "metadata" in value:
        _check_metadata(value["metadata"])
    return value


def _check_object(key: str, value: Any, allowed: frozenset[str]) -> None:
    if not isinstance(value, Mapping):
        raise ValueError(f"{key} must be a mapping")
    for field, item in value.items():
        if field not in allowed:
            raise ValueError(f"may not set {key}.{field}")
        if item is not None:
            limit = MAX_SOURCE_LENGTH if key == "source" else MAX_NAME_LENGTH
            try:
                text(item, max_length=limit)
            except ValueError as exc:
                raise ValueError(f"{key}.{field} {exc}") from None


def _check_tags(tags: Any) -> None:
    if isinstance(tags, str | bytes) or not isinstance(tags, Sequence):
        raise ValueError("tags must be a list of strings")
    for tag in tags:
        try:
            text(tag, max_length=MAX_TAG_LENGTH)
        except ValueError as exc:
            raise ValueError(f"tags: each tag {exc}") from None


def _check_metadata(metadata: Any) -> None:
    """The same rules as metadata sent by a client (keys, depth, JSON types, size)."""
    if not isinstance(metadata, Mapping):
        raise ValueError("metadata must be a mapping")
    try:
        validate_entry({"action": "enrichment", "metadata": metadata})
    except ValidationFailed as exc:
        raise ValueError(f"metadata is not valid entry metadata: {exc}") from None


def apply_enrichments(entry: Entry, enrichments: Iterable[Mapping[str, Any]]) -> Entry:
    """``entry`` with every enrichment merged, in order."""
    for enrichment in enrichments:
        entry = _apply(entry, enrichment)
    return entry


def _apply(entry: Entry, enrichment: Mapping[str, Any]) -> Entry:
    changes: dict[str, Any] = {}
    if "tags" in enrichment:
        changes["tags"] = tuple(dict.fromkeys((*entry.tags, *enrichment["tags"])))
    if "metadata" in enrichment:
        changes["metadata"] = deep_merge(entry.metadata, enrichment["metadata"])
    if "source" in enrichment:
        changes["source"] = replace(entry.source, **_set(enrichment["source"]))
    if "actor" in enrichment:
        changes["actor"] = replace(entry.actor, **_set(enrichment["actor"]))
    return replace(entry, **changes) if changes else entry


def _set(values: Mapping[str, Any]) -> dict[str, Any]:
    return {field: value for field, value in values.items() if value is not None}


def deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` merged in: mappings key by key, anything else replaced.
    Neither argument is changed."""
    merged = dict(base)
    for key, value in extra.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged
