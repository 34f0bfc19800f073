"""``AuditTrailClient``: the operations over ``httpx.Client``."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

import httpx

from audit_trail.client.flows import Flow, Outcome, Running, Send
from audit_trail.client.inputs import EntryLike, EntryQuery
from audit_trail.client.models import Entry, History, LogKey, Page, Proof
from audit_trail.client.settings import ClientBase, HttpOptions

T = TypeVar("T")


class AuditTrailClient(ClientBase[httpx.BaseTransport, httpx.Client]):
    """A client of one audit-trail service. ``transport``: any httpx transport (e.g.
    ``FakeAuditTrail().transport`` in tests). Use it as a context manager, or
    ``close()`` it."""

    def _open(self, transport: httpx.BaseTransport | None, options: HttpOptions) -> httpx.Client:
        return httpx.Client(transport=transport, **options)

    def _run(self, flow: Flow[T]) -> T:
        running = Running(flow)
        outcome: Outcome = None
        while (step := running.step(outcome)) is not None:
            if isinstance(step, Send):
                try:
                    outcome = self._http.request(step.method, step.path, **step.options())
                except httpx.TransportError as exc:
                    outcome = exc
            else:
                time.sleep(step.seconds)
                outcome = None
        return running.result

    def check(self) -> bool:
        """Whether the service answers its liveness probe."""
        return self._run(self._ops.check())

    def record(self, entry: EntryLike, idempotency_key: str | None = None) -> Entry:
        """Record one entry; retried safely under one Idempotency-Key (a new uuid4
        unless given)."""
        return self._run(self._ops.record(entry, idempotency_key))

    def record_batch(
        self, entries: Iterable[EntryLike], idempotency_key: str | None = None
    ) -> tuple[Entry, ...]:
        """Record entries together, all or none, under one Idempotency-Key."""
        return self._run(self._ops.record_batch(entries, idempotency_key))

    def get(self, entry_id: str) -> Entry:
        return self._run(self._ops.get(entry_id))

    def query_page(self, query: EntryQuery | None = None, cursor: str | None = None) -> Page:
        """One page of a query; pass its ``next_cursor`` for the next."""
        return self._run(self._ops.query_page(query, cursor))

    def query(self, query: EntryQuery | None = None) -> Iterator[Entry]:
        """Every entry the query matches, page after page, fetched as iterated."""
        cursor: str | None = None
        while True:
            page = self.query_page(query, cursor)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def history(self, entry_id: str) -> History:
        return self._run(self._ops.history(entry_id))

    def amend(self, entry_id: str, entry: EntryLike, if_match: int | None = None) -> Entry:
        """A new revision; ``if_match``: only if this revision is still the current."""
        return self._run(self._ops.amend(entry_id, entry, if_match))

    def delete(self, entry_id: str, if_match: int | None = None) -> None:
        return self._run(self._ops.delete(entry_id, if_match))

    def log_key(self) -> LogKey:
        return self._run(self._ops.log_key())

    def checkpoint(self) -> str:
        """The latest signed checkpoint (a C2SP signed note), unverified."""
        return self._run(self._ops.checkpoint())

    def get_proof(
        self,
        entry_id: str,
        revision: int | None = None,
        tree_size: int | None = None,
        *,
        verify: bool = True,
    ) -> Proof:
        """The inclusion proof of a revision (default: the current one); with
        ``verify``, checked end to end (``VerificationFailed`` if it does not hold)."""
        return self._run(self._ops.get_proof(entry_id, revision, tree_size, verify))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AuditTrailClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
