"""EntryRepository adapters: in-memory (tests, demos) and SQLite (the embedded default)."""

from audit_trail.adapters.storage.memory import InMemoryEntryRepository
from audit_trail.adapters.storage.sqlite import SqliteEntryRepository

__all__ = ["InMemoryEntryRepository", "SqliteEntryRepository"]
