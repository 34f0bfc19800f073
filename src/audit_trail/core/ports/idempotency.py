"""IdempotencyStore: what storage keeps of each Idempotency-Key, per tenant.

A record binds a tenant's key to one request (its fingerprint) and to the ids of the
entries that request records, chosen before anything is stored. Whether the request
took effect is then a fact of the entries themselves: they are stored under those ids
or they are not, and an id can be stored only once. The record may also keep the
first answer (``StoredResponse``), once there is one, to replay it byte for byte.

Times are epoch milliseconds of the injected clock. A record whose ``expires_at`` is
past is treated as absent, and storage may purge it. ``lease_until`` is how long the
record's ``owner`` (one request of one process) may work on it undisturbed: past it,
another request with the same key and body may take it over.

Every method is atomic with respect to every other, across processes, and confined to
the record's tenant. ``StorageUnavailable`` when the backend cannot be reached in time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The first answer to a keyed request, as sent: status, headers, body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    tenant: str
    key: str
    fingerprint: str
    entry_ids: tuple[str, ...]  # the ids of the entries the request records, in order
    owner: str  # who works on it now: a fresh random token per request
    lease_until: int
    expires_at: int
    response: StoredResponse | None = None


class IdempotencyStore(Protocol):
    async def claim(self, record: IdempotencyRecord, now: int) -> IdempotencyRecord | None:
        """Store ``record`` unless the tenant holds a record of that key that has not
        expired at ``now``: None when stored, else that record, unchanged. An expired
        record is replaced. Storage may purge some expired records on the way."""
        ...

    async def take_over(self, record: IdempotencyRecord, owner: str, lease_until: int) -> bool:
        """Make ``owner`` the record's owner until ``lease_until``, if it is still
        ``record.owner``'s and has no response; whether it did."""
        ...

    async def release(self, record: IdempotencyRecord, now: int) -> None:
        """End ``record.owner``'s lease at ``now`` (the request gave up: another may
        take the record over at once); nothing when another owns it or it has a
        response. The record keeps its entry ids."""
        ...

    async def complete(self, record: IdempotencyRecord, response: StoredResponse) -> None:
        """Keep ``response`` as the answer of the record of ``record``'s key that names
        ``record.entry_ids``, unless it has one already (the first one stays)."""
        ...

    async def find(self, tenant: str, key: str, now: int) -> IdempotencyRecord | None:
        """The tenant's record of ``key``, None when absent or expired at ``now``."""
        ...

    async def forget_responses(self, tenant: str, entry_id: str) -> None:
        """Drop the kept answer of every record of ``tenant`` that names ``entry_id``
        (its body may show values since erased); the records keep their entry ids, so
        a retry rebuilds the answer from the entries as they are now."""
        ...
