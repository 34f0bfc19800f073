"""Recording, reading, amending and deleting through the client."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from audit_trail.client import (
    Actor,
    AsyncAuditTrailClient,
    NewEntry,
    NotFound,
    Outcome,
    PreconditionFailed,
    Target,
)
from tests.client.conftest import Clients
from tests.client.transports import Intercept, lost_answer_first

WHEN = datetime(2026, 11, 28, 9, 30, 0, 123000, tzinfo=UTC)


def new_entry(**changes: object) -> NewEntry:
    fields: dict[str, object] = {
        "action": "document.update",
        "actor": Actor("u-42", "user", "Ada"),
        "target": Target("document", "d-7", "Q3 report"),
        "occurred_at": WHEN,
        "tags": ["ui"],
        "metadata": {"field": "title"},
    }
    fields.update(changes)
    return NewEntry(**fields)  # type: ignore[arg-type]


async def test_record_get_history_amend_delete(client: AsyncAuditTrailClient) -> None:
    recorded = await client.record(new_entry())
    assert (recorded.action, recorded.actor, recorded.occurred_at) == (
        "document.update",
        Actor("u-42", "user", "Ada"),
        WHEN,
    )
    assert recorded.outcome is Outcome.SUCCESS
    assert recorded.revision == 1
    assert recorded.raw["id"] == recorded.id
    assert await client.get(recorded.id) == recorded

    amended = await client.amend(recorded.id, new_entry(outcome="failure"), if_match=1)
    assert (amended.revision, amended.outcome) == (2, Outcome.FAILURE)
    with pytest.raises(PreconditionFailed):
        await client.amend(recorded.id, new_entry(), if_match=1)

    await client.delete(recorded.id)
    with pytest.raises(NotFound):
        await client.get(recorded.id)
    with pytest.raises(NotFound):
        await client.delete(recorded.id)

    history = await client.history(recorded.id)
    assert [r.revision for r in history.revisions] == [1, 2, 3]
    assert history.revisions[0] == recorded
    assert history.current.deleted


async def test_a_mapping_is_sent_as_it_is(client: AsyncAuditTrailClient) -> None:
    recorded = await client.record({"action": "login", "actor": {"id": "u-1"}})
    assert (recorded.action, recorded.actor.id, recorded.target) == ("login", "u-1", None)


async def test_a_batch_is_recorded_in_order(client: AsyncAuditTrailClient) -> None:
    batch = await client.record_batch([new_entry(action=f"step.{i}") for i in range(3)])
    assert [e.action for e in batch] == ["step.0", "step.1", "step.2"]
    assert len({e.id for e in batch}) == 3
    assert [(await client.get(e.id)).action for e in batch] == ["step.0", "step.1", "step.2"]


async def test_the_same_idempotency_key_records_once(client: AsyncAuditTrailClient) -> None:
    key = 'k-1 "quoted" \\ key'  # sent as a Structured Field String, escaped
    first = await client.record(new_entry(), idempotency_key=key)
    again = await client.record(new_entry(), idempotency_key=key)
    assert again == first
    batch = await client.record_batch([new_entry(), new_entry()], idempotency_key="k-2")
    assert await client.record_batch([new_entry(), new_entry()], idempotency_key="k-2") == batch
    assert len([e async for e in client.query()]) == 3


async def test_a_write_whose_answer_was_lost_is_retried_and_recorded_once(
    clients: Clients,
) -> None:
    wrapped: list[Intercept] = []

    def wrap(sync: object, asynchronous: object) -> Intercept:
        wrapped.append(lost_answer_first(sync, asynchronous))  # type: ignore[arg-type]
        return wrapped[0]

    client = clients(wrap=wrap)
    recorded = await client.record(new_entry())
    keys = {r.headers["idempotency-key"] for r in wrapped[0].seen}
    assert len(wrapped[0].seen) == 2
    assert len(keys) == 1
    assert [e.id async for e in clients().query()] == [recorded.id]
