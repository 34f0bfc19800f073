"""When to try a request again, and how long to wait first: exponential backoff with
full jitter, bounded attempts, the service's ``Retry-After`` honoured."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRIED_STATUSES = frozenset({429, 503})
IN_USE = "idempotency-key-in-use"  # 409: the first request with this key is in flight


def retry_after_seconds(value: str | None, now: Callable[[], datetime] | None = None) -> float:
    """``Retry-After`` as seconds from now: delay-seconds or an HTTP date; 0 if
    absent or unreadable."""
    if value is None:
        return 0.0
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0.0
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now() if now is not None else datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``attempts``: tries in all (1: never retry). The n-th retry waits a random time
    up to ``base * 2**(n-1)`` seconds (at most ``cap``), or ``Retry-After`` if longer
    (at most ``max_retry_after``)."""

    attempts: int = 4
    base: float = 0.25
    cap: float = 8.0
    max_retry_after: float = 60.0
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def backoff(self, retry: int, retry_after: str | None = None) -> float:
        jittered: float = self.random() * min(self.cap, self.base * 2 ** (retry - 1))
        asked = min(self.max_retry_after, retry_after_seconds(retry_after))
        return float(max(jittered, asked))

    def retries_status(self, status: int, slug: str | None, replayable: bool) -> bool:
        """Whether an answer with ``status`` (and problem type ``slug``) is worth
        another try: 429 and 503 when the request may be sent again, and a 409
        ``idempotency-key-in-use`` (its first request is still being done)."""
        if not replayable:
            return False
        return status in RETRIED_STATUSES or (status == 409 and slug == IN_USE)


def replayable(method: str, idempotency_key: str | None) -> bool:
    """Reads may be sent twice; a write only with an Idempotency-Key (the service then
    does it once). PUT and DELETE are not: each amendment is a new revision, and a
    second DELETE is a 404, so a lost answer would turn into a second change or an
    error."""
    return method in ("GET", "HEAD") or idempotency_key is not None
