"""A subscription's lease as delivery holds it: taken for ``seconds`` and renewed in
the background once a third of them has passed, so that delivery does not wait on
the write (on SQLite it may wait for the file's write lock); waited for only when two
thirds have passed without the renewal answering, so a lease is never relied on
after it could have run out."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from audit_trail.core.ports import Clock
from audit_trail.core.ports.webhooks import WebhookStore


class SubscriptionLease:
    def __init__(
        self,
        store: WebhookStore,
        clock: Clock,
        seconds: float,
        *,
        tenant: str,
        subscription_id: str,
        owner: str,
    ) -> None:
        self._store = store
        self._clock = clock
        self._length = timedelta(seconds=seconds)
        self._tenant = tenant
        self._id = subscription_id
        self._owner = owner
        self._taken_at: datetime | None = None  # None: not held, ask storage
        self._renewing: asyncio.Task[bool] | None = None

    async def hold(self) -> bool:
        """Whether the owner holds it (taken first when not held, renewed when due)."""
        now = self._clock.now()
        if self._taken_at is None:
            return await self._take(now)
        if self._renewing is None and now >= self._taken_at + self._length / 3:
            self._renewing = asyncio.create_task(self._take(now))
        renewing = self._renewing
        if renewing is not None and (
            renewing.done() or now >= self._taken_at + self._length * 2 / 3
        ):
            self._renewing = None
            return await renewing
        return True

    def forget(self) -> None:
        """Ask storage at the next ``hold`` (a write found the lease perhaps gone)."""
        self._taken_at = None

    async def close(self) -> None:
        if self._renewing is not None:
            self._renewing.cancel()
            with contextlib.suppress(BaseException):
                await self._renewing
            self._renewing = None

    async def _take(self, now: datetime) -> bool:
        held = await self._store.lease(self._tenant, self._id, self._owner, now + self._length, now)
        self._taken_at = now if held else None
        return held
