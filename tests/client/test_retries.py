"""Retries: a 503 with Retry-After is waited out and tried again, within bounds."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from audit_trail.client import RetryPolicy, ServiceUnavailable
from audit_trail.client.retry import retry_after_seconds
from tests.client.conftest import Clients
from tests.client.transports import Intercept, unavailable_first


async def test_a_503_is_retried_after_retry_after(clients: Clients) -> None:
    def wrap(sync: httpx.BaseTransport, asynchronous: httpx.AsyncBaseTransport) -> Intercept:
        return Intercept(sync, asynchronous, answer=unavailable_first(2, "1"))

    policy = RetryPolicy(attempts=3, base=0.001, max_retry_after=0.2)
    started = time.monotonic()
    assert await clients(wrap=wrap, retries=policy).check()
    assert time.monotonic() - started >= 0.4  # two waits of Retry-After (capped at 0.2 s)


async def test_retries_are_bounded(clients: Clients) -> None:
    def wrap(sync: httpx.BaseTransport, asynchronous: httpx.AsyncBaseTransport) -> Intercept:
        return Intercept(sync, asynchronous, answer=unavailable_first(5, "0"))

    with pytest.raises(ServiceUnavailable) as caught:
        await clients(wrap=wrap).get("anything")
    assert caught.value.retry_after == "0"


async def test_a_write_without_a_key_is_not_retried(clients: Clients) -> None:
    def wrap(sync: httpx.BaseTransport, asynchronous: httpx.AsyncBaseTransport) -> Intercept:
        return Intercept(sync, asynchronous, answer=unavailable_first(1, "0"))

    with pytest.raises(ServiceUnavailable):
        await clients(wrap=wrap).amend("some-id", {"action": "x"})


def test_retry_after_is_seconds_or_a_date() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    assert retry_after_seconds("7") == 7.0
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds(later, now=lambda: now) == 30.0
    assert retry_after_seconds("soon") == retry_after_seconds(None) == 0.0
