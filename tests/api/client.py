"""A thin client of the API for tests: base path, tokens, and problem assertions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from tests.api.tokens import ALL_SCOPES, Tokens, bearer

BASE = "/apiv3/audit_trail"


def entry(**fields: Any) -> dict[str, Any]:
    """A valid entry as a client sends it; ``fields`` replace or add fields."""
    body: dict[str, Any] = {
        "action": "document.update",
        "outcome": "success",
        "actor": {"id": "u-42", "type": "user", "name": "Ada"},
        "target": {"type": "document", "id": "d-7", "name": "Q3 report"},
        "occurred_at": "2026-11-28T09:30:00.123Z",
        "tags": ["ui"],
        "metadata": {"field": "title", "old": "a", "new": "b"},
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


class Api:
    def __init__(self, http: httpx.AsyncClient, tokens: Tokens) -> None:
        self.http = http
        self.tokens = tokens

    async def call(
        self,
        method: str,
        path: str,
        *,
        scopes: Sequence[str] = ALL_SCOPES,
        tenant: str = "acme",
        token: str | None = None,
        anonymous: bool = False,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """``method`` on ``BASE + path``, with a valid token for ``tenant`` holding
        ``scopes`` unless ``token`` is given or ``anonymous`` is set. The method goes
        out exactly as given (``delete`` stays lower-case)."""
        sent: dict[str, str] = {}
        if not anonymous:
            sent.update(bearer(token or self.tokens.token(scopes, tenant=tenant)))
        sent.update(headers or {})
        return await send_as_is(self.http, method, BASE + path, headers=sent, **kwargs)

    async def record(self, body: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        """POST an entry (a valid one by default); the stored entry."""
        response = await self.call("POST", "/entries", json=body or entry(), **kwargs)
        assert response.status_code == 201, response.text
        stored: dict[str, Any] = response.json()
        return stored

    async def items(self, path: str, **kwargs: Any) -> list[dict[str, Any]]:
        response = await self.call("GET", path, **kwargs)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def vkey(self) -> str:
        """The log's verifier key, as anyone may fetch it."""
        response = await self.call("GET", "/log/key", anonymous=True)
        assert response.status_code == 200, response.text
        key: str = response.json()["vkey"]
        return key


async def send_as_is(
    http: httpx.AsyncClient, method: str, url: str, **kwargs: Any
) -> httpx.Response:
    """``http.request``, except that the method is sent exactly as given: httpx
    upper-cases it, and the API must see ``delete`` as it was sent."""
    request = http.build_request(method, url, **kwargs)
    request.method = method
    return await http.send(request)


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The RFC 9457 body of ``response``, after checking it is one with ``status``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    for member in ("type", "title", "detail"):
        assert isinstance(body[member], str)
        assert body[member]
    return body


def error_fields(response: httpx.Response) -> set[str]:
    """The fields a 422 names."""
    return {error["field"] for error in problem(response, 422)["errors"]}
