"""Use cases: one class each, with ``execute()`` taking a frozen command."""

from audit_trail.core.usecases.change import (
    AmendEntry,
    AmendEntryCommand,
    DeleteEntry,
    DeleteEntryCommand,
)
from audit_trail.core.usecases.read import (
    EntryHistory,
    EntryHistoryQuery,
    GetEntry,
    GetEntryQuery,
    QueryEntries,
    QueryEntriesQuery,
    QueryResult,
)
from audit_trail.core.usecases.record import (
    RecordEntries,
    RecordEntriesCommand,
    RecordEntry,
    RecordEntryCommand,
)

__all__ = [
    "AmendEntry",
    "AmendEntryCommand",
    "DeleteEntry",
    "DeleteEntryCommand",
    "EntryHistory",
    "EntryHistoryQuery",
    "GetEntry",
    "GetEntryQuery",
    "QueryEntries",
    "QueryEntriesQuery",
    "QueryResult",
    "RecordEntries",
    "RecordEntriesCommand",
    "RecordEntry",
    "RecordEntryCommand",
]
