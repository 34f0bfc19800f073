"""The pure domain core of audit-trail: standard library only (import contracts enforce it).

Plugin authors and adapter writers import what they need from here.
"""

from audit_trail.core.cursor import CursorCodec
from audit_trail.core.errors import (
    DomainError,
    DuplicateEntry,
    EntryNotFound,
    EntryTooLarge,
    FieldError,
    Forbidden,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    LogDamaged,
    LogRangeError,
    Overloaded,
    PluginFailed,
    RevisionConflict,
    StorageUnavailable,
    Unauthenticated,
    ValidationFailed,
)
from audit_trail.core.model import Actor, Entry, EntryDraft, JsonValue, Outcome, Source, Target
from audit_trail.core.principal import Principal, Scope
from audit_trail.core.query import (
    EntryFilters,
    Position,
    QueryRequest,
    QuerySpec,
    SortOrder,
    parse_query,
)
from audit_trail.core.timestamps import format_timestamp, parse_timestamp, to_utc_millis
from audit_trail.core.validation import validate_entry

__all__ = [
    "Actor",
    "CursorCodec",
    "DomainError",
    "DuplicateEntry",
    "Entry",
    "EntryDraft",
    "EntryFilters",
    "EntryNotFound",
    "EntryTooLarge",
    "FieldError",
    "Forbidden",
    "IdempotencyKeyInUse",
    "IdempotencyKeyReused",
    "JsonValue",
    "LogDamaged",
    "LogRangeError",
    "Outcome",
    "Overloaded",
    "PluginFailed",
    "Position",
    "Principal",
    "QueryRequest",
    "QuerySpec",
    "RevisionConflict",
    "Scope",
    "SortOrder",
    "Source",
    "StorageUnavailable",
    "Target",
    "Unauthenticated",
    "ValidationFailed",
    "format_timestamp",
    "parse_query",
    "parse_timestamp",
    "to_utc_millis",
    "validate_entry",
]
