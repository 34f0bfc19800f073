"""QueryCache: a per-tenant cache of query results, an optimisation only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol


class QueryCache(Protocol):
    """Caches serialised query pages per tenant under a canonical-query key.

    ``invalidate(tenant)`` makes every page cached for that tenant unreachable
    (adapters keep a per-tenant generation in the key and bump it). It is called
    after a write is stored and before it is acknowledged (once per batch of
    concurrent writes of a tenant), and returns only when no process can serve a
    page older than that write: a cache shared by several processes waits until its
    invalidation is known to have landed (bounded; see each adapter for what it does
    when its backend cannot confirm in time).

    A cache never raises to its caller: when its backend fails, ``get_or_load``
    calls ``load`` and returns its result, and ``invalidate`` makes sure no stale
    page can be served once the backend is back.
    """

    async def get_or_load(
        self, tenant: str, key: str, load: Callable[[], Awaitable[bytes]]
    ) -> bytes:
        """The cached value for (tenant, key), or ``await load()``, cached and returned.

        Concurrent misses for the same key call ``load`` once (single flight)."""
        ...

    async def invalidate(self, tenant: str) -> None:
        """Forget every value cached for ``tenant``."""
        ...

    async def forget(self, tenant: str) -> None:
        """Invalidate ``tenant`` and delete the pages it had cached, rather than let
        them expire: after an erasure, no copy of an erased value may stay behind.
        Best effort, like everything a cache does: a backend that is down keeps its
        pages until they expire (and serves none of them, as after ``invalidate``)."""
        ...
