"""Recording entries: one, or a batch that is stored whole or not at all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from audit_trail.core.errors import FieldError, ValidationFailed
from audit_trail.core.integrity.leaf import sealed_record
from audit_trail.core.ledger.committer import GroupCommitter
from audit_trail.core.model import Actor, Entry, EntryDraft
from audit_trail.core.ports import (
    Clock,
    EntryProcessor,
    IdFactory,
    RequestContext,
)
from audit_trail.core.principal import Principal, Scope
from audit_trail.core.validation import check_processed_metadata, identifier


@dataclass(frozen=True, slots=True)
class RecordEntryCommand:
    """``entry_id``: the id to record the entry under (an Idempotency-Key's claim
    chose it); None for a new one."""

    principal: Principal
    draft: EntryDraft
    context: RequestContext = field(default_factory=RequestContext)
    entry_id: str | None = None


@dataclass(frozen=True, slots=True)
class RecordEntriesCommand:
    """``entry_ids``: one id per draft to record them under; None for new ones."""

    principal: Principal
    drafts: Sequence[EntryDraft]
    context: RequestContext = field(default_factory=RequestContext)
    entry_ids: Sequence[str] | None = None


class EntryFactory:
    """Turns a validated draft into revision 1 of a new entry, then lets plugins
    prepare it; what identifies the entry is the server's, whatever plugins return."""

    def __init__(self, processor: EntryProcessor, clock: Clock, ids: IdFactory) -> None:
        self._processor = processor
        self._clock = clock
        self._ids = ids

    async def create(
        self,
        principal: Principal,
        draft: EntryDraft,
        context: RequestContext,
        entry_id: str | None = None,
    ) -> Entry:
        now = self._clock.now()
        entry = Entry(
            id=entry_id or self._ids.new_id(),
            tenant=principal.tenant,
            action=draft.action,
            outcome=draft.outcome,
            actor=draft.actor or _caller_as_actor(principal),
            target=draft.target,
            occurred_at=draft.occurred_at or now,
            recorded_at=now,
            recorded_by=principal.subject,
            tags=draft.tags,
            metadata=draft.metadata,
        )
        return await prepare(self._processor, entry, context)


def _caller_as_actor(principal: Principal) -> Actor:
    """The actor of an entry that names none: the caller, whose subject must then
    obey the rules of an ``actor.id`` sent in the entry."""
    try:
        return Actor(id=identifier(principal.subject))
    except ValueError as exc:
        message = f"is required: the token's subject cannot be an actor id ({exc})"
        raise ValidationFailed.single("actor.id", message) from None


async def prepare(processor: EntryProcessor, entry: Entry, context: RequestContext) -> Entry:
    """``processor.prepare``, with the server-assigned fields kept as they were."""
    prepared = await processor.prepare(entry, context)
    if prepared.metadata is not entry.metadata:
        check_processed_metadata(prepared.metadata)
    kept = (entry.id, entry.tenant, entry.revision, entry.recorded_at, entry.recorded_by)
    if (
        prepared.id,
        prepared.tenant,
        prepared.revision,
        prepared.recorded_at,
        prepared.recorded_by,
    ) == kept and (prepared.deleted, prepared.evidence) == (entry.deleted, None):
        return prepared  # plugins left them alone, as they should: nothing to restore
    return replace(
        prepared,
        id=entry.id,
        tenant=entry.tenant,
        revision=entry.revision,
        recorded_at=entry.recorded_at,
        recorded_by=entry.recorded_by,
        deleted=entry.deleted,
        evidence=None,
    )


class _Recorder:
    """What both recording use cases are made of."""

    def __init__(
        self, committer: GroupCommitter, processor: EntryProcessor, factory: EntryFactory
    ) -> None:
        self._committer = committer
        self._processor = processor
        self._factory = factory


class RecordEntry(_Recorder):
    """Record one entry (scope audit:write). Returns it as stored, as the caller may see it.

    The entry and its leaf in the tenant log are durable, and the tenant's cached
    queries invalidated, before this returns."""

    async def execute(self, command: RecordEntryCommand) -> Entry:
        command.principal.require(Scope.WRITE)
        entry = await self._factory.create(
            command.principal, command.draft, command.context, command.entry_id
        )
        record = sealed_record(entry, prev=None)
        await self._committer.append(entry.tenant, [record])
        entry = record.revision or entry
        await self._processor.recorded(entry)
        return await self._processor.redact_for_reader(entry, command.principal)


class RecordEntries(_Recorder):
    """Record a batch (scope audit:write): every entry is stored, or none is; their
    leaves follow each other in the tenant log.

    Field errors found while preparing the entries are raised together, each named
    after its item (``[3].actor.id``)."""

    async def execute(self, command: RecordEntriesCommand) -> list[Entry]:
        command.principal.require(Scope.WRITE)
        entries: list[Entry] = []
        errors: list[FieldError] = []
        ids = command.entry_ids
        if ids is not None and len(ids) != len(command.drafts):
            raise ValueError("one entry id per draft")
        for index, draft in enumerate(command.drafts):
            entry_id = None if ids is None else ids[index]
            try:
                entries.append(
                    await self._factory.create(command.principal, draft, command.context, entry_id)
                )
            except ValidationFailed as failure:
                errors.extend(failure.within(f"[{index}]").errors)
        if errors:
            raise ValidationFailed(errors)
        if not entries:
            return []
        records = [sealed_record(entry, prev=None) for entry in entries]
        await self._committer.append(command.principal.tenant, records)
        entries = [record.revision or entry for record, entry in zip(records, entries, strict=True)]
        for entry in entries:
            await self._processor.recorded(entry)
        return [await self._processor.redact_for_reader(e, command.principal) for e in entries]
