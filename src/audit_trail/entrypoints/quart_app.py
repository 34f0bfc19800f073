"""The Quart app: routing glue over the shared HTTP layer, nothing else.

Each path of the routing table is registered for every routed method; the view
turns Quart's request into an ``HttpRequest``, awaits ``HttpApi.handle`` and turns
the ``HttpResponse`` back. Errors Quart raises itself go through the same problem
renderer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from quart import Quart, Response, request
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException

from audit_trail.entrypoints.container import build_container, current_api, start, stop
from audit_trail.entrypoints.http import (
    ROUTED_METHODS,
    ROUTES,
    HttpResponse,
    build_request,
    framework_problem,
)
from audit_trail.entrypoints.http.problems import internal_error
from audit_trail.entrypoints.settings import Settings

log = logging.getLogger(__name__)
_AsgiApp = Callable[[Any, Any, Any], Awaitable[None]]


def _quart_path(template: str) -> str:
    return re.sub(r"{(\w+)}", r"<\1>", template)


def _to_quart(response: HttpResponse) -> Response:
    result = Response(
        response.body, status=response.status, headers=Headers(list(response.headers))
    )
    if response.header("content-type") is None:
        del result.headers["content-type"]  # Quart adds text/html by default
    return result


def _collapsing_slashes(asgi_app: _AsgiApp) -> _AsgiApp:
    async def collapsed(scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path")
        if scope["type"] == "http" and isinstance(path, str) and "//" in path:
            scope = {**scope, "path": re.sub("/{2,}", "/", path)}
        await asgi_app(scope, receive, send)

    return collapsed


def create_app(settings: Settings) -> Quart:
    app = Quart("audit_trail")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    # Route "/a/" and "/a//b" as "/a" and "/a/b" (as Litestar does), never redirect.
    app.url_map.strict_slashes = False
    app.url_map.merge_slashes = False
    app.asgi_app = _collapsing_slashes(app.asgi_app)  # type: ignore[method-assign, assignment]
    container = build_container(settings)

    @app.before_serving
    async def open_resources() -> None:
        await start(container)

    @app.after_serving
    async def close_resources() -> None:
        await stop(container)

    def view_for(template: str) -> Callable[..., Awaitable[Response]]:
        async def view(**path_params: str) -> Response:
            body = await request.get_data(False, False, False)  # no cache, bytes, no form
            http_request = build_request(
                method=request.method,
                path_params=path_params,
                raw_query=request.scope.get("query_string", b""),
                raw_headers=request.scope.get("headers", []),
                body=body,
                client=request.scope.get("client"),
            )
            return _to_quart(await (await current_api(container)).handle(template, http_request))

        return view

    for index, template in enumerate(ROUTES.paths):
        app.add_url_rule(
            _quart_path(template),
            endpoint=f"route{index}",
            view_func=view_for(template),
            methods=list(ROUTED_METHODS),
            provide_automatic_options=False,
        )

    @app.errorhandler(HTTPException)
    async def framework_error(error: HTTPException) -> Response:
        problem = framework_problem(
            error.code or 500,
            request.method,
            request.path,
            max_body_bytes=settings.max_body_bytes,
        )
        return _to_quart(problem)

    @app.errorhandler(Exception)
    async def unexpected_error(error: Exception) -> Response:
        log.error("unexpected error in %s %s", request.method, request.path, exc_info=error)
        return _to_quart(internal_error())

    return app
