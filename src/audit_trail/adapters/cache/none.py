"""NoQueryCache: a QueryCache that keeps nothing, for deployments that want none."""

from __future__ import annotations

from collections.abc import Awaitable, Callable


class NoQueryCache:
    """Every ``get_or_load`` calls ``load``; ``invalidate`` has nothing to forget."""

    async def get_or_load(
        self, tenant: str, key: str, load: Callable[[], Awaitable[bytes]]
    ) -> bytes:
        return await load()

    async def invalidate(self, tenant: str) -> None:
        return None

    async def forget(self, tenant: str) -> None:
        return None
