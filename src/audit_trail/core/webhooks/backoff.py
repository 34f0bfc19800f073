"""When a failed delivery is tried again: exponential backoff with jitter."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    base_seconds: float = 1.0
    cap_seconds: float = 300.0

    def delay(self, failures: int, draw: float | None = None) -> float:
        """The wait after the ``failures``-th consecutive failure (1 or more):
        ``min(cap, base * 2**(failures - 1))`` times a random factor in [0.5, 1.0)."""
        factor = random.uniform(0.5, 1.0) if draw is None else draw  # noqa: S311 - jitter
        exponent = min(max(failures, 1) - 1, 64)
        return min(self.cap_seconds, self.base_seconds * 2.0**exponent) * factor
