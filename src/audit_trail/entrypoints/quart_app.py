"""The Quart app: routing glue over the shared HTTP layer, nothing else.

Every route of the table is one native URL rule with the route's own method (GET
with HEAD, which Werkzeug adds; no automatic OPTIONS); Quart routes, and the view
turns Quart's request into an ``HttpRequest``, awaits ``HttpApi.serve`` and turns the
``HttpResponse`` back. The ``HttpApi`` is built once on startup and kept in
``app.config``. Errors Quart raises itself go through the same problem renderer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from quart import Quart, Response, request
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import BaseConverter, Map

from audit_trail.entrypoints.container import Container, build_container, start, stop
from audit_trail.entrypoints.http import (
    ROUTES,
    HttpApi,
    HttpResponse,
    Route,
    RouteTable,
    build_request,
    framework_problem,
)
from audit_trail.entrypoints.http.problems import internal_error
from audit_trail.entrypoints.http.request_log import RequestLog
from audit_trail.entrypoints.settings import Settings

if TYPE_CHECKING:
    from hypercorn.typing import HTTPScope

log = logging.getLogger(__name__)
_AsgiApp = Callable[[Any, Any, Any], Awaitable[None]]
HTTP_API = "AUDIT_TRAIL_HTTP_API"  # the app.config key of the started HttpApi


class _SegmentConverter(BaseConverter):
    """One path segment, except the given values. Werkzeug falls back to a parameter
    route when a plain route of the same path lacks the method (``GET /entries/batch``
    would read entry "batch"); as in Litestar, the plain route wins: 405."""

    part_isolating = True  # matched against one segment at a time

    def __init__(self, url_map: Map, *excluded: str) -> None:
        super().__init__(url_map)
        self.regex = "".join(f"(?!{re.escape(s)}$)" for s in excluded) + "[^/]+"


def _quart_path(template: str, routes: RouteTable) -> str:
    segments = template.split("/")
    for index, segment in enumerate(segments):
        if segment.startswith("{"):
            name, excluded = segment[1:-1], sorted(routes.plain_values(template, index))
            arguments = ", ".join(repr(value) for value in excluded)
            segments[index] = f"<segment({arguments}):{name}>" if excluded else f"<{name}>"
    return "/".join(segments)


def _to_quart(response: HttpResponse) -> Response:
    body = response.body if response.stream is None else response.stream
    result = Response(body, status=response.status, headers=Headers(list(response.headers)))
    if response.stream is not None:
        result.timeout = None  # an export takes as long as it takes
    if response.header("content-type") is None:
        del result.headers["content-type"]  # Quart adds text/html by default
    return result


def _raw_method() -> str:
    """The method as sent: Werkzeug upper-cases it, but methods are case-sensitive."""
    return cast("HTTPScope", request.scope)["method"]


def _collapsing_slashes(asgi_app: _AsgiApp) -> _AsgiApp:
    async def collapsed(scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path")
        if scope["type"] == "http" and isinstance(path, str) and "//" in path:
            scope = {**scope, "path": re.sub("/{2,}", "/", path)}
        await asgi_app(scope, receive, send)

    return collapsed


def create_app(settings: Settings, container: Container | None = None) -> Quart:
    """The app on ``settings``; ``container``: a composition root built from them
    with some providers overridden (tests), instead of a new one."""
    app = Quart("audit_trail")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    # Route "/a/" and "/a//b" as "/a" and "/a/b" (as Litestar does), never redirect.
    app.url_map.strict_slashes = False
    app.url_map.merge_slashes = False
    app.url_map.converters["segment"] = _SegmentConverter
    app.asgi_app = _collapsing_slashes(RequestLog(app.asgi_app))  # type: ignore[method-assign, assignment, arg-type]
    if container is None:
        container = build_container(settings)

    @app.before_serving
    async def open_resources() -> None:
        app.config[HTTP_API] = await start(container)

    @app.after_serving
    async def close_resources() -> None:
        await stop(container)

    def view_for(api_route: Route) -> Callable[..., Awaitable[Response]]:
        methods = frozenset(api_route.methods)
        takes_body = api_route.body is not None

        async def view(**path_params: str) -> Response:
            method = _raw_method()
            if method not in methods:  # Werkzeug matched "delete" to DELETE
                raise MethodNotAllowed()
            api: HttpApi = app.config[HTTP_API]
            # an operation without a request body reads none (its Content-Length is
            # still checked against the limit by the shared layer)
            body = await request.get_data(False, False, False) if takes_body else b""
            http_request = build_request(
                method=method,
                path_params=path_params,
                raw_query=request.scope.get("query_string", b""),
                raw_headers=request.scope.get("headers", []),
                body=body,
                client=request.scope.get("client"),
            )
            return _to_quart(await api.serve(api_route, http_request))

        return view

    for api_route in ROUTES.routes:
        app.add_url_rule(
            _quart_path(api_route.full_path, ROUTES),
            endpoint=api_route.operation,
            view_func=view_for(api_route),
            methods=list(api_route.methods),
            provide_automatic_options=False,
        )

    def options_for(template: str) -> Callable[..., Awaitable[Response]]:
        async def options(**path_params: str) -> Response:
            if _raw_method() != "OPTIONS":
                raise MethodNotAllowed()
            api: HttpApi = app.config[HTTP_API]
            http_request = build_request(
                method="OPTIONS",
                path_params=path_params,
                raw_query=b"",
                raw_headers=request.scope.get("headers", []),
                body=b"",
                client=None,
            )
            response = api.preflight(template, http_request)
            if response is None:
                raise MethodNotAllowed()
            return _to_quart(response)

        return options

    # OPTIONS: a CORS preflight from a listed origin, else 405 (the shared layer decides)
    for index, template in enumerate(ROUTES.paths):
        app.add_url_rule(
            _quart_path(template, ROUTES),
            endpoint=f"options{index}",
            view_func=options_for(template),
            methods=["OPTIONS"],
            provide_automatic_options=False,
        )

    @app.errorhandler(HTTPException)
    async def framework_error(error: HTTPException) -> Response:
        problem = framework_problem(
            error.code or 500,
            _raw_method(),
            request.path,
            max_body_bytes=settings.max_body_bytes,
        )
        return _to_quart(problem)

    @app.errorhandler(Exception)
    async def unexpected_error(error: Exception) -> Response:
        log.error("unexpected error in %s %s", _raw_method(), request.path, exc_info=error)
        return _to_quart(internal_error())

    return app
