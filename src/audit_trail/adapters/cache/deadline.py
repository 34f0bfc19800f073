"""A timeout that measures the backend, not the event loop's backlog.

A plain timer around a Redis command also counts the time the event loop spent on
other callbacks: under saturation a reply that arrived after 1 ms is read after
80 ms, and the timer fires although Redis answered. Worse, when a blocked loop wakes
up, the timer and the reply become ready in the same turn, and uvloop runs due
timers before it reads its sockets: the command fails with its answer in hand.

``LagAwareDeadline(future, seconds, limit)`` fails ``future`` with ``TimeoutError``
only when its timer fires on time (within ``tolerance`` of when it was due): the loop
was free to handle a reply, and none had come within ``seconds``. A timer that fires
late is evidence that the loop, not the backend, was busy; it is re-armed for
another ``seconds``, until ``limit`` seconds have passed in all. A timer that fires on
time looks once more two loop turns later, after the loop has polled its sockets. It
works on the reply's future itself, so a reply that lands first simply wins, and
nothing is cancelled: the command stays queued on its connection, its late reply
dropped.
"""

from __future__ import annotations

import asyncio
from typing import Any


class LagAwareDeadline:
    __slots__ = ("_future", "_handle", "_hard", "_loop", "_seconds", "_slack")

    def __init__(
        self,
        future: asyncio.Future[Any],
        seconds: float,
        limit: float,
        *,
        tolerance: float | None = None,
    ) -> None:
        self._future = future
        self._loop = loop = future.get_loop()
        self._seconds = seconds
        began = loop.time()
        self._hard = began + max(seconds, limit)
        self._slack = max(seconds / 4, 0.005) if tolerance is None else tolerance
        due = began + seconds
        self._handle: asyncio.Handle | None = loop.call_at(due, self._check, due)

    def cancel(self) -> None:
        """The reply came (or the caller gave up): the deadline no longer applies."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _check(self, due: float) -> None:
        now = self._loop.time()
        if now - due > self._slack and now < self._hard:  # the loop was busy: again
            again = min(now + self._seconds, self._hard)
            self._handle = self._loop.call_at(again, self._check, again)
        elif now < self._hard:
            # A reply that came while the last turn ran may still be unread. A
            # callback queued now runs in the next turn, before or after that turn's
            # poll depending on the loop; one queued from it runs after a poll on
            # every loop (asyncio's and uvloop's alike), whatever the clock says.
            self._handle = self._loop.call_soon(self._next_turn)
        else:
            self._expire()

    def _next_turn(self) -> None:
        self._handle = self._loop.call_soon(self._expire)

    def _expire(self) -> None:
        self._handle = None
        if not self._future.done():
            self._future.set_exception(TimeoutError("Redis did not answer in time"))
