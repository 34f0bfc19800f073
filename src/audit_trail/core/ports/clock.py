"""Clock: the current time, injected so that tests are deterministic."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, UTC, truncated to the millisecond."""
        ...
