"""A background loop stops when cancelled even if a driver swallowed the
``CancelledError`` (as PyMongo's async client may)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from audit_trail.core.cancellation import raise_if_cancelled


async def swallowing_driver_call() -> None:
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(0.05)


async def loop(checks: bool, rounds: list[int], most: int = 100) -> None:
    while len(rounds) < most:
        if checks:
            raise_if_cancelled()
        rounds.append(1)
        await swallowing_driver_call()


async def test_the_loop_stops_though_the_driver_swallowed_the_cancellation() -> None:
    rounds: list[int] = []
    task = asyncio.create_task(loop(checks=True, rounds=rounds))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 1)
    assert rounds == [1]  # the round in progress ran to its end, no other began


async def test_without_the_check_the_loop_runs_on() -> None:
    rounds: list[int] = []
    task = asyncio.create_task(loop(checks=False, rounds=rounds, most=3))
    await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.wait_for(task, 1)  # it ended by itself, after its last round
    assert len(rounds) == 3
