"""MongoIdempotencyStore: the Idempotency-Key records in the database of the entries.

One document per tenant and key in ``idempotency``, its ``_id`` the pair, so the
unique ``_id`` index is what makes a claim win once across processes and machines:
``insert_one``, and on a duplicate key a read of the record held; an expired one is
replaced only if it is still the one that was read (compare and set on its owner and
expiry). Every other change is one ``update_one`` conditioned the same way. Writes use
the repository's write concern, so a claim is as durable as an entry.

Expired records are ignored by every read and deleted by a sweep that claims run at
most once a minute (of the injected clock) per process, through the index on
``expires_at``. The sweep follows the clock the service runs on rather than a TTL
index, which would follow the server's clock instead.
"""

from __future__ import annotations

from typing import Any

from bson import Binary
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from audit_trail.adapters.storage.mongo_errors import storage_errors
from audit_trail.core.errors import StorageUnavailable
from audit_trail.core.ports.idempotency import IdempotencyRecord, StoredResponse

IDEMPOTENCY_COLLECTION = "idempotency"
IDEMPOTENCY_INDEXES = [IndexModel([("expires_at", ASCENDING)], name="expires_at")]
SWEEP_EVERY_MS = 60_000
_MAX_TRIES = 8  # claims that lose a race for an expired record before giving up


class MongoIdempotencyStore:
    """On a collection with the repository's codec options and write concern."""

    def __init__(self, collection: Any) -> None:
        self._records = collection
        self._swept_at: int | None = None

    async def claim(self, record: IdempotencyRecord, now: int) -> IdempotencyRecord | None:
        with storage_errors():
            await self._sweep(now)
            document = _document(record)
            for _ in range(_MAX_TRIES):
                try:
                    await self._records.insert_one(document)
                    return None
                except DuplicateKeyError:
                    pass
                held = await self._records.find_one({"_id": document["_id"]})
                if held is None:
                    continue  # swept meanwhile: insert again
                if held["expires_at"] > now:
                    return _record(held)
                replaced = await self._records.replace_one(
                    {"_id": held["_id"], "owner": held["owner"], "expires_at": held["expires_at"]},
                    document,
                )
                if replaced.matched_count == 1:
                    return None
        raise StorageUnavailable("too many requests race for one Idempotency-Key")

    async def take_over(self, record: IdempotencyRecord, owner: str, lease_until: int) -> bool:
        with storage_errors():
            result = await self._records.update_one(
                {"_id": _id(record), "owner": record.owner, "response": None},
                {"$set": {"owner": owner, "lease_until": lease_until}},
            )
        return bool(result.matched_count == 1)

    async def release(self, record: IdempotencyRecord, now: int) -> None:
        with storage_errors():
            await self._records.update_one(
                {"_id": _id(record), "owner": record.owner, "response": None},
                {"$set": {"lease_until": now}},
            )

    async def complete(self, record: IdempotencyRecord, response: StoredResponse) -> None:
        with storage_errors():
            await self._records.update_one(
                {"_id": _id(record), "entry_ids": list(record.entry_ids), "response": None},
                {"$set": {"response": _response_document(response)}},
            )

    async def forget_responses(self, tenant: str, entry_id: str) -> None:
        with storage_errors():  # a scan of a day's records: erasure is rare
            await self._records.update_many(
                {"_id.tenant": tenant, "entry_ids": entry_id, "response": {"$ne": None}},
                {"$set": {"response": None}},
            )

    async def find(self, tenant: str, key: str, now: int) -> IdempotencyRecord | None:
        with storage_errors():
            held = await self._records.find_one(
                {"_id": {"tenant": tenant, "key": key}, "expires_at": {"$gt": now}}
            )
        return None if held is None else _record(held)

    async def _sweep(self, now: int) -> None:
        if self._swept_at is not None and now - self._swept_at < SWEEP_EVERY_MS:
            return
        self._swept_at = now
        await self._records.delete_many({"expires_at": {"$lte": now}})


def _id(record: IdempotencyRecord) -> dict[str, str]:
    return {"tenant": record.tenant, "key": record.key}


def _document(record: IdempotencyRecord) -> dict[str, Any]:
    return {
        "_id": _id(record),
        "fingerprint": record.fingerprint,
        "entry_ids": list(record.entry_ids),
        "owner": record.owner,
        "lease_until": record.lease_until,
        "expires_at": record.expires_at,
        "response": None if record.response is None else _response_document(record.response),
    }


def _response_document(response: StoredResponse) -> dict[str, Any]:
    return {
        "status": response.status,
        "headers": [list(header) for header in response.headers],
        "body": Binary(response.body),
    }


def _record(document: dict[str, Any]) -> IdempotencyRecord:
    stored = document.get("response")
    response = None
    if stored is not None:
        headers = tuple((str(name), str(value)) for name, value in stored["headers"])
        response = StoredResponse(int(stored["status"]), headers, bytes(stored["body"]))
    return IdempotencyRecord(
        tenant=document["_id"]["tenant"],
        key=document["_id"]["key"],
        fingerprint=document["fingerprint"],
        entry_ids=tuple(document["entry_ids"]),
        owner=document["owner"],
        lease_until=int(document["lease_until"]),
        expires_at=int(document["expires_at"]),
        response=response,
    )
