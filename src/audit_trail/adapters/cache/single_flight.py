"""Single flight: concurrent calls for one key share one run of the work."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class SingleFlight(Generic[K]):
    """Runs ``work`` once per key at a time; callers that arrive while it runs await
    the same result (or exception). The work runs in a task of its own, so a caller
    that gives up does not cancel it for the others. Once it finishes, the next call
    for that key starts afresh."""

    def __init__(self) -> None:
        self._flights: dict[K, asyncio.Task[bytes]] = {}

    async def run(self, key: K, work: Callable[[], Awaitable[bytes]]) -> bytes:
        flight = self._flights.get(key)
        if flight is None:
            flight = asyncio.ensure_future(work())
            self._flights[key] = flight
            flight.add_done_callback(lambda done: self._landed(key, done))
        return await asyncio.shield(flight)

    def _landed(self, key: K, flight: asyncio.Task[bytes]) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
        if not flight.cancelled():
            flight.exception()  # retrieved: when every caller gave up, nobody else looks
