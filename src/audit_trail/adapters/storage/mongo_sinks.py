"""MongoSinkCursors: the sinks' cursors, one document per (sink, tenant) in
``sink_cursors`` (``_id`` is ``<sink>/<tenant>``), made by its first lease. A lease
and an advance are one conditional ``update_one`` each: of two processes, one wins
(a lease's upsert that meets another owner's document fails on the ``_id``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from audit_trail.adapters.storage.mongo_errors import storage_errors
from audit_trail.core.ports.sinks import NO_CURSOR

SINK_CURSORS_COLLECTION = "sink_cursors"


def _key(sink: str, tenant: str) -> str:
    return f"{sink}/{tenant}"


class MongoSinkCursors:
    def __init__(self, cursors: Any) -> None:
        self._cursors = cursors

    async def cursor(self, sink: str, tenant: str) -> int:
        with storage_errors():
            found = await self._cursors.find_one({"_id": _key(sink, tenant)}, {"cursor": 1})
        return NO_CURSOR if found is None else int(found["cursor"])

    async def lease(
        self, sink: str, tenant: str, owner: str, until: datetime, now: datetime
    ) -> bool:
        free = [{"lease_owner": None}, {"lease_owner": owner}, {"lease_until": {"$lt": now}}]
        try:
            with storage_errors():
                await self._cursors.update_one(
                    {"_id": _key(sink, tenant), "$or": free},
                    {
                        "$set": {"lease_owner": owner, "lease_until": until},
                        "$setOnInsert": {"sink": sink, "tenant": tenant, "cursor": NO_CURSOR},
                    },
                    upsert=True,
                )
        except DuplicateKeyError:
            return False  # held by another owner
        return True

    async def release(self, sink: str, tenant: str, owner: str) -> None:
        with storage_errors():
            await self._cursors.update_one(
                {"_id": _key(sink, tenant), "lease_owner": owner},
                {"$set": {"lease_owner": None, "lease_until": None}},
            )

    async def advance(self, sink: str, tenant: str, owner: str, expected: int, cursor: int) -> bool:
        with storage_errors():
            result = await self._cursors.update_one(
                {"_id": _key(sink, tenant), "lease_owner": owner, "cursor": expected},
                {"$set": {"cursor": cursor}},
            )
        return bool(result.matched_count)
