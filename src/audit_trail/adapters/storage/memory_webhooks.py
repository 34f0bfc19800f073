"""InMemoryWebhookStore: the WebhookStore of the in-memory storage (atomic per call)."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from audit_trail.core.ports.webhooks import DELIVERY_LOG_SIZE, Progress
from audit_trail.core.webhooks.subscription import ACTIVE, DeliveryAttempt, Subscription
from audit_trail.core.webhooks.worker import with_progress

Key = tuple[str, str]


class InMemoryWebhookStore:
    def __init__(self) -> None:
        self._subs: dict[Key, Subscription] = {}
        self._leases: dict[Key, tuple[str, datetime]] = {}
        self._log: dict[Key, deque[DeliveryAttempt]] = {}

    async def create(self, subscription: Subscription) -> None:
        key = (subscription.tenant, subscription.id)
        self._subs[key] = subscription
        self._log[key] = deque(maxlen=DELIVERY_LOG_SIZE)

    async def get(self, tenant: str, subscription_id: str) -> Subscription | None:
        return self._subs.get((tenant, subscription_id))

    async def list(self, tenant: str) -> Sequence[Subscription]:
        found = [sub for (owner, _), sub in self._subs.items() if owner == tenant]
        return sorted(found, key=lambda sub: (sub.created_at, sub.id))

    async def delete(self, tenant: str, subscription_id: str) -> bool:
        key = (tenant, subscription_id)
        self._leases.pop(key, None)
        self._log.pop(key, None)
        return self._subs.pop(key, None) is not None

    async def resume(self, tenant: str, subscription_id: str) -> Subscription | None:
        key = (tenant, subscription_id)
        sub = self._subs.get(key)
        if sub is None:
            return None
        resumed = replace(sub, state=ACTIVE, failures=0, next_attempt_at=None)
        self._subs[key] = resumed
        return resumed

    async def claimable(self, now: datetime) -> Sequence[Subscription]:
        return [
            sub
            for key, sub in self._subs.items()
            if sub.state == ACTIVE and (key not in self._leases or self._leases[key][1] < now)
        ]

    async def lease(
        self, tenant: str, subscription_id: str, owner: str, until: datetime, now: datetime
    ) -> bool:
        key = (tenant, subscription_id)
        if key not in self._subs:
            return False
        held = self._leases.get(key)
        if held is not None and held[0] != owner and held[1] >= now:
            return False
        self._leases[key] = (owner, until)
        return True

    async def release(self, tenant: str, subscription_id: str, owner: str) -> None:
        key = (tenant, subscription_id)
        held = self._leases.get(key)
        if held is not None and held[0] == owner:
            del self._leases[key]

    async def save(
        self,
        tenant: str,
        subscription_id: str,
        owner: str,
        *,
        expected_cursor: int,
        progress: Progress,
        attempts: Sequence[DeliveryAttempt],
    ) -> bool:
        key = (tenant, subscription_id)
        sub, held = self._subs.get(key), self._leases.get(key)
        if sub is None or held is None or held[0] != owner or sub.cursor != expected_cursor:
            return False
        self._subs[key] = with_progress(sub, progress)
        self._log[key].extend(attempts)
        return True

    async def attempts(
        self, tenant: str, subscription_id: str, limit: int
    ) -> Sequence[DeliveryAttempt]:
        return list(reversed(self._log.get((tenant, subscription_id), ())))[:limit]
