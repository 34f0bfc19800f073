"""Which groups of a commit the stored entries refuse, decided before anything is written.

A revision n > 1 must follow the entry's current revision n - 1 in the same tenant,
and no tombstone may precede it; a revision 1 needs an id no entry has (in any
tenant). Storage holds revision n - 1 and not revision n exactly when n - 1 is the
current revision (revisions are stored in order, one document each), so the check
needs only the documents of those two ``_id``s, all fetched in one query; the groups
of one commit are checked in order, each seeing what the accepted ones before it
store. A race that the check cannot see is caught by the unique ``_id`` at insert.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from audit_trail.adapters.storage.mongo_documents import revision_id
from audit_trail.core.errors import DomainError, DuplicateEntry, EntryNotFound, RevisionConflict
from audit_trail.core.ports.log import LogRecord

Stored = Mapping[str, Mapping[str, Any]]  # _id -> {"tenant", "deleted"} of fetched documents
CurrentLookup = Callable[[str], Awaitable[tuple[int, bool] | None]]
"""The (revision, deleted) of an entry's current revision in the tenant, or None."""


@dataclass(frozen=True, slots=True)
class _State:
    revision: int
    deleted: bool


def ids_to_check(groups: Sequence[Sequence[LogRecord]]) -> list[str]:
    """The ``_id``s whose documents decide the refusals: for each revision n > 1 those
    of n - 1 and n, and those of the revisions 1 in groups of several records or of an
    entry that another group of the commit names too. Even where a transaction would
    undo a refused group, its refusal must be known before the later groups are
    judged: they are judged as if the groups before them stood. (A lone revision 1 of
    an id nothing else names is left to the unique ``_id`` at insert: that is every
    new entry of a group commit, with no query.)
    """
    wanted: list[str] = []
    groups_naming: dict[str, set[int]] = {}
    for number, group in enumerate(groups):
        for record in group:
            if record.revision is not None:
                groups_naming.setdefault(record.revision.id, set()).add(number)
    for number, group in enumerate(groups):
        several = len(group) > 1  # bare leaves too: a group is stored whole or not at all
        for record in group:
            revision = record.revision
            if revision is None:
                continue
            if revision.revision > 1:
                wanted.append(revision_id(revision.id, revision.revision - 1))
                wanted.append(revision_id(revision.id, revision.revision))
            elif several or groups_naming[revision.id] != {number}:
                wanted.append(revision_id(revision.id, 1))
    return wanted


async def refusals(
    tenant: str,
    groups: Sequence[Sequence[LogRecord]],
    stored: Stored,
    current: CurrentLookup,
) -> dict[int, DomainError]:
    """The error refusing each refused group, by its position in ``groups``."""
    refused: dict[int, DomainError] = {}
    known: dict[str, _State] = {}  # entries as the accepted groups so far leave them
    for number, group in enumerate(groups):
        changes: dict[str, _State] = {}
        error: DomainError | None = None
        for record in group:
            revision = record.revision
            if revision is None:
                continue
            entry_id, n = revision.id, revision.revision
            before = changes.get(entry_id) or known.get(entry_id)
            if n == 1:
                if before is not None or revision_id(entry_id, 1) in stored:
                    error = DuplicateEntry(entry_id)
            else:
                if before is None:
                    before = _stored_current(tenant, entry_id, n, stored)
                if before is None:  # not stored as n - 1 and nothing after it
                    error = after_race(entry_id, n, await current(entry_id))
                else:
                    error = _refusal(entry_id, n, before)
            if error is not None:
                break
            changes[entry_id] = _State(n, revision.deleted)
        if error is None:
            known.update(changes)
        else:
            refused[number] = error
    return refused


def _stored_current(tenant: str, entry_id: str, n: int, stored: Stored) -> _State | None:
    previous = stored.get(revision_id(entry_id, n - 1))
    if previous is None or revision_id(entry_id, n) in stored or previous["tenant"] != tenant:
        return None
    return _State(n - 1, bool(previous.get("deleted", False)))


def after_race(entry_id: str, n: int, current: tuple[int, bool] | None) -> DomainError:
    """Why revision ``n`` cannot follow the entry's ``current`` (revision, deleted)."""
    before = None if current is None else _State(*current)
    return _refusal(entry_id, n, before) or RevisionConflict(entry_id, n - 1, n - 1)


def _refusal(entry_id: str, n: int, before: _State | None) -> DomainError | None:
    if before is None or before.deleted:
        return EntryNotFound(entry_id)
    if n != before.revision + 1:
        return RevisionConflict(entry_id, n - 1, before.revision)
    return None
