"""Writing a subscription's progress behind its delivery.

A write of the cursor can wait on storage (a busy SQLite file, a slow primary) far
longer than a request to the receiver takes; if delivery waited for it after every
batch, that wait would be taken from delivery. So the worker ``record``s the progress
each batch reached and goes on sending, and this writes it in the background: one
write in flight at a time, each a compare-and-set from the cursor the write before
left (``WebhookStore.save``), and what was recorded meanwhile coalesced into the
next write (the newest progress, every attempt since, the delivery log keeping the
newest ``DELIVERY_LOG_SIZE``). A crash repeats what was sent since the last write
that took: at-least-once, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from audit_trail.core.ports.webhooks import DELIVERY_LOG_SIZE, Progress, WebhookStore
from audit_trail.core.webhooks.subscription import DeliveryAttempt, Subscription


class ProgressWriter:
    def __init__(self, store: WebhookStore, sub: Subscription, owner: str) -> None:
        self._store = store
        self._tenant = sub.tenant
        self._id = sub.id
        self._owner = owner
        self._written = sub.cursor  # the cursor in storage, as the last write left it
        self._progress: Progress | None = None  # recorded, not yet written
        self._attempts: list[DeliveryAttempt] = []
        self._writing: asyncio.Task[None] | None = None
        self._error: Exception | None = None  # of a write that failed, for ``flush``
        self.lost = False  # a write did not take: the lease is gone or the subscription

    def record(self, progress: Progress, attempts: Sequence[DeliveryAttempt]) -> None:
        """Progress to write (after the writes before it), with the attempts that made
        it; starts a write unless one is in flight."""
        self._progress = progress
        self._attempts = [*self._attempts, *attempts][-DELIVERY_LOG_SIZE:]
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write_all())

    async def flush(self) -> bool:
        """Wait until everything recorded is written; whether every write took. A
        storage error of a write is raised here (what it was writing is kept, for the
        next write)."""
        while self._writing is not None and not self._writing.done():
            await asyncio.shield(self._writing)
        error, self._error = self._error, None
        if error is not None:
            raise error
        return not self.lost

    async def _write_all(self) -> None:
        while self._progress is not None and not self.lost:
            progress, attempts = self._progress, self._attempts
            self._progress, self._attempts = None, []
            try:
                saved = await self._store.save(
                    self._tenant,
                    self._id,
                    self._owner,
                    expected_cursor=self._written,
                    progress=progress,
                    attempts=attempts,
                )
            except Exception as exc:  # kept for flush, which raises it
                self._progress = self._progress or progress
                self._attempts = [*attempts, *self._attempts][-DELIVERY_LOG_SIZE:]
                self._error = exc
                return
            if saved:
                self._written = progress.cursor
            else:
                self.lost = True
