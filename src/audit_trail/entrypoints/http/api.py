"""HttpApi: the shared request pipeline both apps call, once per request.

The app has already routed the request (path and method) to one ``Route``; here:
body size (413), bearer token and scope (401/403), then that route's endpoint. Every
error becomes a problem response here, so both apps answer byte for byte the same.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from http import HTTPStatus

from audit_trail.core.ports.rate_limit import RateLimiter
from audit_trail.entrypoints.http.auth import BearerAuthenticator
from audit_trail.entrypoints.http.body import check_body_size, check_query_size, too_large
from audit_trail.entrypoints.http.cors import CorsPolicy
from audit_trail.entrypoints.http.messages import HttpRequest, HttpResponse
from audit_trail.entrypoints.http.observe import RequestMetrics
from audit_trail.entrypoints.http.problems import (
    MALFORMED_REQUEST,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    UNSUPPORTED_MEDIA_TYPE,
    HttpProblem,
    ProblemType,
    internal_error,
    known_problem,
    render_problem,
)
from audit_trail.entrypoints.http.rate_limits import rate_headers, rate_kind, rate_limited
from audit_trail.entrypoints.http.request_log import note_route
from audit_trail.entrypoints.http.routes import ROUTES, Call, Endpoint, Route, RouteTable

log = logging.getLogger(__name__)
_NO_STORE = ("cache-control", "no-store")


class HttpApi:
    """Serves each route of ``routes`` with the endpoint named by its ``operation``.

    Built once at start-up; the apps hold it and call ``serve`` per request."""

    def __init__(
        self,
        endpoints: Mapping[str, Endpoint],
        authenticator: BearerAuthenticator,
        *,
        max_body_bytes: int,
        max_query_parameters: int = 100,
        routes: RouteTable = ROUTES,
        cors: CorsPolicy | None = None,
        rate_limiter: RateLimiter | None = None,
        metrics: RequestMetrics | None = None,
    ) -> None:
        missing = {r.operation for r in routes.routes} - endpoints.keys()
        if missing:
            raise ValueError(f"routes without an endpoint: {sorted(missing)}")
        self._endpoints = dict(endpoints)
        self._authenticator = authenticator
        self._max_body_bytes = max_body_bytes
        self._max_query_parameters = max_query_parameters
        self._routes = routes
        self._cors = cors or CorsPolicy()
        self._rate_limiter = rate_limiter
        self._metrics = metrics

    async def serve(self, route: Route, request: HttpRequest) -> HttpResponse:
        """The response to ``request``, which the app routed to ``route``.

        HEAD (on a GET route) gets GET's status and headers without the body."""
        started = time.perf_counter()
        try:
            response = await self._run(route, request)
        except Exception as exc:
            response = known_problem(exc) or _unexpected(request, route)
        if route.scope is not None and response.header("cache-control") is None:
            # a token's answer is the tenant's data: no cache may keep it
            response = response.with_headers(_NO_STORE)
        response = self._cors.decorate(request, response)
        if self._metrics is not None:
            elapsed = time.perf_counter() - started
            self._metrics.request(route.full_path, request.method, response.status, elapsed)
        if request.method != "HEAD":
            return response
        if response.stream is not None:
            await response.stream.aclose()
        return replace(response, body=b"", stream=None)

    def preflight(self, template: str, request: HttpRequest) -> HttpResponse | None:
        """The answer to an OPTIONS request on the path ``template``: a CORS preflight
        from a listed origin (``AUDIT_CORS_ORIGINS``), or None (the app's 405)."""
        return self._cors.preflight(request, self._routes.paths.get(template, ()))

    async def _run(self, route: Route, request: HttpRequest) -> HttpResponse:
        note_route(route, None)
        check_body_size(request, self._max_body_bytes)
        check_query_size(request, self._max_query_parameters)
        principal = None
        if route.scope is not None:
            principal = self._authenticator.authenticate(request)
            note_route(route, principal.tenant)
            principal.require(route.scope)
        endpoint, call = self._endpoints[route.operation], Call(request, principal)
        kind = rate_kind(route)
        if principal is None or kind is None or self._rate_limiter is None:
            return await endpoint(call)
        decision = await self._rate_limiter.take(principal.tenant, kind)
        if decision is None:  # not limited, or the limiter could not tell: go on
            return await endpoint(call)
        if not decision.allowed:
            raise rate_limited(kind, decision)
        response = await endpoint(call)
        return response.with_headers(*rate_headers(kind, decision))


def _unexpected(request: HttpRequest, route: Route) -> HttpResponse:
    log.exception("unexpected error in %s %s", request.method, route.full_path)
    return internal_error()


def _method_not_allowed(routes: RouteTable, method: str, template: str | None) -> HttpProblem:
    allowed = routes.paths.get(template or "")
    if not allowed:
        return HttpProblem(NOT_FOUND, "there is nothing at this path")
    return HttpProblem(
        METHOD_NOT_ALLOWED,
        f"{method} is not allowed here; use {', '.join(allowed)}",
        [("allow", ", ".join(allowed))],
    )


def framework_problem(
    status: int, method: str, path: str, *, max_body_bytes: int, routes: RouteTable = ROUTES
) -> HttpResponse:
    """The problem response for an error a framework raised itself (no route, a
    method the path does not register, a body over its limit, an unreadable request).

    ``method`` is the request's method exactly as sent (methods are case-sensitive:
    ``get`` is not ``GET``); a HEAD request gets the headers without the body."""
    response = _framework_problem(status, method, path, max_body_bytes, routes)
    return replace(response, body=b"") if method == "HEAD" else response


def _framework_problem(
    status: int, method: str, path: str, max_body_bytes: int, routes: RouteTable
) -> HttpResponse:
    problem: HttpProblem
    if status == 404:
        problem = HttpProblem(NOT_FOUND, "there is nothing at this path")
    elif status == 405:
        problem = _method_not_allowed(routes, method, routes.template_of(path))
    elif status == 413:
        problem = too_large(max_body_bytes)
    elif status == 415:
        problem = HttpProblem(UNSUPPORTED_MEDIA_TYPE, "the body must be sent as application/json")
    elif status == 400:
        problem = HttpProblem(MALFORMED_REQUEST, "the request is malformed")
    elif 400 <= status < 500:
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
        return render_problem(ProblemType("about:blank", status, phrase, ""), phrase)
    else:
        return internal_error()
    return render_problem(problem.kind, problem.detail, problem.headers)
