"""HttpxWebhookSender: webhooks over httpx, signed with ``standardwebhooks``.

Before every request the URL's host is resolved and each address checked
(``addresses``); the request then goes to the first checked address itself (the
URL's host kept in ``Host`` and, for https, in the TLS server name and certificate
check), so a DNS answer that changes between the check and the connection (DNS
rebinding) cannot send it elsewhere. Redirects are not followed: a 3xx is a failure.
One client with keep-alive connections serves every subscription.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook

from audit_trail.adapters.webhooks.addresses import resolve
from audit_trail.core.errors import UnsafeWebhookUrl
from audit_trail.core.ports.webhook_sender import SendResult, WebhookMessage

MAX_ERROR_LENGTH = 300


class HttpxWebhookSender:
    def __init__(self, *, timeout_seconds: float, allow_private: bool) -> None:
        self._allow_private = allow_private
        self._client = httpx.AsyncClient(
            timeout=timeout_seconds,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=100),
            trust_env=False,
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def check_url(self, url: str) -> None:
        await self._target(httpx.URL(url))

    async def send(self, message: WebhookMessage) -> SendResult:
        started = time.perf_counter()
        try:
            url = httpx.URL(message.url)
            target = await self._target(url)
            now = datetime.now(UTC)
            payload = message.body.decode()
            signature = Webhook(message.secret).sign(message.webhook_id, now, payload)
            headers = {
                "content-type": "application/json",
                "host": url.netloc.decode("ascii"),
                "user-agent": "audit-trail-webhooks",
                "webhook-id": message.webhook_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": signature,
            }
            extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
            response = await self._client.post(
                target, content=message.body, headers=headers, extensions=extensions
            )
            await response.aclose()
        except UnsafeWebhookUrl as exc:
            return _failed(None, f"refused: {exc}", started)
        except httpx.TimeoutException:
            return _failed(None, "timeout", started)
        except httpx.HTTPError as exc:
            return _failed(None, f"{type(exc).__name__}: {exc}", started)
        if 200 <= response.status_code < 300:
            return SendResult(response.status_code, None, _ms(started))
        return _failed(response.status_code, f"HTTP {response.status_code}", started)

    async def _target(self, url: httpx.URL) -> httpx.URL:
        if url.scheme not in ("http", "https") or not url.host:
            raise UnsafeWebhookUrl("must be an absolute http(s) URL")
        port = url.port or (443 if url.scheme == "https" else 80)
        addresses = await resolve(url.host, port, allow_private=self._allow_private)
        return url.copy_with(host=str(addresses[0]))


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _failed(status: int | None, error: str, started: float) -> SendResult:
    return SendResult(status, error[:MAX_ERROR_LENGTH], _ms(started))
