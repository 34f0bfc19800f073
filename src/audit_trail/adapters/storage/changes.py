"""The one-change writes of EntryRepository, each a group of its own in ``commit``.

Every storage adapter keeps entries and the tenant log together, so a stored
revision is always a leaf of the log: ``append``, ``append_many``, ``amend`` and
``delete`` are ``TenantLog.commit`` with one group, raising the error that refused it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from audit_trail.core.errors import DomainError
from audit_trail.core.integrity.leaf import revision_record
from audit_trail.core.model import Entry
from audit_trail.core.ports.log import LogRecord


class _Committing(Protocol):
    async def commit(
        self, tenant: str, groups: Sequence[Sequence[LogRecord]]
    ) -> list[int | DomainError]: ...


class SingleChangeWrites:
    """Mixed into a storage adapter that implements ``TenantLog.commit``."""

    async def append(self: _Committing, entry: Entry) -> None:
        await _commit_one(self, [entry])

    async def append_many(self: _Committing, entries: Sequence[Entry]) -> None:
        if entries:
            await _commit_one(self, entries)

    async def amend(self: _Committing, revision: Entry) -> None:
        await _commit_one(self, [revision])

    async def delete(self: _Committing, tombstone: Entry) -> None:
        await _commit_one(self, [tombstone])


async def _commit_one(store: _Committing, entries: Sequence[Entry]) -> None:
    tenants = {entry.tenant for entry in entries}
    if len(tenants) != 1:
        raise ValueError("one change belongs to one tenant")
    [result] = await store.commit(tenants.pop(), [[revision_record(e) for e in entries]])
    if isinstance(result, DomainError):
        raise result


def check_groups(tenant: str, groups: Sequence[Sequence[LogRecord]]) -> None:
    """``ValueError`` for a revision of another tenant or one that is not sealed: a
    caller's mistake, never a refusal of the group (which ``commit`` returns)."""
    for group in groups:
        for record in group:
            revision = record.revision
            if revision is None:
                continue
            if revision.tenant != tenant:
                raise ValueError("a revision belongs to the tenant of its log")
            if revision.evidence is None:
                raise ValueError(f"revision {revision.revision} of {revision.id!r} is not sealed")
