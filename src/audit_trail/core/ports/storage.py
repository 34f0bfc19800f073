"""Storage: what every storage adapter is, its entries, its tenant logs, their
query index and the Idempotency-Key records in one (the memory, SQLite and MongoDB
adapters)."""

from __future__ import annotations

from typing import Protocol

from audit_trail.core.ports.holds import LegalHolds
from audit_trail.core.ports.idempotency import IdempotencyStore
from audit_trail.core.ports.index import QueryIndex
from audit_trail.core.ports.log import TenantLog
from audit_trail.core.ports.repository import EntryRepository
from audit_trail.core.ports.retention import RetentionStore
from audit_trail.core.ports.sinks import SinkCursors
from audit_trail.core.ports.webhooks import WebhookStore


class Storage(EntryRepository, TenantLog, Protocol):
    def query_index(self) -> QueryIndex:
        """The query index kept beside these tenant logs."""
        ...

    def idempotency(self) -> IdempotencyStore:
        """The Idempotency-Key records kept beside these entries."""
        ...

    def legal_holds(self) -> LegalHolds:
        """The legal holds kept beside these entries."""
        ...

    def retention(self) -> RetentionStore:
        """The retention settings, and the purges of expired entries."""
        ...

    def webhooks(self) -> WebhookStore:
        """The webhook subscriptions, their cursors and delivery logs."""
        ...

    def sink_cursors(self) -> SinkCursors:
        """How far each sink got in each tenant's log (``core.sinks``)."""
        ...
