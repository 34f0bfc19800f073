"""Times are kept to the millisecond, in UTC, everywhere."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_TIMESTAMP_LENGTH = 64


def to_utc_millis(moment: datetime) -> datetime:
    """The same instant in UTC, truncated to the millisecond. ``moment`` must be aware."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a timezone is required")
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is before year 1 in UTC
        raise ValueError("is out of range in UTC") from None
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 timestamp with a timezone, as a UTC millisecond datetime."""
    if not isinstance(text, str) or len(text) > MAX_TIMESTAMP_LENGTH:
        raise ValueError("an ISO 8601 timestamp is required")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("not an ISO 8601 timestamp") from None
    return to_utc_millis(moment)


@functools.lru_cache(maxsize=4096)
def format_timestamp(moment: datetime) -> str:
    """``2026-11-28T09:30:00.123Z``: fixed width, so the text sorts like the instant.

    Remembered for recent instants: an entry's times are rendered several times (its
    leaf, its field digests, its JSON), and aware datetimes that are equal are the
    same instant, hence the same text."""
    utc = to_utc_millis(moment)
    # not strftime: its %Y does not zero-pad years before 1000 on glibc
    return utc.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def to_epoch_millis(moment: datetime) -> int:
    delta = to_utc_millis(moment) - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def from_epoch_millis(millis: int) -> datetime:
    return EPOCH + timedelta(milliseconds=millis)
