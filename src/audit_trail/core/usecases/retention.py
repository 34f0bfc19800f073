"""The tenant's retention period (scope audit:admin): read, set, clear."""

from __future__ import annotations

from audit_trail.core.ports.retention import RetentionStore
from audit_trail.core.principal import Principal, Scope
from audit_trail.core.retention.policy import RetentionPolicy, effective_policy


class TenantRetention:
    """``PUT`` sets the tenant's own period (``None``: keep forever, whatever the
    default); ``DELETE`` drops it, so that ``AUDIT_RETENTION_DAYS`` applies again."""

    def __init__(self, store: RetentionStore, default_days: float | None) -> None:
        self._store = store
        self._default_days = default_days

    async def get(self, principal: Principal) -> RetentionPolicy:
        principal.require(Scope.ADMIN)
        return effective_policy(await self._store.setting(principal.tenant), self._default_days)

    async def set(self, principal: Principal, days: float | None) -> RetentionPolicy:
        principal.require(Scope.ADMIN)
        await self._store.set_setting(principal.tenant, days)
        return effective_policy((days,), self._default_days)

    async def clear(self, principal: Principal) -> RetentionPolicy:
        principal.require(Scope.ADMIN)
        await self._store.clear_setting(principal.tenant)
        return effective_policy(None, self._default_days)
