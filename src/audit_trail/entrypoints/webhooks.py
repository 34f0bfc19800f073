"""Webhook delivery in the background: every ``AUDIT_WEBHOOK_POLL_SECONDS`` the
dispatcher lists the active subscriptions whose lease is free (or expired) and starts
a ``SubscriptionWorker`` task for each one it is not running yet. Each subscription has
its own task, so a slow receiver delays only its own deliveries; the lease in storage
keeps two processes from delivering one subscription at once. Started with the app,
stopped with it (leases given up); a failed listing is logged and tried again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator

from audit_trail.adapters.webhooks.sender import SignedWebhookSender
from audit_trail.core.cancellation import raise_if_cancelled
from audit_trail.core.ports import Clock
from audit_trail.core.ports.webhooks import WebhookStore
from audit_trail.core.webhooks.backoff import Backoff
from audit_trail.core.webhooks.worker import SubscriptionWorker, WebhookSettings
from audit_trail.entrypoints.settings import Settings

log = logging.getLogger(__name__)


def webhook_settings(settings: Settings, source: str) -> WebhookSettings:
    return WebhookSettings(
        poll_seconds=settings.webhook_poll_seconds,
        lease_seconds=settings.webhook_lease_seconds,
        max_failures=settings.webhook_max_failures,
        backoff=Backoff(settings.webhook_backoff_seconds, settings.webhook_backoff_max_seconds),
        source=source,
    )


async def open_webhook_sender(settings: Settings) -> AsyncIterator[SignedWebhookSender]:
    sender = SignedWebhookSender(
        timeout_seconds=settings.webhook_timeout_seconds,
        allow_private=settings.webhook_allow_private,
    )
    try:
        yield sender
    finally:
        await sender.close()


class WebhookDispatcher:
    def __init__(self, store: WebhookStore, worker: SubscriptionWorker, clock: Clock) -> None:
        self._store = store
        self._worker = worker
        self._clock = clock
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}

    async def tick(self) -> None:
        for key, task in list(self._tasks.items()):
            if task.done():
                del self._tasks[key]
                if not task.cancelled() and task.exception() is not None:
                    log.error("webhook %s/%s failed", *key, exc_info=task.exception())
        for sub in await self._store.claimable(self._clock.now()):
            key = (sub.tenant, sub.id)
            if key not in self._tasks:
                self._tasks[key] = asyncio.create_task(
                    self._worker.run(sub.tenant, sub.id, self.owner)
                )

    async def run(self, every: float) -> None:
        while True:
            raise_if_cancelled()
            try:
                await self.tick()
            except Exception:  # storage is down: next tick
                raise_if_cancelled()
                log.exception("listing the webhooks failed; trying again in %s s", every)
            await asyncio.sleep(every)

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()


async def open_webhook_delivery(
    dispatcher: WebhookDispatcher, settings: Settings
) -> AsyncIterator[WebhookDispatcher | None]:
    if not settings.deliver:  # another process delivers (audit-trail deliver)
        yield None
        return
    task = asyncio.create_task(dispatcher.run(settings.webhook_poll_seconds))
    try:
        yield dispatcher
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await dispatcher.stop()
