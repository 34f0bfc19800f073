"""Field commitments: each field of a revision committed on its own, with a salt.

A committed field is a path (``actor.id``, ``metadata.<key>``...) and its value as
the API renders it. Its digest is
``SHA-256("audit-trail:field:v1" ‖ 0x00 ‖ path ‖ 0x00 ‖ salt ‖ JCS(value))``, so a
field can later be erased or hidden while the leaf that holds its digest still
verifies, and a salted digest of a short value (an e-mail, a name) cannot be
brute-forced.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

from audit_trail.core.integrity.canonical import canonical_json
from audit_trail.core.model import Entry
from audit_trail.core.timestamps import format_timestamp

FIELD_DOMAIN = b"audit-trail:field:v1"
SALT_BYTES = 16


def committed_fields(entry: Entry) -> dict[str, Any]:
    """Every committed path of ``entry`` and its value as the API renders it; an
    absent field has no path, nor has an erased one."""
    fields: dict[str, Any] = {
        "action": entry.action,
        "outcome": entry.outcome.value,
        "occurred_at": format_timestamp(entry.occurred_at),
        "actor.id": entry.actor.id,
        "actor.type": entry.actor.type,
        "actor.name": entry.actor.name,
        "tags": list(entry.tags),
        "source.ip": entry.source.ip,
        "source.user_agent": entry.source.user_agent,
    }
    if entry.target is not None:
        fields["target.type"] = entry.target.type
        fields["target.id"] = entry.target.id
        fields["target.name"] = entry.target.name
    present = {path: value for path, value in fields.items() if value is not None}
    # every top-level metadata key is committed, its whole value, null included
    present |= {f"metadata.{key}": value for key, value in entry.metadata.items()}
    for path in entry.erased:  # only its digest is left (``Evidence.erased``)
        present.pop(path, None)
    return present


_SCALARS = ("action", "outcome", "occurred_at")
_GROUPS = (
    ("actor", ("id", "type", "name")),
    ("target", ("type", "id", "name")),
    ("source", ("ip", "user_agent")),
)


def hidden_paths(stored: Entry, visible: Entry) -> set[str]:
    """The committed paths of ``stored`` that ``visible`` (a redacted copy of it) does
    not show with the same value: those of ``committed_fields(stored)`` missing from,
    or different in, ``committed_fields(visible)``. Compared part by part, so that the
    parts a redaction left alone (most of them) cost one comparison each."""
    if visible is stored:
        return set()
    hidden = {name for name in _SCALARS if getattr(stored, name) != getattr(visible, name)}
    if stored.tags != visible.tags:
        hidden.add("tags")
    for group, parts in _GROUPS:
        mine, theirs = getattr(stored, group), getattr(visible, group)
        if mine is None or mine == theirs:
            continue
        for part in parts:
            value = getattr(mine, part)
            if value is not None and (theirs is None or getattr(theirs, part) != value):
                hidden.add(f"{group}.{part}")
    if stored.metadata != visible.metadata:
        shown = visible.metadata
        for key, value in stored.metadata.items():
            if key not in shown or shown[key] != value:
                hidden.add(f"metadata.{key}")
    return hidden


def field_digest(path: str, salt: bytes, value: Any) -> bytes:
    """The digest that commits ``value`` at ``path`` under ``salt``."""
    return hashlib.sha256(_path_prefix(path) + salt + canonical_json(value)).digest()


@functools.lru_cache(maxsize=4096)
def _path_prefix(path: str) -> bytes:
    """``"audit-trail:field:v1" ‖ 0x00 ‖ path ‖ 0x00``: the same few paths come back
    on every entry."""
    return b"".join((FIELD_DOMAIN, b"\x00", path.encode(), b"\x00"))
