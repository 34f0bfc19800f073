"""The one JSON shape of an entry: what the API returns, caches keep and stores may reuse."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from audit_trail.core.model import Actor, Entry, Outcome, Source, Target
from audit_trail.core.ports.encoding import JsonEncoder
from audit_trail.core.timestamps import format_timestamp, parse_timestamp


class StdlibJsonEncoder:
    """The JsonEncoder of the standard library: ``json.dumps`` itself."""

    def encode(self, value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":")).encode()


STDLIB_JSON = StdlibJsonEncoder()


def entry_to_json(entry: Entry) -> dict[str, Any]:
    """The entry as a JSON object. Optional fields that are unset are omitted;
    ``erased`` (the paths whose values were erased) only when there are some, and
    ``deleted`` only on tombstones."""
    data: dict[str, Any] = {
        "id": entry.id,
        "tenant": entry.tenant,
        "revision": entry.revision,
        "action": entry.action,
        "outcome": entry.outcome.value,
        "actor": _without_none(
            {"id": entry.actor.id, "type": entry.actor.type, "name": entry.actor.name}
        ),
        "occurred_at": format_timestamp(entry.occurred_at),
        "recorded_at": format_timestamp(entry.recorded_at),
        "recorded_by": entry.recorded_by,
        "tags": list(entry.tags),
        "metadata": dict(entry.metadata),
        "source": _without_none({"ip": entry.source.ip, "user_agent": entry.source.user_agent}),
    }
    if entry.target is not None:
        data["target"] = _without_none(
            {"type": entry.target.type, "id": entry.target.id, "name": entry.target.name}
        )
    if entry.erased:
        data["erased"] = list(entry.erased)
    if entry.deleted:
        data["deleted"] = True
    return data


def entry_from_json(data: Mapping[str, Any]) -> Entry:
    """The inverse of ``entry_to_json`` (for data this service wrote; not for client input)."""
    actor = data["actor"]
    target = data.get("target")
    source = data.get("source") or {}
    return Entry(
        id=data["id"],
        tenant=data["tenant"],
        revision=data["revision"],
        action=data["action"],
        outcome=Outcome(data["outcome"]),
        actor=Actor(id=actor["id"], type=actor.get("type"), name=actor.get("name")),
        target=None
        if target is None
        else Target(type=target["type"], id=target["id"], name=target.get("name")),
        occurred_at=parse_timestamp(data["occurred_at"]),
        recorded_at=parse_timestamp(data["recorded_at"]),
        recorded_by=data.get("recorded_by", ""),
        tags=tuple(data.get("tags", ())),
        metadata=data.get("metadata", {}),
        source=Source(ip=source.get("ip"), user_agent=source.get("user_agent")),
        deleted=bool(data.get("deleted", False)),
        erased=tuple(data.get("erased", ())),
    )


def _without_none(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


def dump_page(
    entries: Sequence[Entry], next_cursor: str | None, encoder: JsonEncoder = STDLIB_JSON
) -> bytes:
    """A query page as cached: the entries and the cursor to the next page."""
    page = {"items": [entry_to_json(e) for e in entries], "next_cursor": next_cursor}
    return encoder.encode(page)


def load_page(raw: bytes) -> tuple[list[Entry], str | None]:
    page = json.loads(raw)
    return [entry_from_json(item) for item in page["items"]], page["next_cursor"]
