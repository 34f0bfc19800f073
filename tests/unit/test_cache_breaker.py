"""The circuit breaker of the Redis query cache, on a hand-driven clock."""

from __future__ import annotations

import logging

import pytest

from audit_trail.adapters.cache.breaker import BreakerState, CircuitBreaker


class ManualClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def state(breaker: CircuitBreaker) -> BreakerState:
    return breaker.state  # a call, so that mypy does not narrow the state between steps


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def breaker(clock: ManualClock) -> CircuitBreaker:
    return CircuitBreaker(reset_seconds=5, failure_threshold=3, clock=clock, name="test backend")


def test_it_opens_after_consecutive_failures_only(breaker: CircuitBreaker) -> None:
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert state(breaker) is BreakerState.CLOSED
    assert breaker.allow()
    breaker.record_failure()
    assert state(breaker) is BreakerState.OPEN
    assert not breaker.allow()
    assert breaker.opened_count == 1


def test_after_the_window_one_probe_goes_through(
    breaker: CircuitBreaker, clock: ManualClock
) -> None:
    breaker.trip()
    clock.now += 4.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.allow()
    assert state(breaker) is BreakerState.HALF_OPEN
    assert not breaker.allow()  # only one probe at a time
    breaker.record_success()
    assert state(breaker) is BreakerState.CLOSED
    assert breaker.allow()
    assert breaker.allow()


def test_a_failed_probe_opens_it_for_another_window(
    breaker: CircuitBreaker, clock: ManualClock
) -> None:
    breaker.trip()
    clock.now += 5
    assert breaker.allow()
    breaker.record_failure()
    assert state(breaker) is BreakerState.OPEN
    clock.now += 4
    assert not breaker.allow()
    clock.now += 1
    assert breaker.allow()
    assert breaker.opened_count == 2


def test_a_probe_that_never_reports_is_replaced(
    breaker: CircuitBreaker, clock: ManualClock
) -> None:
    breaker.trip()
    clock.now += 5
    assert breaker.allow()  # this probe's caller vanishes
    clock.now += 4
    assert not breaker.allow()
    clock.now += 1
    assert breaker.allow()


def test_results_of_calls_begun_before_it_opened_change_nothing(
    breaker: CircuitBreaker, clock: ManualClock
) -> None:
    breaker.trip()
    breaker.record_success()
    breaker.record_failure()
    assert state(breaker) is BreakerState.OPEN
    clock.now += 5  # the window is not extended by late failures
    assert breaker.allow()


def test_each_state_change_is_logged_once(
    breaker: CircuitBreaker, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for _ in range(10):
        breaker.record_failure(ConnectionError("refused"))
        breaker.allow()
    clock.now += 5
    for _ in range(10):
        breaker.allow()
    for _ in range(10):
        breaker.record_success()
        breaker.allow()
    assert [r.getMessage() for r in caplog.records] == [
        "test backend: circuit closed -> open, not calling it for 5 s (ConnectionError: refused)",
        "test backend: circuit open -> half_open, probing with one call",
        "test backend: circuit half_open -> closed, back in service",
    ]
    assert caplog.records[0].levelno == logging.WARNING
