"""HttpApi: the shared request pipeline both apps call.

For every request: body size (413), route and method (405), bearer token and scope
(401/403), then the endpoint. Every error becomes a problem response here, so both
apps answer byte for byte the same.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from http import HTTPStatus

from audit_trail.entrypoints.http.auth import BearerAuthenticator
from audit_trail.entrypoints.http.body import check_body_size, too_large
from audit_trail.entrypoints.http.messages import HttpRequest, HttpResponse
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
from audit_trail.entrypoints.http.routes import ROUTES, Call, Endpoint, RouteTable

log = logging.getLogger(__name__)


class HttpApi:
    def __init__(
        self,
        endpoints: Mapping[str, Endpoint],
        authenticator: BearerAuthenticator,
        *,
        max_body_bytes: int,
        routes: RouteTable = ROUTES,
    ) -> None:
        missing = {r.operation for r in routes.routes} - endpoints.keys()
        if missing:
            raise ValueError(f"routes without an endpoint: {sorted(missing)}")
        self._endpoints = dict(endpoints)
        self._authenticator = authenticator
        self._max_body_bytes = max_body_bytes
        self._routes = routes

    async def handle(self, path_template: str, request: HttpRequest) -> HttpResponse:
        """The response to ``request``, which the app routed to ``path_template``.

        HEAD gets GET's status and headers without the body."""
        try:
            response = await self._dispatch(path_template, request)
        except Exception as exc:
            response = known_problem(exc) or self._unexpected(request, path_template)
        return replace(response, body=b"") if request.method == "HEAD" else response

    @staticmethod
    def _unexpected(request: HttpRequest, path_template: str) -> HttpResponse:
        log.exception("unexpected error in %s %s", request.method, path_template)
        return internal_error()

    async def _dispatch(self, path_template: str, request: HttpRequest) -> HttpResponse:
        check_body_size(request, self._max_body_bytes)
        route = self._routes.find(request.method, path_template)
        if route is None:
            raise _method_not_allowed(self._routes, request.method, path_template)
        principal = None
        if route.scope is not None:
            principal = self._authenticator.authenticate(request)
            principal.require(route.scope)
        return await self._endpoints[route.operation](Call(request, principal))


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
    method it does not route, a body over its limit, an unreadable request)."""
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
