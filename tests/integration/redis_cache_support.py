"""Helpers for the Redis query cache tests: a counting repository and the use cases."""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from audit_trail.adapters.clock import SystemClock
from audit_trail.adapters.ids import UlidIdFactory
from audit_trail.adapters.processing import PassThroughEntryProcessor
from audit_trail.adapters.storage.memory import InMemoryEntryRepository
from audit_trail.core import CursorCodec, Entry, EntryDraft, Principal, QueryRequest, Scope
from audit_trail.core.ledger.committer import GroupCommitter
from audit_trail.core.ports import EntryPage, QueryCache
from audit_trail.core.query import MAX_LIMIT, QuerySpec
from audit_trail.core.usecases.read import QueryEntries, QueryEntriesQuery
from audit_trail.core.usecases.record import EntryFactory, RecordEntry, RecordEntryCommand

_prefixes = itertools.count()


def unique_prefix() -> str:
    """A key prefix no other test (or test run) uses."""
    return f"test-{os.getpid()}-{next(_prefixes)}-{secrets.token_hex(4)}"


class CountingRepository(InMemoryEntryRepository):
    """The in-memory adapter, counting every call; ``query`` may take a while to
    return the page it has already read, as a slow store would."""

    def __init__(self, query_delay: float = 0.0, rng: random.Random | None = None) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()
        self.query_delay = query_delay
        self._rng = rng or random.Random(0)  # noqa: S311 (timing jitter, not secrets)

    async def append(self, entry: Entry) -> None:
        self.calls["append"] += 1
        await super().append(entry)

    async def append_many(self, entries: Sequence[Entry]) -> None:
        self.calls["append_many"] += 1
        await super().append_many(entries)

    async def get(self, tenant: str, entry_id: str) -> Entry | None:
        self.calls["get"] += 1
        return await super().get(tenant, entry_id)

    async def query(self, tenant: str, spec: QuerySpec) -> EntryPage:
        self.calls["query"] += 1
        page = await super().query(tenant, spec)
        if self.query_delay:
            await asyncio.sleep(self._rng.uniform(0, self.query_delay))
        return page

    async def amend(self, revision: Entry) -> None:
        self.calls["amend"] += 1
        await super().amend(revision)

    async def delete(self, tombstone: Entry) -> None:
        self.calls["delete"] += 1
        await super().delete(tombstone)

    async def history(
        self, tenant: str, entry_id: str, *, after: int = 0, limit: int | None = None
    ) -> Sequence[Entry]:
        self.calls["history"] += 1
        return await super().history(tenant, entry_id, after=after, limit=limit)

    @property
    def storage_calls(self) -> int:
        return sum(self.calls.values())


def principal(tenant: str = "acme") -> Principal:
    return Principal(
        subject="tester", tenant=tenant, scopes=frozenset({Scope.READ.value, Scope.WRITE.value})
    )


@dataclass
class Service:
    """RecordEntry and QueryEntries over one repository and one cache: one "process"."""

    repository: InMemoryEntryRepository
    cache: QueryCache

    def __post_init__(self) -> None:
        processor = PassThroughEntryProcessor()
        factory = EntryFactory(processor, SystemClock(), UlidIdFactory())
        committer = GroupCommitter(self.repository, self.cache)
        self._record = RecordEntry(committer, processor, factory)
        self._query = QueryEntries(
            self.repository, self.cache, processor, CursorCodec(b"cursor-secret-for-tests")
        )

    async def write(self, action: str = "doc.update", tenant: str = "acme") -> str:
        command = RecordEntryCommand(principal(tenant), EntryDraft(action=action))
        return (await self._record.execute(command)).id

    async def read_ids(self, tenant: str = "acme") -> set[str]:
        query = QueryEntriesQuery(principal(tenant), QueryRequest(limit=MAX_LIMIT))
        return {entry.id for entry in (await self._query.execute(query)).items}
