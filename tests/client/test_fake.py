"""The fake's own promises: fresh per block, tokens scoped as asked, and ``async with``
on the test's own loop."""

from __future__ import annotations

import pytest

from audit_trail.client import (
    AsyncAuditTrailClient,
    AuditTrailClient,
    Forbidden,
    NewEntry,
    ValidationError,
)
from audit_trail.client.testing import FakeAuditTrail


def test_each_block_starts_empty_and_tokens_carry_their_scopes() -> None:
    for _ in range(2):
        with FakeAuditTrail(max_batch_entries=2) as fake:
            client = AuditTrailClient(fake.base_url, fake.token(), transport=fake.transport)
            assert list(client.query()) == []
            client.record(NewEntry("a.b"))
            with pytest.raises(ValidationError):
                client.record_batch([NewEntry("a.b")] * 3)
            reader = fake.token(scopes=["audit:read"])
            with pytest.raises(Forbidden):
                AuditTrailClient(fake.base_url, reader, transport=fake.transport).record(
                    NewEntry("a.b")
                )


async def test_async_with_serves_on_the_current_loop() -> None:
    async with FakeAuditTrail() as fake:
        with pytest.raises(RuntimeError):
            _ = fake.transport
        async with AsyncAuditTrailClient(
            fake.base_url, fake.token(tenant="t"), transport=fake.async_transport
        ) as client:
            recorded = await client.record(NewEntry("a.b"))
            assert (await client.get_proof(recorded.id)).verified
