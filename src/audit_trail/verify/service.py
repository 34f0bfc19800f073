"""The service's integrity routes over HTTP (DESIGN.md, "Integrity"), with httpx.

``ServiceClient`` wraps an ``httpx.AsyncClient`` (inject one over any transport, e.g.
``httpx.ASGITransport`` for an in-process app) and returns the routes' JSON as sent;
whoever calls it checks every part. A refusal, a transport error or a body that is not
what the route promises raises ``ServiceError``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

BASE_PATH = "/apiv3/audit_trail"
MAX_LEAVES = 1000  # per /log/leaves request
MAX_PAGE = 1000  # per /entries request
DEFAULT_TIMEOUT = 30.0


class ServiceError(Exception):
    """The service did not answer as DESIGN.md says; the message says what was asked
    and what came back."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ServiceClient:
    """The routes a verifier reads. ``token`` goes to every route but ``/log/key``."""

    def __init__(self, http: httpx.AsyncClient, token: str | None, base_path: str = BASE_PATH):
        self.http = http
        self._auth = {"authorization": f"Bearer {token}"} if token else {}
        self._base = base_path.rstrip("/")

    async def key(self) -> dict[str, Any]:
        return _object(await self._get("/log/key", auth=False), "/log/key")

    async def checkpoint(self) -> str:
        response = await self._request("/log/checkpoint")
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        if media_type != "text/plain":
            raise ServiceError(f"/log/checkpoint: served as {media_type!r}, not text/plain")
        return response.content.decode("utf-8", "replace")

    async def consistency(self, first: int, second: int) -> list[bytes]:
        where = f"/log/consistency?first={first}&second={second}"
        body = _object(await self._get(where, first=first, second=second), where)
        if body.get("first") != first or body.get("second") != second:
            raise ServiceError(f"{where}: the answer is for other sizes")
        return hashes(body.get("proof"), where)

    async def leaves(self, start: int, end: int) -> list[tuple[int, Any]]:
        where = f"/log/leaves?start={start}&end={end}"
        body = _object(await self._get("/log/leaves", start=start, end=end), where)
        items = body.get("leaves")
        if not isinstance(items, list):
            raise ServiceError(f"{where}: no list of leaves")
        found: list[tuple[int, Any]] = []
        for item in items:
            if not isinstance(item, dict) or type(item.get("index")) is not int:
                raise ServiceError(f"{where}: a leaf without its index")
            found.append((item["index"], item.get("leaf")))
        return found

    async def proof(
        self, entry_id: str, revision: int | None = None, tree_size: int | None = None
    ) -> dict[str, Any]:
        path = f"/entries/{_segment(entry_id)}/proof"
        body = await self._get(path, revision=revision, tree_size=tree_size)
        return _object(body, f"the proof of entry {entry_id}")

    async def query_proof(self, params: dict[str, str]) -> dict[str, Any]:
        """``GET /entries?<params>&proof=1``: a query's answer with its proof."""
        query: dict[str, Any] = {**params, "proof": "1"}
        response = await self._request("/entries", **query)
        try:
            body = response.json()
        except ValueError:
            raise ServiceError("the query proof is not JSON") from None
        return _object(body, "the query proof")

    async def entry(self, entry_id: str) -> dict[str, Any] | None:
        """The entry as served now, or None when the service says 404."""
        try:
            body = await self._get(f"/entries/{_segment(entry_id)}")
        except ServiceError as exc:
            if exc.status == 404:
                return None
            raise
        return _object(body, f"entry {entry_id}")

    async def entry_pages(self) -> AsyncIterator[list[dict[str, Any]]]:
        """Every entry the token may read, a page of at most ``MAX_PAGE`` at a time."""
        cursor: str | None = None
        while True:
            body = _object(await self._get("/entries", limit=MAX_PAGE, cursor=cursor), "/entries")
            items, cursor = body.get("items"), body.get("next_cursor")
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise ServiceError("/entries: no list of entries")
            yield items
            if cursor is None:
                return
            if not isinstance(cursor, str):
                raise ServiceError("/entries: next_cursor is neither a string nor null")

    def stream(
        self, path: str, params: Mapping[str, str]
    ) -> AbstractAsyncContextManager[httpx.Response]:
        """A GET of ``path`` (under the base path, with the token) whose body is read as
        it comes (``audit-trail export``)."""
        return self.http.stream("GET", self._base + path, params=params, headers=self._auth)

    async def _get(self, path: str, *, auth: bool = True, **params: object) -> Any:
        response = await self._request(path, auth=auth, **params)
        try:
            return response.json()
        except ValueError:
            raise ServiceError(f"{path}: the answer is not JSON") from None

    async def _request(self, path: str, *, auth: bool = True, **params: object) -> httpx.Response:
        query = {k: str(v) for k, v in params.items() if v is not None}
        headers = self._auth if auth else {}
        try:
            response = await self.http.get(self._base + path, params=query, headers=headers)
        except httpx.HTTPError as exc:
            raise ServiceError(f"{path}: {type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise ServiceError(f"{path}: {_refusal(response)}", response.status_code)
        return response


def connect(
    url: str,
    token: str | None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
) -> ServiceClient:
    """A client of the service at ``url`` (``https://host``, or with its base path).
    Close it with ``await client.http.aclose()``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {url!r}")
    path = parts.path.rstrip("/")
    base_path = path if path.endswith(BASE_PATH) else path + BASE_PATH
    root = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    http = httpx.AsyncClient(base_url=root, transport=transport, timeout=timeout)
    return ServiceClient(http, token, base_path)


def hashes(value: object, where: str) -> list[bytes]:
    """A list of base64 SHA-256 hashes, decoded."""
    if not isinstance(value, list):
        raise ServiceError(f"{where}: the proof is not a list")
    return [decode_hash(item, where) for item in value]


def decode_hash(value: object, where: str) -> bytes:
    raw = decode_b64(value, where)
    if len(raw) != 32:
        raise ServiceError(f"{where}: a hash of {len(raw)} bytes, not 32")
    return raw


def decode_b64(value: object, where: str) -> bytes:
    """Standard base64 with padding, and nothing else."""
    if not isinstance(value, str):
        raise ServiceError(f"{where}: {value!r} is not base64 text")
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise ServiceError(f"{where}: {value!r} is not standard base64") from None
    if base64.b64encode(raw).decode("ascii") != value:
        raise ServiceError(f"{where}: {value!r} is not canonical padded base64")
    return raw


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ServiceError(f"{where}: the answer is not a JSON object")
    return value


def _segment(entry_id: str) -> str:
    return quote(entry_id, safe="")


def _refusal(response: httpx.Response) -> str:
    detail = ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        detail = str(body.get("detail") or body.get("title") or "")
    return f"{response.status_code} {response.reason_phrase}" + (f" ({detail})" if detail else "")
