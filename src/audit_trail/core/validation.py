"""Turns a client's decoded JSON into an ``EntryDraft``, or names every offending field."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from audit_trail.core.checks import ErrorCollector, is_unicode, text
from audit_trail.core.errors import ValidationFailed
from audit_trail.core.model import Actor, EntryDraft, Outcome, Target
from audit_trail.core.timestamps import parse_timestamp

ACTION_PATTERN = re.compile(r"[A-Za-z0-9_.:/-]{1,200}")
MAX_METADATA_BYTES = 16 * 1024
MAX_METADATA_DEPTH = 8
MAX_TAGS = 50
MAX_TAG_LENGTH = 100
MAX_NAME_LENGTH = 200
MAX_ID_LENGTH = 200
# JSON numbers are IEEE 754 doubles (RFC 8785): beyond 2**53 - 1 an integer loses digits,
# so a field digest over it could not be recomputed exactly by another client
SAFE_INTEGER_MIN, SAFE_INTEGER_MAX = -(2**53 - 1), 2**53 - 1

ENTRY_FIELDS = frozenset(
    {"action", "outcome", "actor", "target", "occurred_at", "tags", "metadata"}
)
ACTOR_FIELDS = frozenset({"id", "type", "name"})
TARGET_FIELDS = frozenset({"type", "id", "name"})

T = TypeVar("T")

_AS_SENT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # to size metadata


def validate_entry(payload: object) -> EntryDraft:
    """Validate an entry as sent (POST body, PUT body, one item of a batch).

    Raises ``ValidationFailed`` listing every offending field.
    """
    errors = ErrorCollector()
    if not isinstance(payload, Mapping):
        raise ValidationFailed.single("", "the entry must be a JSON object")
    _reject_unknown(errors, payload, ENTRY_FIELDS, prefix="")

    action = None
    if "action" not in payload:
        errors.add("action", "is required")
    else:
        action = errors.check("action", payload["action"], _action)
    outcome = errors.check("outcome", payload.get("outcome", "success"), _outcome)
    actor = _optional_object(errors, payload, "actor", ACTOR_FIELDS, _actor)
    target = _optional_object(errors, payload, "target", TARGET_FIELDS, _target)
    occurred_at = None
    if payload.get("occurred_at") is not None:
        occurred_at = errors.check("occurred_at", payload["occurred_at"], parse_timestamp)
    tags = _tags(errors, payload.get("tags"))
    metadata = _metadata(errors, payload.get("metadata"))

    errors.raise_if_any()
    assert action is not None
    assert outcome is not None
    return EntryDraft(
        action=action,
        outcome=outcome,
        actor=actor,
        target=target,
        occurred_at=occurred_at,
        tags=tags,
        metadata=metadata,
    )


def _reject_unknown(
    errors: ErrorCollector, obj: Mapping[Any, Any], allowed: frozenset[str], prefix: str
) -> None:
    for key in obj:
        if key not in allowed:
            errors.add(f"{prefix}{key}", "unknown field")


def _action(value: Any) -> str:
    if not isinstance(value, str) or not ACTION_PATTERN.fullmatch(value):
        raise ValueError("must be 1-200 characters of letters, digits and _ . : / -")
    return value


def _outcome(value: Any) -> Outcome:
    return Outcome.parse(value)


def _optional_object(
    errors: ErrorCollector,
    payload: Mapping[str, Any],
    name: str,
    allowed: frozenset[str],
    build: Callable[[ErrorCollector, Mapping[str, Any]], T | None],
) -> T | None:
    value = payload.get(name)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        errors.add(name, "must be a JSON object")
        return None
    _reject_unknown(errors, value, allowed, prefix=f"{name}.")
    return build(errors, value)


def _actor(errors: ErrorCollector, value: Mapping[str, Any]) -> Actor | None:
    actor_id = _required(errors, value, "id", "actor.")
    kind = errors.check("actor.type", value.get("type"), _optional_name)
    name = errors.check("actor.name", value.get("name"), _optional_name)
    return Actor(id=actor_id, type=kind, name=name) if actor_id else None


def _target(errors: ErrorCollector, value: Mapping[str, Any]) -> Target | None:
    kind = _required(errors, value, "type", "target.")
    target_id = _required(errors, value, "id", "target.")
    name = errors.check("target.name", value.get("name"), _optional_name)
    return Target(type=kind, id=target_id, name=name) if kind and target_id else None


def _required(errors: ErrorCollector, obj: Mapping[str, Any], key: str, prefix: str) -> str | None:
    """One error for an absent key, not two ("is required" and "must be a string")."""
    if key not in obj:
        errors.add(f"{prefix}{key}", "is required")
        return None
    return errors.check(f"{prefix}{key}", obj[key], identifier)


def identifier(value: Any) -> str:
    """An id or type (of an actor or target): 1-200 characters, no NUL."""
    return text(value, max_length=MAX_ID_LENGTH)


def _optional_name(value: Any) -> str | None:
    return None if value is None else text(value, max_length=MAX_NAME_LENGTH)


def _tags(errors: ErrorCollector, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        errors.add("tags", "must be a list of strings")
        return ()
    if len(value) > MAX_TAGS:
        errors.add("tags", f"must hold at most {MAX_TAGS} tags")
        return ()
    tags = [errors.check(f"tags[{i}]", tag, _tag) for i, tag in enumerate(value)]
    return tuple(tag for tag in tags if tag is not None)


def _tag(value: Any) -> str:
    return text(value, max_length=MAX_TAG_LENGTH)


def _metadata(errors: ErrorCollector, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        errors.add("metadata", "must be a JSON object")
        return {}
    before = len(errors.items)
    _check_json(errors, value, "metadata", depth=1)
    if len(errors.items) > before:
        return {}
    size = len(_AS_SENT.encode(value).encode())
    if size > MAX_METADATA_BYTES:
        errors.add("metadata", f"must be at most {MAX_METADATA_BYTES} bytes as JSON, not {size}")
        return {}
    return dict(value)


def check_processed_metadata(metadata: Mapping[str, Any]) -> None:
    """The metadata bound again, on what plugins made of the metadata (masking makes
    text longer): what is stored stays within it, not only what was sent."""
    size = len(_AS_SENT.encode(metadata).encode())
    if size > MAX_METADATA_BYTES:
        raise ValidationFailed.single(
            "metadata",
            f"must be at most {MAX_METADATA_BYTES} bytes as JSON once processed"
            f" (masked, enriched), not {size}",
        )


def _check_json(errors: ErrorCollector, value: Any, path: str, depth: int) -> None:
    # scalars first: most values are, and checking them against the ABCs is slow
    if isinstance(value, str):
        if not is_unicode(value):
            errors.add(path, "strings must be valid Unicode (no lone surrogates)")
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not SAFE_INTEGER_MIN <= value <= SAFE_INTEGER_MAX:
            errors.add(
                path,
                "integers must lie within ±(2**53 - 1), what JSON holds exactly; "
                "send larger ones as strings",
            )
    elif isinstance(value, float):
        if not math.isfinite(value):
            errors.add(path, "numbers must be finite")
        elif value.is_integer() and not SAFE_INTEGER_MIN <= value <= SAFE_INTEGER_MAX:
            # JSON Schema counts 1e19 as an integer: the schema's integer range holds
            errors.add(
                path,
                "integers must lie within ±(2**53 - 1), what JSON holds exactly; "
                "send larger ones as strings",
            )
    elif isinstance(value, Mapping):
        if depth > MAX_METADATA_DEPTH:
            errors.add(path, f"nests deeper than {MAX_METADATA_DEPTH} levels")
            return
        for key, item in value.items():
            if not isinstance(key, str):
                errors.add(path, "keys must be strings")
            elif problem := _key_problem(key):
                errors.add(f"{path}.{key}", problem)
            elif type(item) is not str or not item.isascii():  # ASCII text is fine as it is
                _check_json(errors, item, f"{path}.{key}", depth + 1)
    elif isinstance(value, list):
        if depth > MAX_METADATA_DEPTH:
            errors.add(path, f"nests deeper than {MAX_METADATA_DEPTH} levels")
            return
        for index, item in enumerate(value):
            if type(item) is not str or not item.isascii():
                _check_json(errors, item, f"{path}[{index}]", depth + 1)
    else:
        errors.add(path, "must be a JSON value")


def _key_problem(key: str) -> str | None:
    if not key:
        return "keys must not be empty"
    if key.startswith("$"):
        return "keys must not start with '$'"
    if "." in key:
        return "keys must not contain '.'"
    if "\x00" in key:
        return "keys must not contain NUL characters"
    if not is_unicode(key):
        return "keys must be valid Unicode (no lone surrogates)"
    return None
