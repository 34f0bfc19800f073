"""Changing recorded entries: amendment (a new revision) and deletion (a tombstone)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from audit_trail.core.errors import EntryNotFound, RevisionConflict
from audit_trail.core.integrity.leaf import sealed_record
from audit_trail.core.ledger.committer import GroupCommitter
from audit_trail.core.model import Entry, EntryDraft
from audit_trail.core.ports import Clock, EntryProcessor, EntryRepository
from audit_trail.core.ports.processor import RequestContext
from audit_trail.core.principal import Principal, Scope
from audit_trail.core.usecases.record import prepare

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AmendEntryCommand:
    """Replace an entry's fields. ``expected_revision`` (from ``If-Match``) guards
    against overwriting a revision the caller has not seen."""

    principal: Principal
    entry_id: str
    draft: EntryDraft
    expected_revision: int | None = None
    context: RequestContext = field(default_factory=RequestContext)


@dataclass(frozen=True, slots=True)
class DeleteEntryCommand:
    principal: Principal
    entry_id: str
    expected_revision: int | None = None


async def current_revision(
    repository: EntryRepository, principal: Principal, entry_id: str, expected: int | None
) -> Entry:
    entry = await repository.get(principal.tenant, entry_id)
    if entry is None:
        raise EntryNotFound(entry_id)
    if expected is not None and expected != entry.revision:
        raise RevisionConflict(entry_id, expected, entry.revision)
    return entry


async def store_next(committer: GroupCommitter, current: Entry, revision: Entry) -> Entry:
    """Seal ``revision`` after ``current``, append it to the log; the stored revision."""
    if current.evidence is None:
        raise ValueError(f"the current revision of {current.id!r} carries no evidence")
    record = sealed_record(revision, prev=current.evidence.leaf_hash)
    await committer.append(revision.tenant, [record])
    return record.revision or revision


UNCONDITIONAL_ATTEMPTS = 8  # a change without If-Match, raced by other changes


async def unless_expected_retried(expected: int | None, change: Callable[[], Awaitable[T]]) -> T:
    """``change()``. Without an expected revision the caller asked for "this, now": when
    another change of the entry is stored between the read of its current revision and
    the write of the next one (``RevisionConflict``), the change is made again on top
    of it, up to ``UNCONDITIONAL_ATTEMPTS`` times in all. With one, the conflict is the
    answer."""
    if expected is None:
        for _ in range(UNCONDITIONAL_ATTEMPTS - 1):
            try:
                return await change()
            except RevisionConflict:
                pass
    return await change()


class AmendEntry:
    """Store a new revision of a live entry (scope audit:admin); earlier ones are kept.

    The body replaces the client fields; an omitted ``actor`` or ``occurred_at`` keeps
    the current value, since both describe the original event. Without an expected
    revision, a race with another change is not a conflict (``unless_expected_retried``)."""

    def __init__(
        self,
        repository: EntryRepository,
        committer: GroupCommitter,
        processor: EntryProcessor,
        clock: Clock,
    ) -> None:
        self._repository = repository
        self._committer = committer
        self._processor = processor
        self._clock = clock

    async def execute(self, command: AmendEntryCommand) -> Entry:
        command.principal.require(Scope.ADMIN)
        amended = await unless_expected_retried(
            command.expected_revision, lambda: self._amend(command)
        )
        await self._processor.recorded(amended)
        return await self._processor.redact_for_reader(amended, command.principal)

    async def _amend(self, command: AmendEntryCommand) -> Entry:
        principal, draft = command.principal, command.draft
        current = await current_revision(
            self._repository, principal, command.entry_id, command.expected_revision
        )
        amended = current.next_revision(
            self._clock.now(),
            principal.subject,
            action=draft.action,
            outcome=draft.outcome,
            actor=draft.actor or current.actor,
            target=draft.target,
            occurred_at=draft.occurred_at or current.occurred_at,
            tags=draft.tags,
            metadata=draft.metadata,
        )
        amended = await prepare(self._processor, amended, command.context)
        return await store_next(self._committer, current, amended)


class DeleteEntry:
    """Tombstone a live entry (scope audit:admin): gone from reads and queries, kept
    in its history. Deleting it again is ``EntryNotFound``. Without an expected
    revision, a race with another change is not a conflict (``unless_expected_retried``)."""

    def __init__(
        self, repository: EntryRepository, committer: GroupCommitter, clock: Clock
    ) -> None:
        self._repository = repository
        self._committer = committer
        self._clock = clock

    async def execute(self, command: DeleteEntryCommand) -> None:
        command.principal.require(Scope.ADMIN)
        await unless_expected_retried(command.expected_revision, lambda: self._delete(command))

    async def _delete(self, command: DeleteEntryCommand) -> None:
        principal = command.principal
        current = await current_revision(
            self._repository, principal, command.entry_id, command.expected_revision
        )
        tombstone = current.next_revision(self._clock.now(), principal.subject, deleted=True)
        await store_next(self._committer, current, tombstone)
