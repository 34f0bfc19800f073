"""What a restricted reader (a viewer token) may see: one actor's entries, or one
target's, of its tenant. Every read use case asks the caller's restriction."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from audit_trail.core.checks import ErrorCollector
from audit_trail.core.model import Entry
from audit_trail.core.query import EntryFilters
from audit_trail.core.validation import identifier


@dataclass(frozen=True, slots=True)
class Restriction:
    """At most one of ``actor_id`` or the target (``target_type`` with ``target_id``).
    The default restricts nothing."""

    actor_id: str | None = None
    target_type: str | None = None
    target_id: str | None = None

    def __post_init__(self) -> None:
        if (self.target_type is None) != (self.target_id is None):
            raise ValueError("a target restriction names both its type and its id")
        if self.actor_id is not None and self.target_type is not None:
            raise ValueError("a restriction names an actor or a target, not both")

    @property
    def unrestricted(self) -> bool:
        return self.actor_id is None and self.target_type is None

    def allows(self, entry: Entry) -> bool:
        """Whether a reader so restricted may see ``entry`` (a revision of it)."""
        if self.actor_id is not None:
            return entry.actor.id == self.actor_id
        if self.target_type is not None:
            target = entry.target
            return (
                target is not None
                and target.type == self.target_type
                and target.id == self.target_id
            )
        return True

    def narrow(self, filters: EntryFilters) -> EntryFilters | None:
        """``filters`` and the restriction together, or None when they contradict each
        other (a query for another actor: nothing matches)."""
        if self.actor_id is not None:
            if filters.actor_id not in (None, self.actor_id):
                return None
            return replace(filters, actor_id=self.actor_id)
        if self.target_type is not None:
            if filters.target_type not in (None, self.target_type) or filters.target_id not in (
                None,
                self.target_id,
            ):
                return None
            return replace(filters, target_type=self.target_type, target_id=self.target_id)
        return filters

    def as_json(self) -> dict[str, Any]:
        """``{}``, ``{"actor_id": ...}`` or ``{"target": {"type": ..., "id": ...}}``."""
        if self.actor_id is not None:
            return {"actor_id": self.actor_id}
        if self.target_type is not None:
            return {"target": {"type": self.target_type, "id": self.target_id}}
        return {}

    def key(self) -> str:
        """A cache-key part: distinct restrictions never share one."""
        if self.actor_id is not None:
            return "actor:" + _escape(self.actor_id)
        if self.target_type is not None:
            assert self.target_id is not None
            return f"target:{_escape(self.target_type)}:{_escape(self.target_id)}"
        return ""


UNRESTRICTED = Restriction()


def parse_restriction(value: Any, errors: ErrorCollector) -> Restriction:
    """A restriction from its JSON form (``as_json``), its errors in ``errors``."""
    if not isinstance(value, dict):
        errors.add("restriction", "must be an object")
        return UNRESTRICTED
    for name in value.keys() - {"actor_id", "target"}:
        errors.add(name, "unknown field")
    actor_id = (
        None if "actor_id" not in value else errors.check("actor_id", value["actor_id"], identifier)
    )
    target_type = target_id = None
    if "target" in value:
        target = value["target"]
        if not isinstance(target, dict):
            errors.add("target", "must be an object with type and id")
        else:
            for name in target.keys() - {"type", "id"}:
                errors.add(f"target.{name}", "unknown field")
            target_type = errors.check("target.type", target.get("type"), identifier)
            target_id = errors.check("target.id", target.get("id"), identifier)
    if actor_id is not None and "target" in value:
        errors.add("target", "a token is restricted to an actor or a target, not both")
        return UNRESTRICTED
    if target_type is None or target_id is None:
        return Restriction(actor_id)
    return Restriction(actor_id, target_type, target_id)


def _escape(value: str) -> str:
    return value.replace("%", "%25").replace(":", "%3A").replace("&", "%26")
