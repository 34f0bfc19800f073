"""Domain errors. The edge maps each one to an HTTP status and a problem type."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class DomainError(Exception):
    """Base of every error the core raises on purpose."""


@dataclass(frozen=True, slots=True)
class FieldError:
    """One offending field: a dotted path (``actor.id``, ``tags[2]``) and why."""

    field: str
    message: str


class ValidationFailed(DomainError):
    """The input breaks one or more rules; ``errors`` names every offending field."""

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in self.errors))

    @classmethod
    def single(cls, field: str, message: str) -> ValidationFailed:
        return cls([FieldError(field, message)])

    def within(self, path: str) -> ValidationFailed:
        """The same errors, named from an enclosing ``path``: ``actor.id`` within
        ``entries[3]`` is ``entries[3].actor.id``."""
        return ValidationFailed(FieldError(_join(path, e.field), e.message) for e in self.errors)


def _join(path: str, field: str) -> str:
    if not field:
        return path
    if not path or field.startswith("["):
        return f"{path}{field}"
    return f"{path}.{field}"


class EntryNotFound(DomainError):
    """No live entry with that id in the caller's tenant (absent, deleted or foreign)."""

    def __init__(self, entry_id: str) -> None:
        self.entry_id = entry_id
        super().__init__(f"no entry with id {entry_id!r}")


class DuplicateEntry(DomainError):
    """An entry with that id already exists."""

    def __init__(self, entry_id: str) -> None:
        self.entry_id = entry_id
        super().__init__(f"an entry with id {entry_id!r} already exists")


class RevisionConflict(DomainError):
    """The entry changed since the caller read it (stale ``If-Match`` or a lost race)."""

    def __init__(self, entry_id: str, expected: int, actual: int) -> None:
        self.entry_id = entry_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"entry {entry_id!r} is at revision {actual}, not the expected revision {expected}"
        )


class Unauthenticated(DomainError):
    """No usable credentials: missing, malformed, badly signed, expired or not yet valid."""


class Forbidden(DomainError):
    """Authenticated, but not allowed: a missing scope or no tenant."""


class StorageUnavailable(DomainError):
    """The storage backend cannot be reached or did not answer in time."""


class EntryTooLarge(DomainError):
    """The stored form of an entry exceeds what the storage backend accepts."""


class PluginFailed(DomainError):
    """A plugin hook failed while preparing an entry; the entry was not stored."""

    def __init__(self, plugin: str, hook: str) -> None:
        self.plugin = plugin
        self.hook = hook
        super().__init__(f"plugin {plugin!r} failed in {hook}")


class Overloaded(DomainError):
    """Too many changes are waiting for storage; nothing of this request was stored.
    The caller may retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: int = 1) -> None:
        self.retry_after = retry_after
        super().__init__("too many writes are waiting for storage")


class LogRangeError(DomainError):
    """A log range or tree size outside what the tenant's log holds or allows."""


class LogDamaged(DomainError):
    """The tenant's log lacks leaves or subtree hashes it must hold: its storage was
    altered or damaged. Not a passing outage: retrying does not help."""


class IdempotencyKeyInUse(DomainError):
    """A request with this Idempotency-Key is still being processed; nothing of this
    one was done. The caller may retry (with the same key) after ``retry_after``
    seconds."""

    def __init__(self, retry_after: int = 1) -> None:
        self.retry_after = retry_after
        super().__init__("a request with this Idempotency-Key is still being processed")


class IdempotencyKeyReused(DomainError):
    """This Idempotency-Key was used, within its window, for a request with another
    body (or another operation); nothing of this one was done."""

    def __init__(self) -> None:
        super().__init__(
            "this Idempotency-Key was already used for a different request; "
            "use a new key for a new request"
        )


class HoldNotFound(DomainError):
    """No legal hold with this id in the caller's tenant."""

    def __init__(self, hold_id: str) -> None:
        self.hold_id = hold_id
        super().__init__(f"no legal hold with id {hold_id!r}")


class EntryHeld(DomainError):
    """A legal hold protects the entry: it may not be purged or erased until the hold
    is released. ``hold_id`` names the hold (the 409 problem's ``hold_id`` member)."""

    def __init__(self, entry_id: str, hold_id: str, reason: str) -> None:
        self.entry_id = entry_id
        self.hold_id = hold_id
        self.reason = reason
        super().__init__(
            f"entry {entry_id!r} is under legal hold {hold_id!r} ({reason}); release the hold first"
        )


class WebhookNotFound(DomainError):
    """No webhook subscription with this id in the caller's tenant."""

    def __init__(self, subscription_id: str) -> None:
        self.subscription_id = subscription_id
        super().__init__(f"no webhook with id {subscription_id!r}")


class UnsafeWebhookUrl(DomainError):
    """The receiver's address is one the service may not call (SSRF), or it does not
    resolve"""

    def __init__(self, message: str) -> None:
        super().__init__(message)
