"""The Litestar app: routing glue over the shared HTTP layer, nothing else.

Every route of the table is one native route handler with the route's own methods
(GET with HEAD); Litestar routes, and the handler turns its request into an
``HttpRequest``, awaits ``HttpApi.serve`` and turns the ``HttpResponse`` back. The
``HttpApi`` is built once on startup, kept in ``app.state`` and handed over by a
cached ``Provide``. Errors Litestar raises itself (404, 405, 413, ...) go through the
same problem renderer. Litestar's own OpenAPI is off: the shared layer serves ours.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from litestar import Litestar, Request, Response, route
from litestar.di import NamedDependency, Provide
from litestar.enums import HttpMethod
from litestar.exceptions import HTTPException
from litestar.handlers import HTTPRouteHandler
from litestar.response.base import ASGIResponse
from litestar.response.streaming import ASGIStreamingResponse

from audit_trail.entrypoints.container import Container, build_container, start, stop
from audit_trail.entrypoints.http import (
    ROUTES,
    HttpApi,
    HttpResponse,
    Route,
    build_request,
    framework_problem,
)
from audit_trail.entrypoints.http.problems import internal_error
from audit_trail.entrypoints.http.request_log import RequestLog
from audit_trail.entrypoints.settings import Settings

log = logging.getLogger(__name__)


def _litestar_path(template: str) -> str:
    return re.sub(r"{(\w+)}", r"{\1:str}", template)


def _to_litestar(response: HttpResponse) -> Response[bytes]:
    return Response(
        content=response.body,
        status_code=response.status,
        headers=dict(response.headers),
        media_type=response.header("content-type"),
    )


def _handler_for(api_route: Route) -> HTTPRouteHandler:
    takes_body = api_route.body is not None

    async def endpoint(
        request: Request[Any, Any, Any], api: NamedDependency[HttpApi]
    ) -> ASGIResponse:
        http_request = build_request(
            method=request.method,
            path_params=request.path_params,
            raw_query=request.scope.get("query_string", b""),
            raw_headers=request.scope.get("headers", []),
            # an operation without a request body reads none (its Content-Length is
            # still checked against the limit by the shared layer)
            body=await request.body() if takes_body else b"",
            client=request.scope.get("client"),
        )
        response = await api.serve(api_route, http_request)
        if response.stream is not None:
            return ASGIStreamingResponse(
                iterator=response.stream,
                status_code=response.status,
                headers=dict(response.headers),
            )
        # the shared layer's bytes and headers as they are: no Response to convert
        # (a HEAD response's body is already empty, and says so: content-length 0,
        # as on Quart)
        return ASGIResponse(
            body=response.body, status_code=response.status, headers=response.headers
        )

    handler: HTTPRouteHandler = route(
        _litestar_path(api_route.full_path),
        http_method=[HttpMethod(m) for m in api_route.methods],
        name=api_route.operation,
        status_code=200,  # only a default: the shared layer's response sets the status
    )(endpoint)
    return handler


def _options(template: str, index: int, max_body_bytes: int) -> HTTPRouteHandler:
    """Litestar answers OPTIONS on every path that has no OPTIONS handler of its own;
    the API has no OPTIONS operation, so this one answers a CORS preflight from a listed
    origin and makes any other OPTIONS the same 405 as a method the path does not list."""

    async def options(
        request: Request[Any, Any, Any], api: NamedDependency[HttpApi]
    ) -> Response[bytes]:
        http_request = build_request(
            method=request.method,
            path_params={},
            raw_query=b"",
            raw_headers=request.scope.get("headers", []),
            body=b"",
            client=None,
        )
        response = api.preflight(template, http_request) or framework_problem(
            405, request.method, request.url.path, max_body_bytes=max_body_bytes
        )
        return _to_litestar(response)

    handler: HTTPRouteHandler = route(
        _litestar_path(template), http_method=HttpMethod.OPTIONS, name=f"options{index}"
    )(options)
    return handler


def create_app(settings: Settings, container: Container | None = None) -> Litestar:
    """The app on ``settings``; ``container``: a composition root built from them
    with some providers overridden (tests), instead of a new one."""
    if container is None:
        container = build_container(settings)

    async def open_resources() -> None:
        app.state.http_api = await start(container)

    def started_api() -> HttpApi:
        # No parameters, so Litestar parses nothing for it; cached after the first call.
        api: HttpApi = app.state.http_api
        return api

    async def close_resources() -> None:
        await stop(container)

    def framework_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
        problem = framework_problem(
            exc.status_code,
            request.method,
            request.url.path,
            max_body_bytes=settings.max_body_bytes,
        )
        return _to_litestar(problem)

    def unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
        log.error("unexpected error in %s %s", request.method, request.url.path, exc_info=exc)
        return _to_litestar(internal_error())

    # OPTIONS first: a path registered without one gets Litestar's automatic OPTIONS
    # handler, which an explicit one registered later would collide with.
    handlers = [_options(t, i, settings.max_body_bytes) for i, t in enumerate(ROUTES.paths)]
    handlers += [_handler_for(r) for r in ROUTES.routes]
    app = Litestar(
        route_handlers=handlers,
        dependencies={"api": Provide(started_api, use_cache=True, sync_to_thread=False)},
        on_startup=[open_resources],
        on_shutdown=[close_resources],
        exception_handlers={HTTPException: framework_error, Exception: unexpected_error},
        openapi_config=None,
        logging_config=None,  # the process's own (audit_trail.entrypoints.logs), not Litestar's
        request_max_body_size=settings.max_body_bytes,
    )
    # inside Litestar's error handling, so that its own 404 and 405 pass through it
    app.asgi_handler = RequestLog(app.asgi_handler)  # type: ignore[arg-type, assignment]
    return app
