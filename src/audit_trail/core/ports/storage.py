"""Storage: what every storage adapter is, its entries, its tenant logs and their
query index in one (the memory, SQLite and MongoDB adapters)."""

from __future__ import annotations

from typing import Protocol

from audit_trail.core.ports.index import QueryIndex
from audit_trail.core.ports.log import TenantLog
from audit_trail.core.ports.repository import EntryRepository


class Storage(EntryRepository, TenantLog, Protocol):
    def query_index(self) -> QueryIndex:
        """The query index kept beside these tenant logs."""
        ...
