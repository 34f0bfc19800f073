"""``audit-trail deliver``: webhook delivery and sink forwarding in a process of their
own, beside ``serve`` processes started with ``AUDIT_DELIVER=false``.

Delivery sends one request at a time per subscription, so its rate is bounded by the
time each request takes; inside a server that is busy answering writes that time
includes the waits of a loaded event loop. A process that only delivers answers
at once (docs/streaming.md, "Processes"). It shares storage with the servers (SQLite
file or MongoDB; in-memory storage is per process and is refused), reads the logs
they write and holds each subscription's lease like any other process, so several
``deliver`` processes share the subscriptions between them. SIGTERM or SIGINT
stops it: the leases are given up first.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib.util
import logging
import signal

from audit_trail.entrypoints.container import build_container, start_delivery, stop
from audit_trail.entrypoints.logs import configure_logging
from audit_trail.entrypoints.settings import Settings, SettingsError

DELIVER_HELP = "deliver webhooks and forward to sinks, without serving HTTP"

log = logging.getLogger(__name__)


def deliver_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # every setting comes from the environment, as for serve


def deliver(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging(settings)
    if settings.storage == "memory":
        raise SettingsError(
            "AUDIT_STORAGE: memory storage is per process, so a delivery process cannot"
            " see what a server stores; use sqlite or mongo"
        )
    with _event_loop() as runner:
        runner.run(run_delivery(dataclasses.replace(settings, deliver=True)))
    return 0


async def run_delivery(settings: Settings, stopping: asyncio.Event | None = None) -> None:
    """Deliver until ``stopping`` is set (SIGTERM or SIGINT when not given)."""
    if stopping is None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
    container = build_container(settings)
    await start_delivery(container)
    log.info("delivering webhooks and forwarding to sinks; SIGTERM stops")
    try:
        await stopping.wait()
    finally:
        await stop(container)


def _event_loop() -> asyncio.Runner:
    """uvloop's event loop when it is installed (as serve runs), else asyncio's."""
    if importlib.util.find_spec("uvloop") is None:
        return asyncio.Runner()
    import uvloop  # noqa: PLC0415

    return asyncio.Runner(loop_factory=uvloop.new_event_loop)
