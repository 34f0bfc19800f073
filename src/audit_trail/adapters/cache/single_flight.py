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


class FreshFlight(Generic[K]):
    """Single flight for loads that must be as new as their callers: a caller shares
    a run of ``work`` only if that run had not yet begun when the caller arrived.

    For answers read straight from the store, where nothing tells one process about
    another's writes: a run begun before a caller arrived may predate a write
    acknowledged before it. A caller that finds a run under way waits for the next
    one, which begins when the current one ends and serves everyone who arrived in
    the meantime; so concurrent identical calls cost at most one run at a time."""

    def __init__(self) -> None:
        self._pending: dict[K, asyncio.Task[bytes]] = {}  # created, not yet begun
        self._running: dict[K, asyncio.Task[bytes]] = {}

    async def run(self, key: K, work: Callable[[], Awaitable[bytes]]) -> bytes:
        flight = self._pending.get(key)
        if flight is None:
            flight = asyncio.ensure_future(self._fly(key, self._running.get(key), work))
            self._pending[key] = flight
            flight.add_done_callback(lambda done: self._landed(key, done))
        return await asyncio.shield(flight)

    async def _fly(
        self, key: K, before: asyncio.Task[bytes] | None, work: Callable[[], Awaitable[bytes]]
    ) -> bytes:
        if before is not None:
            await asyncio.wait([before])
        current = asyncio.current_task()
        if self._pending.get(key) is current:
            del self._pending[key]
        self._running[key] = current  # type: ignore[assignment]
        return await work()

    def _landed(self, key: K, flight: asyncio.Task[bytes]) -> None:
        for flights in (self._pending, self._running):
            if flights.get(key) is flight:
                del flights[key]
        if not flight.cancelled():
            flight.exception()
