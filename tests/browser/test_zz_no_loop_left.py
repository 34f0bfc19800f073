"""Runs after the browser modules (pytest takes files in name order): the browser of
the modules before has been closed, so asyncio tests that follow find no running loop."""

import asyncio


def test_the_browser_leaves_no_event_loop_behind() -> None:
    async def answer() -> int:
        return 42

    assert asyncio.run(answer()) == 42
