# ruff: noqa: PLC0415  (adapters are imported lazily, inside the branch that uses them)
"""Opening and closing the clients behind the ports, one function per port.

Each is an async generator for ``providers.Resource``: it opens what
``settings`` selects, yields the adapter, and closes it on shutdown. Adapter modules
are imported inside their branch, so a deployment needs only the drivers it uses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from audit_trail.core.index.integrate import IndexIntegrator
from audit_trail.core.index.upkeep import IndexFollower, IndexUpkeep, IntegrateOnWrite
from audit_trail.core.ports import QueryCache
from audit_trail.core.ports.storage import Storage
from audit_trail.entrypoints.settings import Settings, SettingsError


def _missing(setting: str, extra: str, exc: ImportError) -> SettingsError:
    return SettingsError(
        f"{setting}: its driver cannot be loaded ({exc}); install audit-trail[{extra}]"
    )


async def open_repository(settings: Settings) -> AsyncIterator[Storage]:
    """The Storage that ``settings.storage`` names, open until shutdown."""
    if settings.storage == "memory":
        from audit_trail.adapters.storage.memory import InMemoryEntryRepository

        yield InMemoryEntryRepository()
    elif settings.storage == "sqlite":
        from audit_trail.adapters.storage.sqlite import SqliteEntryRepository

        sqlite = await SqliteEntryRepository.open(settings.sqlite_path)
        try:
            yield sqlite
        finally:
            await sqlite.close()
    elif settings.storage == "mongo":
        try:
            from audit_trail.adapters.storage.mongo import (
                OlderLayout,
                open_mongo_repository,
                parse_write_concern,
            )
        except ImportError as exc:
            raise _missing("AUDIT_STORAGE=mongo", "mongo", exc) from exc
        try:
            parse_write_concern(settings.mongo_write_concern, journal=settings.mongo_journal)
        except ValueError as exc:
            raise SettingsError(f"AUDIT_MONGO_WRITE_CONCERN: {exc}") from None
        try:
            async with open_mongo_repository(
                uri=settings.mongo_uri,
                database=settings.mongo_database,
                write_concern=settings.mongo_write_concern,
                journal=settings.mongo_journal,
                timeout_ms=settings.mongo_timeout_ms,
            ) as mongo:
                yield mongo
        except OlderLayout as exc:  # only opening raises it
            raise SettingsError(f"AUDIT_MONGO_DATABASE: {exc}") from None
    else:
        raise SettingsError(f"AUDIT_STORAGE: unknown storage {settings.storage!r}")


async def open_index_upkeep(
    integrator: IndexIntegrator, settings: Settings
) -> AsyncIterator[IndexUpkeep | None]:
    """How writes keep the query index (``core.index.upkeep``): on each write, behind
    them by ``query_index_delay_seconds``, or (0) only when a proof asks."""
    if settings.query_index_on_write:
        yield IntegrateOnWrite(integrator)
    elif settings.query_index_delay_seconds > 0:
        follower = IndexFollower(integrator, settings.query_index_delay_seconds)
        try:
            yield follower
        finally:
            await follower.close()
    else:
        yield None


async def open_query_cache(settings: Settings) -> AsyncIterator[QueryCache]:
    """The QueryCache that ``settings.cache`` names, open until shutdown."""
    if settings.cache == "memory":
        from audit_trail.adapters.cache.memory import InMemoryQueryCache

        yield InMemoryQueryCache(
            ttl_seconds=settings.cache_ttl_seconds,
            max_entries=settings.cache_max_entries,
            max_bytes=settings.cache_max_bytes,
            max_page_bytes=settings.cache_max_page_bytes,
        )
    elif settings.cache == "none":
        from audit_trail.adapters.cache.none import NoQueryCache

        yield NoQueryCache()
    elif settings.cache == "redis":
        try:
            from audit_trail.adapters.cache.redis import open_redis_query_cache
        except ImportError as exc:
            raise _missing("AUDIT_CACHE=redis", "redis", exc) from exc
        async with open_redis_query_cache(
            url=settings.redis_url,
            key_prefix=settings.redis_key_prefix,
            ttl_seconds=settings.cache_ttl_seconds,
            timeout_ms=settings.redis_timeout_ms,
            max_page_bytes=settings.cache_max_page_bytes,
            breaker_seconds=settings.redis_breaker_seconds,
            invalidate_timeout_ms=settings.redis_invalidate_timeout_ms,
            tenant_max_bytes=settings.redis_tenant_max_bytes,
        ) as cache:
            yield cache
    else:
        raise SettingsError(f"AUDIT_CACHE: unknown cache {settings.cache!r}")
