"""Erasing fields of an entry (scope audit:erase): their values and salts leave every
revision, their digests stay, and the log gains an erase leaf (``integrity/erasure``).

Order, for a crash at any point: the erase leaf is appended first, then the revisions
are rewritten, then the kept Idempotency-Key answers and the tenant's cached pages are
dropped. A crash after the leaf leaves the values in place under a leaf that says
they were erased; the client's retry erases them (and appends a second leaf). Nothing
is ever erased without a leaf saying so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from audit_trail.core.errors import EntryNotFound, FieldError, ValidationFailed
from audit_trail.core.integrity.erasure import erased_revision, erasure_record, path_problem
from audit_trail.core.ledger.committer import GroupCommitter
from audit_trail.core.model import Entry
from audit_trail.core.ports import Clock, EntryRepository, QueryCache
from audit_trail.core.ports.idempotency import IdempotencyStore
from audit_trail.core.principal import Principal, Scope

MAX_FIELDS = 100
MAX_REASON = 1000
_SWEEPS = 3  # rewrites after the first, for revisions amended in while it ran


@dataclass(frozen=True, slots=True)
class EraseFieldsCommand:
    principal: Principal
    entry_id: str
    fields: Sequence[str]
    reason: str


@dataclass(frozen=True, slots=True)
class Erasure:
    """What an erasure did: the fields, the revisions it took them out of, and the
    index of its erase leaf (None when every field was erased already: no new leaf)."""

    entry_id: str
    fields: tuple[str, ...]
    revisions: tuple[int, ...]
    reason: str
    recorded_at: datetime
    recorded_by: str
    leaf_index: int | None


class HoldCheck(Protocol):
    """Refuses to touch an entry that a legal hold covers (``EntryHeld``)."""

    async def check(self, tenant: str, entry: Entry) -> None: ...


def erase_command_errors(fields: object, reason: object) -> list[FieldError]:
    """Every problem of an erase request's ``fields`` and ``reason``."""
    errors: list[FieldError] = []
    if not isinstance(fields, list) or not fields:
        errors.append(FieldError("fields", "must be a non-empty array of field paths"))
    elif len(fields) > MAX_FIELDS:
        errors.append(FieldError("fields", f"must hold at most {MAX_FIELDS} paths"))
    else:
        for i, path in enumerate(fields):
            problem = path_problem(path)
            if problem is not None:
                errors.append(FieldError(f"fields[{i}]", problem))
    if not isinstance(reason, str) or not reason.strip():
        errors.append(FieldError("reason", "must be a non-empty string"))
    elif len(reason) > MAX_REASON:
        errors.append(FieldError("reason", f"must be at most {MAX_REASON} characters"))
    return errors


class EraseFields:
    def __init__(
        self,
        repository: EntryRepository,
        committer: GroupCommitter,
        clock: Clock,
        cache: QueryCache,
        idempotency: IdempotencyStore,
        *,
        holds: HoldCheck | None = None,
    ) -> None:
        self._repository = repository
        self._committer = committer
        self._clock = clock
        self._cache = cache
        self._idempotency = idempotency
        self._holds = holds

    async def execute(self, command: EraseFieldsCommand) -> Erasure:
        principal = command.principal
        principal.require(Scope.ERASE)
        errors = erase_command_errors(list(command.fields), command.reason)
        if errors:
            raise ValidationFailed(errors)
        tenant, entry_id = principal.tenant, command.entry_id
        fields = tuple(sorted(set(command.fields)))
        revisions = await self._repository.history(tenant, entry_id)
        if not revisions:
            raise EntryNotFound(entry_id)
        if self._holds is not None:
            await self._holds.check(tenant, revisions[-1])
        _check_known_paths(revisions, fields)
        erased = _erased(revisions, fields)
        now = self._clock.now()
        if not erased:  # all of them erased already: nothing to do, nothing to record
            return Erasure(entry_id, fields, (), command.reason, now, principal.subject, None)
        numbers = tuple(revision.revision for revision in erased)
        record = erasure_record(
            tenant=tenant,
            entry_id=entry_id,
            revisions=numbers,
            fields=fields,
            reason=command.reason,
            recorded_at=now,
            recorded_by=principal.subject,
        )
        leaf_index = await self._committer.append(tenant, [record])
        await self._rewrite(tenant, entry_id, fields, erased)
        await self._idempotency.forget_responses(tenant, entry_id)
        await self._cache.forget(tenant)
        return Erasure(
            entry_id, fields, numbers, command.reason, now, principal.subject, leaf_index
        )

    async def _rewrite(
        self, tenant: str, entry_id: str, fields: Sequence[str], erased: list[Entry]
    ) -> None:
        """Rewrite ``erased``, then any revision amended in meanwhile that still holds
        one of ``fields`` (an amendment copies what it does not replace)."""
        for _ in range(_SWEEPS + 1):
            await self._repository.rewrite(erased)
            erased = _erased(await self._repository.history(tenant, entry_id), fields)
            if not erased:
                return


def _erased(revisions: Sequence[Entry], fields: Sequence[str]) -> list[Entry]:
    stripped = (erased_revision(revision, fields) for revision in revisions)
    return [revision for revision in stripped if revision is not None]


def _check_known_paths(revisions: Sequence[Entry], fields: Sequence[str]) -> None:
    """A path that no revision holds, nor has erased, is a 422: most likely a typo."""
    known: set[str] = set()
    for revision in revisions:
        known.update(revision.erased)
        if revision.evidence is not None:
            known.update(revision.evidence.salts)
    unknown = [path for path in fields if path not in known]
    if unknown:
        raise ValidationFailed(
            FieldError("fields", f"no revision of this entry holds {path}") for path in unknown
        )
