"""Fixtures of the retention tests: an in-process app on each real storage (memory,
SQLite, MongoDB on a real mongod), on a clock the test moves."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from audit_trail.core.retention.sweeper import RetentionSweeper
from tests.api.conftest import BACKENDS
from tests.unit.verify_support import Service, Services

START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


class ManualClock:
    def __init__(self, now: datetime = START) -> None:
        self.at = now

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


STORAGES: dict[str, Callable[[pytest.FixtureRequest], dict[str, object]]] = {
    "memory": BACKENDS["memory"],
    "sqlite": lambda request: {"storage": "sqlite"},
    "mongo": BACKENDS["mongo"],
}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(params=sorted(STORAGES))
async def app(
    request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock
) -> AsyncIterator[Service]:
    """An app on one storage, its background sweeper off (the test sweeps)."""
    async with contextlib.AsyncExitStack() as stack:
        services = Services(stack, tmp_path)
        overrides: dict[str, object] = {
            **STORAGES[request.param](request),
            "retention_sweep_seconds": 0,
        }
        yield await services.start(clock=clock, **overrides)


async def resolved(value: Any) -> Any:
    """A provider's value: providers that depend on an async resource hand out awaitables."""
    return await value if inspect.isawaitable(value) else value


async def sweeper_of(service: Service) -> RetentionSweeper:
    sweeper: RetentionSweeper = await resolved(service.container.retention_sweeper())
    return sweeper
