"""WebhookStore: where webhook subscriptions, their cursors, their leases and their
delivery logs are kept (``core.webhooks``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from audit_trail.core.webhooks.subscription import DeliveryAttempt, Subscription

DELIVERY_LOG_SIZE = 100  # attempts kept per subscription, the newest


@dataclass(frozen=True, slots=True)
class Progress:
    """What a delivery run writes back: the new cursor and failure state (the
    subscription's other fields are never written by a run)."""

    cursor: int
    state: str
    failures: int
    last_error: str | None
    next_attempt_at: datetime | None


class WebhookStore(Protocol):
    """Tenant methods are confined to ``tenant``: another tenant's id is not found.
    The lease methods are compare-and-set: of two processes, one holds a
    subscription's lease at a time. ``StorageUnavailable`` when the backend cannot be
    reached in time."""

    async def create(self, subscription: Subscription) -> None:
        """Keep a new subscription (its id is new), with no lease."""
        ...

    async def get(self, tenant: str, subscription_id: str) -> Subscription | None: ...

    async def list(self, tenant: str) -> Sequence[Subscription]:
        """The tenant's subscriptions, oldest first."""
        ...

    async def delete(self, tenant: str, subscription_id: str) -> bool:
        """Drop the subscription and its delivery log; False when not found."""
        ...

    async def resume(self, tenant: str, subscription_id: str) -> Subscription | None:
        """Make the subscription active with no failures, to be tried at once; the
        subscription as it now stands, or None when not found."""
        ...

    async def claimable(self, now: datetime) -> Sequence[Subscription]:
        """Every tenant's active subscriptions whose lease is free or expired."""
        ...

    async def lease(
        self, tenant: str, subscription_id: str, owner: str, until: datetime, now: datetime
    ) -> bool:
        """Take or renew the lease for ``owner`` until ``until`` if it is free, expired
        or ``owner``'s already; whether ``owner`` now holds it."""
        ...

    async def release(self, tenant: str, subscription_id: str, owner: str) -> None:
        """Give the lease up, if ``owner`` holds it."""
        ...

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
        """Write ``progress`` and append ``attempts`` to the delivery log (which keeps
        the newest ``DELIVERY_LOG_SIZE``), in one step, if ``owner`` holds the lease
        and the cursor is still ``expected_cursor``; whether it was written."""
        ...

    async def attempts(
        self, tenant: str, subscription_id: str, limit: int
    ) -> Sequence[DeliveryAttempt]:
        """The delivery log, newest first, at most ``limit``."""
        ...
