"""SignedWebhookSender: webhooks signed with ``standardwebhooks``, sent by ``http11``.

Each new connection first resolves the URL's host and checks every address
(``addresses``), then dials the first checked address itself (the URL's host kept in
``Host`` and, for https, in the TLS server name and certificate check), so a DNS
answer that changes between the check and the connection (DNS rebinding) cannot
send it elsewhere. A kept-alive connection goes on to the address it was checked
for; it is dropped after ``idle_seconds`` without a request. Redirects are not
followed: a 3xx is a failure. Credentials in the URL (``https://user:pass@…``) are
sent as HTTP Basic authentication.
"""

from __future__ import annotations

import base64
import functools
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import h11
import httpx
from standardwebhooks import Webhook

from audit_trail.adapters.webhooks.addresses import resolve
from audit_trail.adapters.webhooks.http11 import Endpoint, Http11Client
from audit_trail.core.errors import UnsafeWebhookUrl
from audit_trail.core.ports.webhook_sender import SendResult, WebhookMessage

MAX_ERROR_LENGTH = 300
USER_AGENT = "audit-trail-webhooks"


@dataclass(frozen=True, slots=True)
class _Url:
    endpoint: Endpoint
    target: bytes  # path and query
    host_header: str
    authorization: str | None


class SignedWebhookSender:
    def __init__(
        self,
        *,
        timeout_seconds: float,
        allow_private: bool,
        ssl_context: ssl.SSLContext | None = None,
        idle_seconds: float = 15.0,
    ) -> None:
        self._allow_private = allow_private
        self._client = Http11Client(
            self._dial,
            timeout_seconds=timeout_seconds,
            ssl_context=ssl_context,
            idle_seconds=idle_seconds,
        )

    async def close(self) -> None:
        await self._client.close()

    async def check_url(self, url: str) -> None:
        await self._dial(_parse(url).endpoint)

    async def send(self, message: WebhookMessage) -> SendResult:
        started = time.perf_counter()
        try:
            url = _parse(message.url)
            headers = _headers(url, message)
            status = await self._client.post(url.endpoint, url.target, headers, message.body)
        except UnsafeWebhookUrl as exc:
            return _failed(None, f"refused: {exc}", started)
        except TimeoutError:
            return _failed(None, "timeout", started)
        except (OSError, ssl.SSLError, h11.ProtocolError) as exc:
            return _failed(None, f"{type(exc).__name__}: {exc}", started)
        if 200 <= status < 300:
            return SendResult(status, None, _ms(started))
        return _failed(status, f"HTTP {status}", started)

    async def _dial(self, endpoint: Endpoint) -> str:
        addresses = await resolve(endpoint.host, endpoint.port, allow_private=self._allow_private)
        return str(addresses[0])


def _headers(url: _Url, message: WebhookMessage) -> list[tuple[str, str]]:
    now = datetime.now(UTC)
    signature = _signer(message.secret).sign(message.webhook_id, now, message.body.decode())
    headers = [
        ("host", url.host_header),
        ("content-type", "application/json"),
        ("content-length", str(len(message.body))),
        ("user-agent", USER_AGENT),
        ("webhook-id", message.webhook_id),
        ("webhook-timestamp", str(int(now.timestamp()))),
        ("webhook-signature", signature),
    ]
    if url.authorization is not None:
        headers.append(("authorization", url.authorization))
    return headers


@functools.lru_cache(maxsize=1024)
def _parse(url: str) -> _Url:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise UnsafeWebhookUrl(f"not a URL: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise UnsafeWebhookUrl("must be an absolute http(s) URL")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    authorization = None
    if parsed.userinfo:
        credentials = f"{parsed.username}:{parsed.password}".encode()
        authorization = "Basic " + base64.b64encode(credentials).decode("ascii")
    return _Url(
        Endpoint(parsed.scheme, parsed.host, port),
        parsed.raw_path,
        parsed.netloc.decode("ascii"),
        authorization,
    )


@functools.lru_cache(maxsize=256)
def _signer(secret: str) -> Webhook:
    return Webhook(secret)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _failed(status: int | None, error: str, started: float) -> SendResult:
    return SendResult(status, error[:MAX_ERROR_LENGTH], _ms(started))
