"""Delivering one subscription: while this process holds its lease, every change after
its cursor, in log order, one request per change; the cursor moves on after each 2xx,
a failure backs off (and after ``max_failures`` in a row the subscription is dead).

At-least-once: the cursor is written (compare-and-set) after the receiver answered,
so a crash between the answer and the write sends that change again; nothing after
a failure is sent before it. Progress is recorded after each batch of deliveries and
written behind them (``ProgressWriter``), and written before delivery pauses (idle,
or after a failure, whose backoff must be stored): a crash repeats what was sent
since the last write. While batches follow one another, the next one starts from the
progress reached, without reading the subscription again; the lease is renewed every
third of its length (``SubscriptionLease``), also between two changes of a slow batch.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from audit_trail.core.cancellation import raise_if_cancelled
from audit_trail.core.ports import Clock
from audit_trail.core.ports.metrics import NO_METRICS, Metrics
from audit_trail.core.ports.webhook_sender import SendResult, WebhookMessage, WebhookSender
from audit_trail.core.ports.webhooks import Progress, WebhookStore
from audit_trail.core.principal import Principal, Scope
from audit_trail.core.usecases.change_reader import Change, ChangeReader
from audit_trail.core.webhooks.backoff import Backoff
from audit_trail.core.webhooks.events import event_body, webhook_id
from audit_trail.core.webhooks.lease import SubscriptionLease
from audit_trail.core.webhooks.progress import ProgressWriter
from audit_trail.core.webhooks.subscription import ACTIVE, DEAD, DeliveryAttempt, Subscription


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    poll_seconds: float = 0.2
    lease_seconds: float = 30.0
    max_failures: int = 8
    backoff: Backoff = field(default_factory=Backoff)
    batch: int = 100  # leaves read at once; progress is written at least once per batch
    source: str = "audit-trail"  # the CloudEvent source, before "/<tenant>"


class SubscriptionWorker:
    """``run`` delivers one subscription until the lease is lost, the subscription is
    deleted or dead, or the task is cancelled (it then gives the lease up)."""

    def __init__(
        self,
        store: WebhookStore,
        reader: ChangeReader,
        sender: WebhookSender,
        clock: Clock,
        settings: WebhookSettings,
        *,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._metrics = metrics
        self._store = store
        self._reader = reader
        self._sender = sender
        self._clock = clock
        self._settings = settings

    async def run(self, tenant: str, subscription_id: str, owner: str) -> None:
        lease = SubscriptionLease(
            self._store,
            self._clock,
            self._settings.lease_seconds,
            tenant=tenant,
            subscription_id=subscription_id,
            owner=owner,
        )
        sub: Subscription | None = None  # as delivery left it; None: read it again
        progress: ProgressWriter | None = None
        try:
            while await lease.hold():
                raise_if_cancelled()
                if sub is None:
                    sub = await self._store.get(tenant, subscription_id)
                    if sub is None or sub.state != ACTIVE:
                        return
                    progress = ProgressWriter(self._store, sub, owner)
                assert progress is not None
                wait = self._wait(sub)
                if wait > 0:
                    await asyncio.sleep(min(wait, self._settings.poll_seconds))
                    sub = None
                    continue
                sub = await self._deliver(sub, lease, progress)
                if sub is None:  # idle, failed or lost: written, then read again
                    if not await progress.flush():
                        lease.forget()
                    await asyncio.sleep(self._settings.poll_seconds)
        finally:
            with contextlib.suppress(Exception):
                await lease.close()
                if progress is not None:
                    await asyncio.shield(progress.flush())
                await asyncio.shield(self._store.release(tenant, subscription_id, owner))

    def _wait(self, sub: Subscription) -> float:
        if sub.next_attempt_at is None:
            return 0.0
        return (sub.next_attempt_at - self._clock.now()).total_seconds()

    async def _deliver(
        self, sub: Subscription, lease: SubscriptionLease, progress: ProgressWriter
    ) -> Subscription | None:
        """One batch of leaves after the cursor, its progress recorded for writing.
        The subscription as it then stands when every change went (delivery goes
        straight on); None when nothing was new, a change failed or a write did not
        take (delivery looks again after a pause)."""
        size = await self._reader.size(sub.tenant)
        start = sub.cursor + 1
        if start >= size:
            return None
        end = min(size, start + self._settings.batch)
        reader = Principal(sub.created_by, sub.tenant, frozenset({Scope.READ.value}))
        changes = await self._reader.changes(reader, sub.filters, start, end)
        cursor, attempts, failed = await self._send_all(sub, changes, end - 1, lease)
        if failed is not None:
            progress.record(self._failure(sub, failed), attempts)
            return None
        reached = Progress(cursor, ACTIVE, 0, None, None)
        progress.record(reached, attempts)
        return None if progress.lost else with_progress(sub, reached)

    async def _send_all(
        self,
        sub: Subscription,
        changes: Sequence[Change],
        last: int,
        lease: SubscriptionLease,
    ) -> tuple[int, list[DeliveryAttempt], DeliveryAttempt | None]:
        """Send ``changes`` in order until one fails or the lease is lost; the cursor
        reached (``last`` when every change went: the leaves between matched
        nothing), the attempts, and the failed one."""
        attempts: list[DeliveryAttempt] = []
        cursor = sub.cursor
        source = f"{self._settings.source}/{sub.tenant}"
        for change in changes:
            if not await lease.hold():
                return cursor, attempts, None
            message = WebhookMessage(
                sub.url,
                webhook_id(sub.tenant, change.index),
                event_body(change, sub.tenant, source),
                sub.secret,
            )
            at = self._clock.now()
            result = await self._sender.send(message)
            attempt = _attempt(at, change.index, message.webhook_id, result)
            attempts.append(attempt)
            self._metrics.webhook_attempt(delivered=attempt.ok)
            if not attempt.ok:
                return cursor, attempts, attempt
            cursor = change.index
        return last, attempts, None

    def _failure(self, sub: Subscription, failed: DeliveryAttempt) -> Progress:
        failures = sub.failures + 1
        cursor = failed.index - 1  # every leaf before the failed change is handled
        if failures >= self._settings.max_failures:
            return Progress(cursor, DEAD, failures, failed.error, None)
        delay = self._settings.backoff.delay(failures)
        at: datetime = self._clock.now() + timedelta(seconds=delay)
        return Progress(cursor, ACTIVE, failures, failed.error, at)


def _attempt(at: datetime, index: int, message_id: str, result: SendResult) -> DeliveryAttempt:
    return DeliveryAttempt(at, index, message_id, result.status, result.error, result.duration_ms)


def with_progress(sub: Subscription, progress: Progress) -> Subscription:
    return replace(
        sub,
        cursor=progress.cursor,
        state=progress.state,
        failures=progress.failures,
        last_error=progress.last_error,
        next_attempt_at=progress.next_attempt_at,
    )
