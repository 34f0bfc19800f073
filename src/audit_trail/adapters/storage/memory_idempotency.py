"""InMemoryIdempotencyStore: the IdempotencyStore of the in-memory storage.

Every method runs without awaiting anything, so each is atomic among asyncio tasks.
Expired records are purged, a bounded number at a time, whenever a claim is made.
"""

from __future__ import annotations

from dataclasses import replace

from audit_trail.core.ports.idempotency import IdempotencyRecord, StoredResponse

PURGE_PER_CLAIM = 100


class InMemoryIdempotencyStore:
    def __init__(self) -> None:
        self._records: dict[tuple[str, str], IdempotencyRecord] = {}

    async def claim(self, record: IdempotencyRecord, now: int) -> IdempotencyRecord | None:
        self._purge(now)
        held = self._records.get((record.tenant, record.key))
        if held is not None and held.expires_at > now:
            return held
        self._records[(record.tenant, record.key)] = record
        return None

    async def take_over(self, record: IdempotencyRecord, owner: str, lease_until: int) -> bool:
        held = self._records.get((record.tenant, record.key))
        if held is None or held.owner != record.owner or held.response is not None:
            return False
        self._records[(record.tenant, record.key)] = replace(
            held, owner=owner, lease_until=lease_until
        )
        return True

    async def release(self, record: IdempotencyRecord, now: int) -> None:
        held = self._records.get((record.tenant, record.key))
        if held is not None and held.owner == record.owner and held.response is None:
            self._records[(record.tenant, record.key)] = replace(held, lease_until=now)

    async def complete(self, record: IdempotencyRecord, response: StoredResponse) -> None:
        held = self._records.get((record.tenant, record.key))
        if held is not None and held.entry_ids == record.entry_ids and held.response is None:
            self._records[(record.tenant, record.key)] = replace(held, response=response)

    async def forget_responses(self, tenant: str, entry_id: str) -> None:
        for (owner, key), held in self._records.items():
            if owner == tenant and entry_id in held.entry_ids and held.response is not None:
                self._records[(owner, key)] = replace(held, response=None)

    async def find(self, tenant: str, key: str, now: int) -> IdempotencyRecord | None:
        held = self._records.get((tenant, key))
        return held if held is not None and held.expires_at > now else None

    def _purge(self, now: int) -> None:
        expired = [k for k, r in self._records.items() if r.expires_at <= now]
        for key in expired[:PURGE_PER_CLAIM]:
            del self._records[key]
