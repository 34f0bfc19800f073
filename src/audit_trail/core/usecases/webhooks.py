"""Webhook subscriptions (scope audit:admin): create, read, list, delete, resume, and
the delivery log. Delivery itself is ``core.webhooks.worker``."""

from __future__ import annotations

from collections.abc import Sequence

from audit_trail.core.errors import UnsafeWebhookUrl, ValidationFailed, WebhookNotFound
from audit_trail.core.ports import Clock, IdFactory
from audit_trail.core.ports.log import TenantLog
from audit_trail.core.ports.webhook_sender import WebhookSender
from audit_trail.core.ports.webhooks import DELIVERY_LOG_SIZE, WebhookStore
from audit_trail.core.principal import Principal, Scope
from audit_trail.core.webhooks.subscription import (
    DeliveryAttempt,
    Subscription,
    WebhookRequest,
    new_secret,
)


class WebhookRegistry:
    def __init__(
        self,
        store: WebhookStore,
        log: TenantLog,
        sender: WebhookSender,
        clock: Clock,
        ids: IdFactory,
    ) -> None:
        self._store = store
        self._log = log
        self._sender = sender
        self._clock = clock
        self._ids = ids

    async def create(self, principal: Principal, request: WebhookRequest) -> Subscription:
        """A new subscription: only changes after it are delivered (its cursor is the
        last log index at creation). The receiver's address is checked first."""
        principal.require(Scope.ADMIN)
        try:
            await self._sender.check_url(request.url)
        except UnsafeWebhookUrl as exc:
            raise ValidationFailed.single("url", str(exc)) from None
        subscription = Subscription(
            id=self._ids.new_id(),
            tenant=principal.tenant,
            url=request.url,
            filters=request.filters,
            description=request.description,
            secret=new_secret(),
            created_at=self._clock.now(),
            created_by=principal.subject,
            cursor=await self._log.size(principal.tenant) - 1,
        )
        await self._store.create(subscription)
        return subscription

    async def get(self, principal: Principal, subscription_id: str) -> Subscription:
        principal.require(Scope.ADMIN)
        found = await self._store.get(principal.tenant, subscription_id)
        if found is None:
            raise WebhookNotFound(subscription_id)
        return found

    async def list(self, principal: Principal) -> Sequence[Subscription]:
        principal.require(Scope.ADMIN)
        return await self._store.list(principal.tenant)

    async def delete(self, principal: Principal, subscription_id: str) -> None:
        principal.require(Scope.ADMIN)
        if not await self._store.delete(principal.tenant, subscription_id):
            raise WebhookNotFound(subscription_id)

    async def resume(self, principal: Principal, subscription_id: str) -> Subscription:
        """Active again, failures reset, delivered from its cursor at once."""
        principal.require(Scope.ADMIN)
        found = await self._store.resume(principal.tenant, subscription_id)
        if found is None:
            raise WebhookNotFound(subscription_id)
        return found

    async def deliveries(
        self, principal: Principal, subscription_id: str, limit: int = DELIVERY_LOG_SIZE
    ) -> Sequence[DeliveryAttempt]:
        await self.get(principal, subscription_id)
        return await self._store.attempts(principal.tenant, subscription_id, limit)
