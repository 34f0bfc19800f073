"""MongoRetentionStore: retention settings (``retention_settings``, one document per
tenant with its own setting) and purges of the ``entries`` collection.

A purge replaces each revision document of its entries with what the log needs of
it: ``_id``, ``tenant``, ``log_index``, ``leaf`` and ``leaf_hash``, as a leaf that
commits no revision (``mongo_documents``). The revision's fields, its salts and its
flags are gone; the leaf (field digests only) and the tree stay, so the log and its
proofs still verify.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel

from audit_trail.adapters.storage.mongo_documents import (
    ENTRY_PROJECTION,
    LEAF,
    LEAF_HASH,
    LOG_INDEX,
    document_to_entry,
)
from audit_trail.adapters.storage.mongo_errors import storage_errors
from audit_trail.core.model import Entry

SETTINGS_COLLECTION = "retention_settings"
RETENTION_INDEXES = [
    IndexModel(
        [("tenant", ASCENDING), ("recorded_at", ASCENDING), ("id", ASCENDING)],
        name="tenant_recorded_at",
    )
]
_CURRENT = {"$or": [{"live": True}, {"deleted": True}]}
_KEPT = {"_id": "$_id", "tenant": "$tenant", LOG_INDEX: f"${LOG_INDEX}", LEAF: f"${LEAF}"}
_KEPT[LEAF_HASH] = f"${LEAF_HASH}"
_ORDER = [("recorded_at", ASCENDING), ("id", ASCENDING)]


class MongoRetentionStore:
    def __init__(self, entries: Any, settings: Any) -> None:
        self._entries = entries
        self._settings = settings

    async def setting(self, tenant: str) -> tuple[float | None] | None:
        with storage_errors():
            document = await self._settings.find_one({"_id": tenant})
        return None if document is None else (document.get("days"),)

    async def set_setting(self, tenant: str, days: float | None) -> None:
        with storage_errors():
            await self._settings.replace_one({"_id": tenant}, {"days": days}, upsert=True)

    async def clear_setting(self, tenant: str) -> bool:
        with storage_errors():
            result = await self._settings.delete_one({"_id": tenant})
        return bool(result.deleted_count)

    async def tenants_with_setting(self) -> Sequence[tuple[str, float | None]]:
        with storage_errors():
            cursor = self._settings.find({}).sort("_id", ASCENDING)
            return [(document["_id"], document.get("days")) async for document in cursor]

    async def log_tenants(self) -> Sequence[str]:
        with storage_errors():
            tenants = await self._entries.distinct("tenant")
        return sorted(tenants)

    async def expired(
        self,
        tenant: str,
        before: datetime,
        limit: int,
        after: tuple[datetime, str] | None = None,
    ) -> Sequence[Entry]:
        conditions: list[dict[str, Any]] = [
            {"tenant": tenant, "recorded_at": {"$lt": before}},
            _CURRENT,
        ]
        return await self._find({"$and": [*conditions, *_after(after)]}, limit)

    async def tombstoned_by(
        self,
        tenant: str,
        recorded_by: str,
        limit: int,
        after: tuple[datetime, str] | None = None,
    ) -> Sequence[Entry]:
        query = {"tenant": tenant, "deleted": True, "recorded_by": recorded_by}
        return await self._find({"$and": [query, *_after(after)]}, limit)

    async def _find(self, query: dict[str, Any], limit: int) -> list[Entry]:
        with storage_errors():
            cursor = self._entries.find(query, ENTRY_PROJECTION).sort(_ORDER).limit(limit)
            return [document_to_entry(document) async for document in cursor]

    async def purge(self, tenant: str, entry_ids: Collection[str]) -> int:
        query = {"tenant": tenant, "id": {"$in": sorted(set(entry_ids))}}
        with storage_errors():
            found = await self._entries.distinct("id", query)
            if found:
                await self._entries.update_many(query, [{"$replaceWith": _KEPT}])
        return len(found)


def _after(after: tuple[datetime, str] | None) -> list[dict[str, Any]]:
    """The condition "after ``(recorded_at, id)``", when there is one."""
    if after is None:
        return []
    at, entry_id = after
    return [{"$or": [{"recorded_at": {"$gt": at}}, {"recorded_at": at, "id": {"$gt": entry_id}}]}]
