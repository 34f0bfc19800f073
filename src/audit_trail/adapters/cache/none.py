"""NoQueryCache: a QueryCache that keeps nothing, for deployments that want none."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from audit_trail.adapters.cache.single_flight import FreshFlight


class NoQueryCache:
    """Keeps no page, but keeps the port's single flight: identical queries that arrive
    together share one load. A load that began before a caller arrived is never
    shared with it (``FreshFlight``), so a reader never gets an answer older than a
    write acknowledged before it asked."""

    def __init__(self) -> None:
        self._flights: FreshFlight[tuple[str, str]] = FreshFlight()

    async def get_or_load(
        self, tenant: str, key: str, load: Callable[[], Awaitable[bytes]]
    ) -> bytes:
        return await self._flights.run((tenant, key), load)

    async def invalidate(self, tenant: str) -> None:
        return None

    async def forget(self, tenant: str) -> None:
        return None
