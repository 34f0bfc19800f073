"""MongoLegalHolds: the legal holds, one document per hold in ``legal_holds``.

``_id`` is the hold id; every read filters on ``tenant`` too, so another tenant's id
is not found. A release is one ``find_one_and_update`` on ``released_at: null``: of
two, one wins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument

from audit_trail.adapters.storage.mongo_errors import storage_errors
from audit_trail.core.holds import Hold, filters_to_json, parse_filter

HOLDS_COLLECTION = "legal_holds"
HOLD_INDEXES = [
    IndexModel(
        [("tenant", ASCENDING), ("released_at", ASCENDING), ("created_at", ASCENDING)],
        name="tenant_active",
    )
]


class MongoLegalHolds:
    def __init__(self, holds: Any) -> None:
        self._holds = holds

    async def create(self, hold: Hold) -> None:
        with storage_errors():
            await self._holds.insert_one(
                {
                    "_id": hold.id,
                    "tenant": hold.tenant,
                    "filter": filters_to_json(hold.filters),
                    "reason": hold.reason,
                    "created_at": hold.created_at,
                    "created_by": hold.created_by,
                    "released_at": None,
                    "released_by": None,
                }
            )

    async def get(self, tenant: str, hold_id: str) -> Hold | None:
        with storage_errors():
            document = await self._holds.find_one({"_id": hold_id, "tenant": tenant})
        return None if document is None else _hold(document)

    async def list(self, tenant: str, *, include_released: bool = False) -> Sequence[Hold]:
        query: dict[str, Any] = {"tenant": tenant}
        if not include_released:
            query["released_at"] = None
        with storage_errors():
            cursor = self._holds.find(query).sort([("created_at", ASCENDING), ("_id", ASCENDING)])
            return [_hold(document) async for document in cursor]

    async def release(self, tenant: str, hold_id: str, at: datetime, by: str) -> Hold | None:
        with storage_errors():
            document = await self._holds.find_one_and_update(
                {"_id": hold_id, "tenant": tenant, "released_at": None},
                {"$set": {"released_at": at, "released_by": by}},
                return_document=ReturnDocument.AFTER,
            )
        if document is not None:
            return _hold(document)
        return await self.get(tenant, hold_id)


def _hold(document: Mapping[str, Any]) -> Hold:
    return Hold(
        id=document["_id"],
        tenant=document["tenant"],
        filters=parse_filter(document["filter"]),
        reason=document["reason"],
        created_at=document["created_at"],
        created_by=document["created_by"],
        released_at=document.get("released_at"),
        released_by=document.get("released_by"),
    )
