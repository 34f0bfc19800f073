"""Forwarding to sinks in the background: one task per sink (a plugin's
``audit_forward_changes``), each following every tenant's log (``core.sinks``).
Started with the app, stopped with it (leases given up); none without a sink."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Sequence

from audit_trail.core.ports import Clock
from audit_trail.core.ports.retention import RetentionStore
from audit_trail.core.ports.sinks import Sink, SinkCursors
from audit_trail.core.sinks.forwarder import SinkForwarder, SinkSettings
from audit_trail.core.usecases.change_reader import ChangeReader
from audit_trail.core.webhooks.backoff import Backoff
from audit_trail.entrypoints.settings import Settings


def sink_settings(settings: Settings) -> SinkSettings:
    return SinkSettings(
        poll_seconds=settings.sink_poll_seconds,
        lease_seconds=settings.sink_lease_seconds,
        backoff=Backoff(settings.sink_backoff_seconds, settings.sink_backoff_max_seconds),
    )


def build_forwarder(
    cursors: SinkCursors, reader: ChangeReader, clock: Clock, settings: Settings
) -> SinkForwarder:
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    return SinkForwarder(cursors, reader, clock, sink_settings(settings), owner)


async def open_sink_forwarding(
    forwarder: SinkForwarder,
    sinks: Sequence[Sink],
    retention: RetentionStore,
    settings: Settings,
) -> AsyncIterator[Sequence[Sink]]:
    if not settings.deliver:  # another process forwards (audit-trail deliver)
        yield ()
        return
    tasks = [asyncio.create_task(forwarder.run(sink, retention.log_tenants)) for sink in sinks]
    try:
        yield sinks
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
