"""The forwarder: every tenant's log, followed by every sink, like a webhook
subscription follows one tenant's.

Per (sink, tenant), while this process holds its lease: the changes after the stored
cursor, in log order, a batch at a time, as a plain ``audit:read`` reader of the tenant
sees them; the cursor moves (compare-and-set) after the sink returned. At-least-once:
a crash between the sink's return and the cursor's write forwards that batch again. A
sink that raises gets the same batch again after a backoff (exponential, capped,
jittered), and forever: a sink is never given up. Writes never wait for a sink: the
forwarder reads the log after the fact.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from audit_trail.core.cancellation import raise_if_cancelled
from audit_trail.core.ports import Clock
from audit_trail.core.ports.sinks import Sink, SinkCursors
from audit_trail.core.principal import Principal, Scope
from audit_trail.core.query import EntryFilters
from audit_trail.core.usecases.change_reader import ChangeReader
from audit_trail.core.webhooks.backoff import Backoff

log = logging.getLogger(__name__)

TenantSource = Callable[[], Awaitable[Sequence[str]]]
"""Every tenant that has a log (``RetentionStore.log_tenants`` fits)."""

SINK_SUBJECT_PREFIX = "sink:"  # the reader a sink reads as: "sink:<name>"


@dataclass(frozen=True, slots=True)
class SinkSettings:
    poll_seconds: float = 0.2
    lease_seconds: float = 30.0
    backoff: Backoff = field(default_factory=Backoff)
    batch: int = 100  # leaves read, and changes handed to a sink, at once


@dataclass(slots=True)
class _Retry:
    failures: int
    at: datetime


class SinkForwarder:
    """``run`` forwards to one sink every tenant ``tenants()`` names, until cancelled
    (it then gives its leases up)."""

    def __init__(
        self,
        cursors: SinkCursors,
        reader: ChangeReader,
        clock: Clock,
        settings: SinkSettings,
        owner: str,
    ) -> None:
        self._cursors = cursors
        self._reader = reader
        self._clock = clock
        self._settings = settings
        self._owner = owner
        self._retries: dict[tuple[str, str], _Retry] = {}

    async def run(self, sink: Sink, tenants: TenantSource) -> None:
        held: set[str] = set()
        try:
            while True:
                raise_if_cancelled()
                busy = False
                try:
                    for tenant in await tenants():
                        busy = await self.step(sink, tenant, held) or busy
                except Exception:  # storage is down: next round
                    raise_if_cancelled()
                    log.exception("sink %r: reading the logs failed", sink.name)
                if not busy:
                    await asyncio.sleep(self._settings.poll_seconds)
        finally:
            for tenant in held:
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._cursors.release(sink.name, tenant, self._owner))

    async def step(self, sink: Sink, tenant: str, held: set[str] | None = None) -> bool:
        """Forward one batch of ``tenant``'s changes to ``sink`` if it is due and this
        process holds the lease; whether a batch went (more may be waiting)."""
        key = (sink.name, tenant)
        now = self._clock.now()
        retry = self._retries.get(key)
        if retry is not None and retry.at > now:
            return False
        until = now + timedelta(seconds=self._settings.lease_seconds)
        if not await self._cursors.lease(sink.name, tenant, self._owner, until, now):
            if held is not None:
                held.discard(tenant)
            return False
        if held is not None:
            held.add(tenant)
        cursor = await self._cursors.cursor(sink.name, tenant)
        size = await self._reader.size(tenant)
        start = cursor + 1
        if start >= size:
            return False
        end = min(size, start + self._settings.batch)
        reader = Principal(SINK_SUBJECT_PREFIX + sink.name, tenant, frozenset({Scope.READ.value}))
        changes = await self._reader.changes(reader, EntryFilters(), start, end)
        if changes:
            try:
                await sink.forward(tenant, changes)
            except Exception:
                self._failed(key, sink.name, tenant, start)
                return False
        self._retries.pop(key, None)
        return await self._cursors.advance(sink.name, tenant, self._owner, cursor, end - 1)

    def _failed(self, key: tuple[str, str], sink: str, tenant: str, start: int) -> None:
        retry = self._retries.get(key)
        failures = 1 if retry is None else retry.failures + 1
        delay = self._settings.backoff.delay(failures)
        self._retries[key] = _Retry(failures, self._clock.now() + timedelta(seconds=delay))
        log.exception(
            "sink %r failed to take tenant %r's changes from leaf %d (failure %d);"
            " trying again in %.1f s",
            sink,
            tenant,
            start,
            failures,
            delay,
        )
