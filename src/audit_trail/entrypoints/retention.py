"""The retention schedule: a background task that sweeps every tenant with a retention
period every ``AUDIT_RETENTION_SWEEP_SECONDS`` (0: never; sweeps are then run by
calling ``RetentionSweeper.sweep``). It starts with the app and stops with it; a
failed sweep is logged and tried again at the next tick, never taking the app down."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from audit_trail.core.retention.sweeper import RetentionSweeper
from audit_trail.entrypoints.settings import Settings

log = logging.getLogger(__name__)


async def run_schedule(sweeper: RetentionSweeper, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await sweeper.sweep_all()
        except Exception:  # listing the tenants failed: storage is down; next tick
            log.exception("the retention sweep failed; it runs again in %s s", every)


async def open_retention_schedule(
    sweeper: RetentionSweeper, settings: Settings
) -> AsyncIterator[asyncio.Task[None] | None]:
    if settings.retention_sweep_seconds <= 0:
        yield None
        return
    task = asyncio.create_task(run_schedule(sweeper, settings.retention_sweep_seconds))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
