"""The Litestar app: routing glue over the shared HTTP layer, nothing else.

Each path of the routing table is registered for every routed method; the handler
turns Litestar's request into an ``HttpRequest``, awaits ``HttpApi.handle`` (fed by
a ``Provide`` dependency from the container) and turns the ``HttpResponse`` back.
Errors Litestar raises itself go through the same problem renderer. Litestar's own
OpenAPI is off: the shared layer serves ours.
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

from audit_trail.entrypoints.container import Container, build_container, current_api, start, stop
from audit_trail.entrypoints.http import (
    ROUTED_METHODS,
    ROUTES,
    HttpApi,
    HttpResponse,
    build_request,
    framework_problem,
)
from audit_trail.entrypoints.http.problems import internal_error
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


def _handler_for(template: str, index: int) -> HTTPRouteHandler:
    async def endpoint(
        request: Request[Any, Any, Any], api: NamedDependency[HttpApi]
    ) -> Response[bytes]:
        http_request = build_request(
            method=request.method,
            path_params=request.path_params,
            raw_query=request.scope.get("query_string", b""),
            raw_headers=request.scope.get("headers", []),
            body=await request.body(),
            client=request.scope.get("client"),
        )
        return _to_litestar(await api.handle(template, http_request))

    handler: HTTPRouteHandler = route(
        _litestar_path(template),
        http_method=[HttpMethod(m) for m in ROUTED_METHODS],
        name=f"route{index}",
    )(endpoint)
    return handler


def create_app(settings: Settings) -> Litestar:
    container: Container = build_container(settings)

    async def open_resources() -> None:
        await start(container)

    async def close_resources() -> None:
        await stop(container)

    async def provide_api() -> HttpApi:
        return await current_api(container)

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

    return Litestar(
        route_handlers=[_handler_for(t, i) for i, t in enumerate(ROUTES.paths)],
        dependencies={"api": Provide(provide_api)},
        on_startup=[open_resources],
        on_shutdown=[close_resources],
        exception_handlers={HTTPException: framework_error, Exception: unexpected_error},
        openapi_config=None,
        request_max_body_size=settings.max_body_bytes,
    )
