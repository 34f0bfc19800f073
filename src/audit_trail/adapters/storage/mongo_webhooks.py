"""MongoWebhookStore: webhook subscriptions, one document per subscription in
``webhooks``, its delivery log inside it (``attempts``, ``$slice``d to the newest
``DELIVERY_LOG_SIZE``). ``_id`` is ``<tenant>/<id>``, so another tenant's id is not
found. A lease and a save are one conditional ``update_one`` each: of two processes,
one wins. The secret is stored: signing needs it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument

from audit_trail.adapters.storage.mongo_errors import storage_errors
from audit_trail.core.holds import filters_to_json, parse_filter
from audit_trail.core.ports.webhooks import DELIVERY_LOG_SIZE, Progress
from audit_trail.core.query import EntryFilters
from audit_trail.core.webhooks.subscription import ACTIVE, DeliveryAttempt, Subscription

WEBHOOKS_COLLECTION = "webhooks"
_NO_LOG = {"attempts": 0}


def _key(tenant: str, subscription_id: str) -> str:
    return f"{tenant}/{subscription_id}"


class MongoWebhookStore:
    def __init__(self, webhooks: Any) -> None:
        self._webhooks = webhooks

    async def create(self, subscription: Subscription) -> None:
        s = subscription
        with storage_errors():
            await self._webhooks.insert_one(
                {
                    "_id": _key(s.tenant, s.id),
                    "tenant": s.tenant,
                    "id": s.id,
                    "url": s.url,
                    "filter": filters_to_json(s.filters),
                    "description": s.description,
                    "secret": s.secret,
                    "created_at": s.created_at,
                    "created_by": s.created_by,
                    "cursor": s.cursor,
                    "state": s.state,
                    "failures": s.failures,
                    "last_error": s.last_error,
                    "next_attempt_at": s.next_attempt_at,
                    "lease_owner": None,
                    "lease_until": None,
                    "attempts": [],
                }
            )

    async def get(self, tenant: str, subscription_id: str) -> Subscription | None:
        with storage_errors():
            found = await self._webhooks.find_one({"_id": _key(tenant, subscription_id)}, _NO_LOG)
        return None if found is None else _subscription(found)

    async def list(self, tenant: str) -> Sequence[Subscription]:
        with storage_errors():
            cursor = self._webhooks.find({"tenant": tenant}, _NO_LOG)
            found = [_subscription(d) async for d in cursor.sort([("created_at", ASCENDING)])]
        return sorted(found, key=lambda sub: (sub.created_at, sub.id))

    async def delete(self, tenant: str, subscription_id: str) -> bool:
        with storage_errors():
            result = await self._webhooks.delete_one({"_id": _key(tenant, subscription_id)})
        return bool(result.deleted_count)

    async def resume(self, tenant: str, subscription_id: str) -> Subscription | None:
        with storage_errors():
            found = await self._webhooks.find_one_and_update(
                {"_id": _key(tenant, subscription_id)},
                {"$set": {"state": ACTIVE, "failures": 0, "next_attempt_at": None}},
                projection=_NO_LOG,
                return_document=ReturnDocument.AFTER,
            )
        return None if found is None else _subscription(found)

    async def claimable(self, now: datetime) -> Sequence[Subscription]:
        query = {"state": ACTIVE, "$or": [{"lease_owner": None}, {"lease_until": {"$lt": now}}]}
        with storage_errors():
            return [_subscription(d) async for d in self._webhooks.find(query, _NO_LOG)]

    async def lease(
        self, tenant: str, subscription_id: str, owner: str, until: datetime, now: datetime
    ) -> bool:
        free = [{"lease_owner": None}, {"lease_owner": owner}, {"lease_until": {"$lt": now}}]
        with storage_errors():
            result = await self._webhooks.update_one(
                {"_id": _key(tenant, subscription_id), "$or": free},
                {"$set": {"lease_owner": owner, "lease_until": until}},
            )
        return bool(result.matched_count)

    async def release(self, tenant: str, subscription_id: str, owner: str) -> None:
        with storage_errors():
            await self._webhooks.update_one(
                {"_id": _key(tenant, subscription_id), "lease_owner": owner},
                {"$set": {"lease_owner": None, "lease_until": None}},
            )

    async def save(
        self,
        tenant: str,
        subscription_id: str,
        owner: str,
        *,
        expected_cursor: int,
        progress: Progress,
        attempts: Sequence[DeliveryAttempt],
    ) -> bool:
        p = progress
        update: dict[str, Any] = {
            "$set": {
                "cursor": p.cursor,
                "state": p.state,
                "failures": p.failures,
                "last_error": p.last_error,
                "next_attempt_at": p.next_attempt_at,
            }
        }
        if attempts:
            logged = [_attempt_document(a) for a in attempts]
            update["$push"] = {"attempts": {"$each": logged, "$slice": -DELIVERY_LOG_SIZE}}
        query = {
            "_id": _key(tenant, subscription_id),
            "lease_owner": owner,
            "cursor": expected_cursor,
        }
        with storage_errors():
            result = await self._webhooks.update_one(query, update)
        return bool(result.matched_count)

    async def attempts(
        self, tenant: str, subscription_id: str, limit: int
    ) -> Sequence[DeliveryAttempt]:
        with storage_errors():
            found = await self._webhooks.find_one(
                {"_id": _key(tenant, subscription_id)}, {"attempts": 1}
            )
        logged = [] if found is None else found.get("attempts", [])
        return [_attempt(d) for d in reversed(logged)][:limit]


def _attempt_document(a: DeliveryAttempt) -> dict[str, Any]:
    return {
        "at": a.at,
        "index": a.index,
        "webhook_id": a.webhook_id,
        "status": a.status,
        "error": a.error,
        "duration_ms": a.duration_ms,
    }


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _attempt(d: Mapping[str, Any]) -> DeliveryAttempt:
    at = _utc(d["at"])
    assert at is not None
    return DeliveryAttempt(
        at, d["index"], d["webhook_id"], d["status"], d["error"], d["duration_ms"]
    )


def _subscription(d: Mapping[str, Any]) -> Subscription:
    created_at = _utc(d["created_at"])
    assert created_at is not None
    return Subscription(
        id=d["id"],
        tenant=d["tenant"],
        url=d["url"],
        filters=parse_filter(d["filter"]) if d["filter"] else EntryFilters(),
        description=d["description"],
        secret=d["secret"],
        created_at=created_at,
        created_by=d["created_by"],
        cursor=d["cursor"],
        state=d["state"],
        failures=d["failures"],
        last_error=d["last_error"],
        next_attempt_at=_utc(d["next_attempt_at"]),
    )
