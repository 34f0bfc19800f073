"""PyMongo's (and Motor's) failures as the EntryRepository port's errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pymongo.errors import (
    ConnectionFailure,
    DocumentTooLarge,
    ExecutionTimeout,
    OperationFailure,
    PyMongoError,
    WTimeoutError,
)

from audit_trail.core.errors import EntryTooLarge, StorageUnavailable

DUPLICATE_KEY = 11000
# BSONObjectTooLarge, and an update whose result would exceed the document limit
TOO_LARGE_CODES = frozenset({10334, 17419, 17420})


@contextmanager
def storage_errors() -> Iterator[None]:
    """Unreachable, timed-out or failed-over servers become ``StorageUnavailable``;
    oversized documents ``EntryTooLarge``; anything else passes unchanged."""
    try:
        yield
    except DocumentTooLarge as exc:  # raised before sending; not a PyMongoError
        raise EntryTooLarge(f"MongoDB cannot take the entry: {exc}") from exc
    except PyMongoError as exc:
        mapped = translate(exc)
        if mapped is None:
            raise
        raise mapped from exc


def translate(exc: PyMongoError) -> Exception | None:
    """The port's error for ``exc``, or None when it is not one the port names."""
    if isinstance(exc, OperationFailure) and is_too_large(exc.code):
        return EntryTooLarge(f"MongoDB refused the entry: {exc}")
    # ConnectionFailure covers AutoReconnect, NetworkTimeout, NotPrimaryError,
    # ServerSelectionTimeoutError and WaitQueueTimeoutError; ``timeout`` is set on
    # every error raised because timeoutMS (client-side operation timeout) ran out
    if isinstance(exc, ConnectionFailure | ExecutionTimeout | WTimeoutError) or exc.timeout:
        return StorageUnavailable(f"MongoDB is unavailable: {exc}")
    return None


def is_too_large(code: int | None) -> bool:
    return code in TOO_LARGE_CODES
