"""LegalHoldRegistry.holding/check: which active hold covers an entry, and the 409
``entry-held`` problem that names it (what the erasure route raises)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from audit_trail.adapters.storage.memory_holds import InMemoryLegalHolds
from audit_trail.core.errors import EntryHeld
from audit_trail.core.holds import parse_hold_body
from audit_trail.core.model import Actor, Entry, Outcome, Target
from audit_trail.core.principal import Principal, Scope
from audit_trail.core.usecases.holds import LegalHoldRegistry
from audit_trail.entrypoints.http.problems import known_problem
from tests.unit.fakes import FixedIdFactory

NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
ADMIN = Principal("u-admin", "acme", frozenset({Scope.ADMIN}))


class Clock:
    def now(self) -> datetime:
        return NOW


def entry(actor_id: str, tenant: str = "acme", **changes: object) -> Entry:
    base = Entry(
        id=f"e-{actor_id}",
        tenant=tenant,
        action="document.update",
        outcome=Outcome.SUCCESS,
        actor=Actor(actor_id),
        occurred_at=NOW,
        recorded_at=NOW,
        target=Target("document", "d-7"),
        tags=("ui",),
    )
    return base if not changes else base.next_revision(NOW, "u", **changes)


async def test_holding_names_the_oldest_active_hold_that_matches() -> None:
    registry = LegalHoldRegistry(InMemoryLegalHolds(), Clock(), FixedIdFactory("h-1", "h-2"))
    first = await registry.create(
        ADMIN, parse_hold_body({"filter": {"actor_id": "u-1"}, "reason": "case 1"})
    )
    await registry.create(
        ADMIN,
        parse_hold_body(
            {"filter": {"target": {"type": "document", "id": "d-7"}, "tag": "ui"}, "reason": "2"}
        ),
    )
    assert await registry.holding("acme", entry("u-1")) == first
    assert (await registry.holding("acme", entry("u-2"))).id == "h-2"  # type: ignore[union-attr]
    assert await registry.holding("acme", entry("u-2", tags=())) is None
    assert await registry.holding("globex", entry("u-1", tenant="globex")) is None
    await registry.release(ADMIN, "h-1")
    assert (await registry.holding("acme", entry("u-1"))).id == "h-2"  # type: ignore[union-attr]


async def test_check_raises_entry_held_a_409_naming_the_hold() -> None:
    registry = LegalHoldRegistry(InMemoryLegalHolds(), Clock(), FixedIdFactory("h-9"))
    await registry.create(
        ADMIN, parse_hold_body({"filter": {"action": "document.*"}, "reason": "x"})
    )
    try:
        await registry.check("acme", entry("u-1"))
    except EntryHeld as exc:
        held = exc
    else:
        raise AssertionError("a held entry passed the check")
    assert held.hold_id == "h-9"
    response = known_problem(held)
    assert response is not None
    assert response.status == 409
    body = json.loads(response.body)
    assert body["hold_id"] == "h-9"
    assert body["entry_id"] == "e-u-1"
    assert "h-9" in body["detail"]
    assert body["type"].endswith("#entry-held")
