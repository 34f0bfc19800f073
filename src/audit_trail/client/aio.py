"""``AsyncAuditTrailClient``: the operations over ``httpx.AsyncClient``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import TypeVar

import httpx

from audit_trail.client.flows import Flow, Outcome, Running, Send
from audit_trail.client.inputs import EntryLike, EntryQuery
from audit_trail.client.models import Entry, History, LogKey, Page, Proof
from audit_trail.client.settings import ClientBase, HttpOptions

T = TypeVar("T")


class AsyncAuditTrailClient(ClientBase[httpx.AsyncBaseTransport, httpx.AsyncClient]):
    """``AuditTrailClient``'s methods, to await (``query`` is an async iterator), over
    ``httpx.AsyncClient``. ``transport``: any async httpx transport (e.g.
    ``FakeAuditTrail().async_transport`` in tests). Use it as an async context manager,
    or ``aclose()`` it."""

    def _open(
        self, transport: httpx.AsyncBaseTransport | None, options: HttpOptions
    ) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=transport, **options)

    async def _run(self, flow: Flow[T]) -> T:
        running = Running(flow)
        outcome: Outcome = None
        while (step := running.step(outcome)) is not None:
            if isinstance(step, Send):
                try:
                    outcome = await self._http.request(step.method, step.path, **step.options())
                except httpx.TransportError as exc:
                    outcome = exc
            else:
                await asyncio.sleep(step.seconds)
                outcome = None
        return running.result

    async def check(self) -> bool:
        return await self._run(self._ops.check())

    async def record(self, entry: EntryLike, idempotency_key: str | None = None) -> Entry:
        return await self._run(self._ops.record(entry, idempotency_key))

    async def record_batch(
        self, entries: Iterable[EntryLike], idempotency_key: str | None = None
    ) -> tuple[Entry, ...]:
        return await self._run(self._ops.record_batch(entries, idempotency_key))

    async def get(self, entry_id: str) -> Entry:
        return await self._run(self._ops.get(entry_id))

    async def query_page(self, query: EntryQuery | None = None, cursor: str | None = None) -> Page:
        return await self._run(self._ops.query_page(query, cursor))

    async def query(self, query: EntryQuery | None = None) -> AsyncIterator[Entry]:
        cursor: str | None = None
        while True:
            page = await self.query_page(query, cursor)
            for entry in page.items:
                yield entry
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def history(self, entry_id: str) -> History:
        return await self._run(self._ops.history(entry_id))

    async def amend(self, entry_id: str, entry: EntryLike, if_match: int | None = None) -> Entry:
        return await self._run(self._ops.amend(entry_id, entry, if_match))

    async def delete(self, entry_id: str, if_match: int | None = None) -> None:
        return await self._run(self._ops.delete(entry_id, if_match))

    async def log_key(self) -> LogKey:
        return await self._run(self._ops.log_key())

    async def checkpoint(self) -> str:
        return await self._run(self._ops.checkpoint())

    async def get_proof(
        self,
        entry_id: str,
        revision: int | None = None,
        tree_size: int | None = None,
        *,
        verify: bool = True,
    ) -> Proof:
        return await self._run(self._ops.get_proof(entry_id, revision, tree_size, verify))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncAuditTrailClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
