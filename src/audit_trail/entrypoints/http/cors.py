"""CORS for the listed origins (``AUDIT_CORS_ORIGINS``), so that a page on another
origin (one embedding the viewer) may call the API with a bearer token.

Origins are compared exactly (scheme, host and port as the browser sends them); an
origin not listed gets no CORS header at all, and its preflight is the 405 that any
OPTIONS request gets. No cookies are involved, so ``Allow-Credentials`` is never sent.
"""

from __future__ import annotations

from collections.abc import Iterable

from audit_trail.entrypoints.http.messages import HttpRequest, HttpResponse

ALLOWED_HEADERS = (
    "Authorization, Content-Type, Idempotency-Key, If-Match, Last-Event-ID, X-Request-ID"
)
EXPOSED_HEADERS = (
    "ETag, Link, Location, Retry-After, WWW-Authenticate, Content-Disposition, X-Request-ID"
)
MAX_AGE_SECONDS = 600


class CorsPolicy:
    def __init__(self, origins: Iterable[str] = ()) -> None:
        self._origins = frozenset(origin.rstrip("/") for origin in origins)

    def _allowed(self, request: HttpRequest) -> str | None:
        origin = request.header("origin")
        return origin if origin is not None and origin in self._origins else None

    def preflight(self, request: HttpRequest, methods: Iterable[str]) -> HttpResponse | None:
        """The answer to an OPTIONS preflight for a path answering ``methods``; None
        when it is not a preflight from a listed origin (the caller's 405 then)."""
        origin = self._allowed(request)
        if origin is None or request.header("access-control-request-method") is None:
            return None
        return HttpResponse(
            204,
            (
                ("access-control-allow-origin", origin),
                ("access-control-allow-methods", ", ".join(methods)),
                ("access-control-allow-headers", ALLOWED_HEADERS),
                ("access-control-max-age", str(MAX_AGE_SECONDS)),
                ("vary", "Origin"),
            ),
        )

    def decorate(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        """``response`` with the CORS headers of an actual request from a listed
        origin; as it is otherwise, or when it names its own allowed origins."""
        if not self._origins:
            return response
        vary = (("vary", "Origin"),)
        origin = self._allowed(request)
        if origin is None or response.header("access-control-allow-origin") is not None:
            return _with(response, vary)
        return _with(
            response,
            (
                ("access-control-allow-origin", origin),
                ("access-control-expose-headers", EXPOSED_HEADERS),
                *vary,
            ),
        )


def _with(response: HttpResponse, headers: tuple[tuple[str, str], ...]) -> HttpResponse:
    return HttpResponse(response.status, response.headers + headers, response.body, response.stream)
