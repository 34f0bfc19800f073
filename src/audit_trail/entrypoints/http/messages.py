"""The framework-neutral request and response that the shared HTTP layer works on.

Both apps build an ``HttpRequest`` from the raw ASGI pieces (query string, header
pairs) with ``build_request``, so that parsing happens once, here, identically.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import msgspec

JSON = "application/json"
PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One request. ``headers`` have lower-case names (repeated ones joined by ``, ``);
    ``raw_query`` is the query string as sent (decoded as Latin-1)."""

    method: str
    path_params: Mapping[str, str] = field(default_factory=dict)
    raw_query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    client_ip: str | None = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def query(self) -> dict[str, list[str]]:
        """Each parameter name mapped to all its values, in order (parsed when asked:
        a cached query page never needs it)."""
        return query_parameters(self.raw_query)


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """One response: status, headers (in order, names as sent) and the body bytes,
    or, for a streamed body (an export), ``stream``: its chunks, in order."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    stream: AsyncGenerator[bytes, None] | None = field(default=None, compare=False)

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    def with_headers(self, *added: tuple[str, str]) -> HttpResponse:
        """This response with ``added`` after its headers."""
        return HttpResponse(self.status, (*self.headers, *added), self.body, self.stream)


def build_request(
    *,
    method: str,
    path_params: Mapping[str, str],
    raw_query: bytes,
    raw_headers: Iterable[tuple[bytes, bytes]],
    body: bytes,
    client: tuple[str, int] | list[Any] | None,
) -> HttpRequest:
    """An ``HttpRequest`` from the ASGI scope's pieces and the body read so far.

    ``method`` is kept as sent: methods are case-sensitive (RFC 9110 §9.1)."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in raw_headers:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return HttpRequest(
        method=method,
        path_params=dict(path_params),
        raw_query=raw_query.decode("latin-1"),
        headers=headers,
        body=body,
        client_ip=str(client[0]) if client else None,
    )


def query_parameters(raw_query: str) -> dict[str, list[str]]:
    """Each parameter name of ``raw_query`` mapped to all its values, in order."""
    query: dict[str, list[str]] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True, errors="replace"):
        query.setdefault(name, []).append(value)
    return query


def json_response(
    status: int, data: object, headers: Iterable[tuple[str, str]] = ()
) -> HttpResponse:
    return HttpResponse(status, (("content-type", JSON), *headers), msgspec.json.encode(data))


def empty_response(status: int, headers: Iterable[tuple[str, str]] = ()) -> HttpResponse:
    return HttpResponse(status, tuple(headers))
