"""Clocks: the system one, and a settable one for tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from audit_trail.core.timestamps import to_utc_millis


class SystemClock:
    def now(self) -> datetime:
        return to_utc_millis(datetime.now(UTC))


class FixedClock:
    """A clock that stands still until told to move (for deterministic tests)."""

    def __init__(self, start: datetime) -> None:
        self._now = to_utc_millis(start)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now = to_utc_millis(self._now + delta)
