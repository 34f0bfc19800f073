"""The retention settings and the background schedule: bad settings stop start-up
naming the setting; a failing sweep is logged and the schedule goes on."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from audit_trail.entrypoints.retention import run_schedule
from audit_trail.entrypoints.settings import SettingsError, load_settings


@pytest.mark.parametrize("days", ["0", "-3", "nan", "inf", "1e9", "soon"])
def test_a_bad_default_retention_is_refused(days: str) -> None:
    with pytest.raises(SettingsError, match="AUDIT_RETENTION_DAYS"):
        load_settings({"AUDIT_RETENTION_DAYS": days})


def test_the_retention_settings_are_read() -> None:
    settings = load_settings(
        {
            "AUDIT_RETENTION_DAYS": "0.5",
            "AUDIT_RETENTION_SWEEP_SECONDS": "60",
            "AUDIT_RETENTION_BATCH": "10",
        }
    )
    assert (settings.retention_days, settings.retention_sweep_seconds) == (0.5, 60.0)
    assert settings.retention_batch == 10
    assert load_settings({}).retention_days is None
    with pytest.raises(SettingsError, match="AUDIT_RETENTION_BATCH"):
        load_settings({"AUDIT_RETENTION_BATCH": "0"})


class FlakySweeper:
    def __init__(self) -> None:
        self.calls = 0

    async def sweep_all(self) -> dict[str, Any]:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionError("storage is down")
        return {}


async def test_a_failed_sweep_is_logged_and_the_schedule_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sweeper = FlakySweeper()
    task = asyncio.create_task(run_schedule(sweeper, 0.01))  # type: ignore[arg-type]
    for _ in range(200):
        await asyncio.sleep(0.01)
        if sweeper.calls >= 3:
            break
    task.cancel()
    assert sweeper.calls >= 3
    assert "the retention sweep failed" in caplog.text
