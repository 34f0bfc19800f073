"""Queries: filters, and the iterator that follows the cursor across pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from audit_trail.client import Actor, AsyncAuditTrailClient, EntryQuery, NewEntry

START = datetime(2026, 11, 1, tzinfo=UTC)


async def _record(client: AsyncAuditTrailClient, count: int, **fields: object) -> list[str]:
    entries = [
        NewEntry(occurred_at=START + timedelta(minutes=i), **fields)  # type: ignore[arg-type]
        for i in range(count)
    ]
    return [e.id for e in await client.record_batch(entries)]


async def test_the_iterator_follows_the_cursor(client: AsyncAuditTrailClient) -> None:
    ids = await _record(client, 7, action="page.test")
    page = await client.query_page(EntryQuery(limit=3, sort="occurred_at"))
    assert [e.id for e in page.items] == ids[:3]
    assert page.next_cursor is not None
    found = [e.id async for e in client.query(EntryQuery(limit=3, sort="occurred_at"))]
    assert found == ids


async def test_filters(client: AsyncAuditTrailClient) -> None:
    ada = await _record(client, 2, action="doc.read", actor=Actor("ada"), tags=["x"])
    bob = await _record(client, 2, action="user.login", actor=Actor("bob"))

    async def ids(query: EntryQuery) -> set[str]:
        return {e.id async for e in client.query(query)}

    assert await ids(EntryQuery(actor_id="ada")) == set(ada)
    assert await ids(EntryQuery(action="user.*")) == set(bob)
    assert await ids(EntryQuery(tag="x")) == set(ada)
    assert await ids(EntryQuery(since=START + timedelta(minutes=1))) == {ada[1], bob[1]}
    assert await ids(EntryQuery(until=START)) == {ada[0], bob[0]}
