"""Recording under an Idempotency-Key: the first outcome, once, whatever the retries.

``IdempotentRecording.execute`` claims the tenant's key for this request, with the ids
of the entries it will record chosen up front, then records them under those ids. An
id is stored at most once (every storage refuses a second entry with it), so the
entries a key stands for are stored once, by whichever request gets there first, even
when a process dies, or storage times out, between storing them and answering: a
later request with the key finds them by their ids and answers with them. The first
answer is kept with the record too, and replayed as it was sent.

A request with a key that is held (and not expired):
- another body (fingerprint): ``IdempotencyKeyReused``;
- an answer kept: that answer;
- its entries stored: the answer rebuilt from them (revision 1, as the caller may see
  it), kept for next time;
- its lease running: ``IdempotencyKeyInUse``, nothing done;
- its lease over (its request gave up, or its process died): this request takes it
  over and records the entries under the same ids; if the earlier one stored them
  after all, storage refuses the ids, and the answer is rebuilt from what it stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from audit_trail.core.errors import DuplicateEntry, IdempotencyKeyInUse, IdempotencyKeyReused
from audit_trail.core.integrity.canonical import canonical_json
from audit_trail.core.model import Entry
from audit_trail.core.ports import Clock, EntryProcessor, EntryRepository, IdFactory
from audit_trail.core.ports.idempotency import IdempotencyRecord, IdempotencyStore, StoredResponse
from audit_trail.core.principal import Principal, Scope
from audit_trail.core.timestamps import to_epoch_millis

log = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 86_400
DEFAULT_LEASE_SECONDS = 30.0

Perform = Callable[[Sequence[str]], Awaitable[StoredResponse]]
"""Records the request's entries under these ids; its answer."""
Render = Callable[[Sequence[Entry]], StoredResponse]
"""The answer to the request, from its entries as the caller may see them."""


def request_fingerprint(operation: str, payload: object) -> str:
    """What a request means, as a hex SHA-256: the operation and the RFC 8785 canonical
    form of its decoded JSON body (so whitespace and member order do not count). A
    body JCS cannot represent exactly (say, an integer beyond 2**53) counts as its
    ``repr``, which is still the same for the same decoded value."""
    try:
        body = canonical_json(payload)
    except (TypeError, ValueError):
        body = repr(payload).encode("utf-8", "surrogatepass")
    return hashlib.sha256(operation.encode() + b"\x00" + body).hexdigest()


@dataclass(frozen=True, slots=True)
class IdempotentCommand:
    """``count``: how many entries the request records (one id each)."""

    principal: Principal
    key: str
    fingerprint: str
    count: int


@dataclass(frozen=True, slots=True)
class IdempotentOutcome:
    response: StoredResponse
    replayed: bool  # an earlier request's outcome, not this one's


class IdempotentRecording:
    """The keyed path of RecordEntry and RecordEntries (scope audit:write)."""

    def __init__(
        self,
        store: IdempotencyStore,
        entries: EntryRepository,
        processor: EntryProcessor,
        clock: Clock,
        ids: IdFactory,
        *,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        self._store = store
        self._entries = entries
        self._processor = processor
        self._clock = clock
        self._ids = ids
        self._ttl_ms = ttl_seconds * 1000
        self._lease_ms = math.ceil(lease_seconds * 1000)

    async def execute(
        self, command: IdempotentCommand, perform: Perform, render: Render
    ) -> IdempotentOutcome:
        command.principal.require(Scope.WRITE)
        now = self._now()
        claim = IdempotencyRecord(
            tenant=command.principal.tenant,
            key=command.key,
            fingerprint=command.fingerprint,
            entry_ids=tuple(self._ids.new_id() for _ in range(command.count)),
            owner=_new_owner(),
            lease_until=now + self._lease_ms,
            expires_at=now + self._ttl_ms,
        )
        held = await self._store.claim(claim, now)
        if held is None:
            return await self._run(claim, command.principal, perform, render)
        if held.fingerprint != command.fingerprint:
            raise IdempotencyKeyReused()
        if held.response is not None:
            return IdempotentOutcome(held.response, replayed=True)
        stored = await self._stored(held, command.principal)
        if stored is not None:
            return IdempotentOutcome(await self._complete(held, render(stored)), replayed=True)
        if held.lease_until > now:
            raise IdempotencyKeyInUse(max(1, math.ceil((held.lease_until - now) / 1000)))
        owner = _new_owner()
        if not await self._store.take_over(held, owner, now + self._lease_ms):
            raise IdempotencyKeyInUse()  # another request took it over first
        taken = replace(held, owner=owner, lease_until=now + self._lease_ms)
        return await self._run(taken, command.principal, perform, render)

    async def _run(
        self, record: IdempotencyRecord, principal: Principal, perform: Perform, render: Render
    ) -> IdempotentOutcome:
        try:
            response = await perform(record.entry_ids)
        except DuplicateEntry as exc:
            # our ids: an earlier owner of the key stored them after all
            stored = None
            if exc.entry_id in record.entry_ids:
                stored = await self._stored(record, principal)
            if stored is None:
                await self._release(record)
                raise
            return IdempotentOutcome(await self._complete(record, render(stored)), replayed=True)
        except BaseException:
            await asyncio.shield(self._release(record))
            raise
        return IdempotentOutcome(await self._complete(record, response), replayed=False)

    async def _stored(self, record: IdempotencyRecord, principal: Principal) -> list[Entry] | None:
        """The record's entries (revision 1 of each, as ``principal`` may see them), or
        None when they are not all stored."""
        found: list[Entry] = []
        for entry_id in record.entry_ids:  # the first one missing: none is stored
            entry = await self._entries.revision(record.tenant, entry_id, 1)
            if entry is None:
                return None
            found.append(await self._processor.redact_for_reader(entry, principal))
        return found

    async def _complete(
        self, record: IdempotencyRecord, response: StoredResponse
    ) -> StoredResponse:
        """Keep ``response`` as the key's answer; when storage cannot take it now, the
        entries still say what happened, and a retry rebuilds it from them."""
        try:
            await self._store.complete(record, response)
        except Exception:
            log.warning("could not keep the answer of key %r", record.key, exc_info=True)
        return response

    async def _release(self, record: IdempotencyRecord) -> None:
        try:
            await self._store.release(record, self._now())
        except Exception:  # the lease then runs out by itself
            log.warning("could not release Idempotency-Key %r", record.key, exc_info=True)

    def _now(self) -> int:
        return to_epoch_millis(self._clock.now())


def _new_owner() -> str:
    return secrets.token_hex(16)
