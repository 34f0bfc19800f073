"""The live change stream: every change of a tenant's log that a query matches, in log
order, from any position on (docs/streaming.md).

The log is the stream's only source: a change is delivered when its leaf is in the
log (after it was acknowledged), read back a batch of leaves at a time and then the
revision each leaf commits. A consumer is a position in the log, nothing more: the
stream holds no buffer of its own (the next batch is read only once the last event
was taken), it can start again from any position after a restart or on another
process, and a write by any process sharing the storage reaches it at the next poll.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from audit_trail.core.errors import LogRangeError
from audit_trail.core.ports import EntryProcessor, EntryRepository
from audit_trail.core.ports.log import TenantLog
from audit_trail.core.principal import Principal, Scope
from audit_trail.core.query import EntryFilters
from audit_trail.core.usecases.change_reader import Change, ChangeReader

__all__ = ["Change", "ChangeStream", "Heartbeat", "Lagging", "StreamItem", "StreamRequest"]


@dataclass(frozen=True, slots=True)
class StreamSettings:
    poll_seconds: float = 0.2  # how often the log's size is read while nothing is new
    heartbeat_seconds: float = 15.0  # a comment at least this often, for proxies
    max_lag: int = 10_000  # changes appended since the stream began, not yet sent
    batch: int = 200  # leaves read at once


@dataclass(frozen=True, slots=True)
class StreamRequest:
    principal: Principal
    filters: EntryFilters
    after: int | None = None  # the last log index the consumer has; None: from now on


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Nothing new; ``position`` is the next log index the stream will read."""

    position: int


@dataclass(frozen=True, slots=True)
class Lagging:
    """The consumer fell ``behind`` changes behind the log: the stream ends here, and
    a new one resumes after ``last_index``."""

    last_index: int
    behind: int


StreamItem = Change | Heartbeat | Lagging


class ChangeStream:
    def __init__(
        self,
        repository: EntryRepository,
        log: TenantLog,
        processor: EntryProcessor,
        settings: StreamSettings | None = None,
    ) -> None:
        self._log = log
        self._reader = ChangeReader(repository, log, processor)
        self._settings = settings or StreamSettings()

    async def start(self, request: StreamRequest) -> int:
        """Check the request before the first byte is sent; the first index to read."""
        request.principal.require(Scope.READ)
        size = await self._log.size(request.principal.tenant)
        if request.after is None:
            return size
        if request.after < -1:
            raise LogRangeError("the last event id must be -1 or a log index")
        return request.after + 1

    async def follow(self, request: StreamRequest, position: int) -> AsyncIterator[StreamItem]:
        """Every matching change from ``position`` on, heartbeats while nothing is new,
        and a last ``Lagging`` if the consumer falls too far behind. Never ends by
        itself otherwise: the consumer closes it."""
        settings, tenant = self._settings, request.principal.tenant
        start_size = await self._log.size(tenant)
        loop = asyncio.get_running_loop()
        quiet_since = loop.time()
        while True:
            size = await self._log.size(tenant)
            behind = size - max(position, start_size)
            if behind > settings.max_lag:
                yield Lagging(position - 1, behind)
                return
            if position >= size:
                if loop.time() - quiet_since >= settings.heartbeat_seconds:
                    quiet_since = loop.time()
                    yield Heartbeat(position)
                await asyncio.sleep(settings.poll_seconds)
                continue
            end = min(size, position + settings.batch)
            for change in await self._reader.changes(
                request.principal, request.filters, position, end
            ):
                quiet_since = loop.time()
                yield change
            position = end
