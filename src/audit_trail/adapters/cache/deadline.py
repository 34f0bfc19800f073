"""A timeout that measures the backend, not the event loop's backlog.

``asyncio.timeout(0.05)`` around a Redis command also counts the time the event loop
spent on other callbacks: under saturation a reply that arrived after 1 ms is read
after 80 ms, and the timeout fires although Redis answered. Worse, when a blocked
loop wakes up, the timer and the reply become ready in the same turn and the timer
is run first, so the task is cancelled with its answer already in hand.

``lag_aware_timeout(seconds, limit)`` cancels the block only when its timer fires
on time (within ``tolerance`` of when it was due): the loop was free to handle a
reply, and none had come within ``seconds``. A timer that fires late is evidence that
the loop, not the backend, was busy; it is re-armed for another ``seconds`` and the
block goes on, until ``limit`` seconds have passed in all. When the block is cut off,
it is through ``asyncio.Timeout``, so the caller sees a ``TimeoutError``, and the
cancellation is scheduled behind the callbacks already ready, so that a reply which
arrived in the same turn still wins.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


@asynccontextmanager
async def lag_aware_timeout(
    seconds: float, limit: float, *, tolerance: float | None = None
) -> AsyncIterator[None]:
    loop = asyncio.get_running_loop()
    began = loop.time()
    hard = began + max(seconds, limit)
    slack = max(seconds / 4, 0.005) if tolerance is None else tolerance
    async with asyncio.timeout(None) as guard:
        handle: asyncio.TimerHandle | None = None

        def check(due: float) -> None:
            nonlocal handle
            now = loop.time()
            if now - due > slack and now < hard:  # the loop was busy: give it time again
                handle = loop.call_at(min(now + seconds, hard), check, min(now + seconds, hard))
            else:
                handle = None
                guard.reschedule(now)  # cancels the block, after the ready callbacks

        first = began + seconds
        handle = loop.call_at(first, check, first)
        try:
            yield
        finally:
            if handle is not None:
                handle.cancel()
