"""A circuit breaker: stop calling a backend that keeps failing, probe it now and then.

CLOSED: calls go through; ``failure_threshold`` consecutive failures open the circuit.
OPEN: calls are refused for ``reset_seconds``; then the next ``allow()`` half-opens it
and lets that one call through as a probe. HALF_OPEN: other calls are refused; the
probe's success closes the circuit, its failure opens it again. A probe that never
reports (its caller was cancelled) is replaced after ``reset_seconds``.

Each state change is logged once, never once per call.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from enum import StrEnum

log = logging.getLogger(__name__)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        *,
        reset_seconds: float,
        failure_threshold: int = 3,
        clock: Callable[[], float] = time.monotonic,
        name: str = "backend",
    ) -> None:
        if reset_seconds < 0 or failure_threshold < 1:
            raise ValueError("reset_seconds must be >= 0 and failure_threshold >= 1")
        self._reset_seconds = reset_seconds
        self._threshold = failure_threshold
        self._clock = clock
        self._name = name
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._since = clock()  # when the circuit opened, or when the probe started
        self.opened_count = 0

    @property
    def state(self) -> BreakerState:
        return self._state

    def allow(self) -> bool:
        """Whether the caller may call the backend now (and, when half-open, be the probe)."""
        if self._state is BreakerState.CLOSED:
            return True
        if self._clock() - self._since < self._reset_seconds:
            return False
        if self._state is BreakerState.OPEN:
            self._change(BreakerState.HALF_OPEN, "probing with one call")
        self._since = self._clock()
        return True

    def record_success(self) -> None:
        self._failures = 0
        if self._state is BreakerState.HALF_OPEN:
            self._change(BreakerState.CLOSED, "back in service")

    def record_failure(self, error: BaseException | None = None) -> None:
        if self._state is BreakerState.OPEN:
            return
        self._failures += 1
        if self._state is BreakerState.HALF_OPEN or self._failures >= self._threshold:
            self.trip(error)

    def trip(self, error: BaseException | None = None) -> None:
        """Open the circuit now (e.g. when the backend is unreachable at start-up)."""
        self._since = self._clock()
        self._failures = 0
        if self._state is not BreakerState.OPEN:
            self.opened_count += 1
            reason = "" if error is None else f" ({type(error).__name__}: {error})"
            self._change(
                BreakerState.OPEN,
                f"not calling it for {self._reset_seconds:g} s{reason}",
                level=logging.WARNING,
            )

    def _change(self, state: BreakerState, why: str, *, level: int = logging.INFO) -> None:
        log.log(level, "%s: circuit %s -> %s, %s", self._name, self._state, state, why)
        self._state = state
