"""WebhookSender: the HTTP client that delivers webhooks, and the address check it
makes before every connection (SSRF)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SendResult:
    status: int | None  # None when no answer came
    error: str | None  # None after a 2xx
    duration_ms: float


@dataclass(frozen=True, slots=True)
class WebhookMessage:
    url: str
    webhook_id: str  # stable across retries: receivers dedupe on it
    body: bytes  # the CloudEvent, JSON
    secret: str  # whsec_...


class WebhookSender(Protocol):
    async def check_url(self, url: str) -> None:
        """``UnsafeWebhookUrl`` when the URL's host resolves to an address the service
        may not call (private, loopback, link-local, ... unless allowed) or does not
        resolve at all."""
        ...

    async def send(self, message: WebhookMessage) -> SendResult:
        """POST ``message`` signed per Standard Webhooks, to a checked address, no
        redirect followed; a refused address, a timeout, a connection error or a
        non-2xx status is a failed result, never an exception."""
        ...
