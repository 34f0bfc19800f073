"""Around every request of both apps: its request id, its log line, the headers every
response carries.

``RequestLog`` wraps the app's ASGI callable (below the framework's routing and error
handling, so a framework 404 or 405 and a streamed answer pass through it too). It
takes the request's ``X-Request-ID`` when it is valid (``valid_request_id``) or makes
one, returns it on the response with ``X-Content-Type-Options: nosniff``, and, when the
response is over, logs one line on ``audit_trail.access``: method, route template,
status, duration, tenant, request id. Never a header, the query string or the body: a
token or an entry's content must not reach a log.

``HttpApi`` tells it the route and the caller (``note_route``) through a context
variable that holds one mutable ``RequestContext`` per request: the framework may run
the handler in a task of its own, which copies the context, not the object.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from audit_trail.entrypoints.http.routes import ROUTES, Route, RouteTable

access_log = logging.getLogger("audit_trail.access")

REQUEST_ID_HEADER = "x-request-id"
REQUEST_ID_HEADER_BYTES = REQUEST_ID_HEADER.encode()
MAX_REQUEST_ID_LENGTH = 128
UNMATCHED_ROUTE = "(unmatched)"  # the route of a path no route template matches
_REQUEST_ID = re.compile(rf"[A-Za-z0-9._:-]{{1,{MAX_REQUEST_ID_LENGTH}}}")
_NOSNIFF = (b"x-content-type-options", b"nosniff")

Scope = MutableMapping[str, Any]
AsgiApp = Callable[[Scope, Any, Any], Awaitable[None]]


@dataclass(slots=True)
class RequestContext:
    """What the log line of one request says beyond its method and status."""

    request_id: str
    route: str | None = None  # the route template, once the app routed the request
    tenant: str | None = None  # the caller's tenant, once authenticated


_current: ContextVar[RequestContext | None] = ContextVar("audit_trail_request", default=None)


def current_request() -> RequestContext | None:
    """The request being served in this context, if any."""
    return _current.get()


def note_route(route: Route, tenant: str | None) -> None:
    """Record the route (and the tenant, once known) of the current request."""
    context = _current.get()
    if context is not None:
        context.route = route.full_path
        context.tenant = tenant


def valid_request_id(value: str | None) -> bool:
    """Whether a client's ``X-Request-ID`` is kept: 1 to 128 characters of
    ``A-Z a-z 0-9 . _ : -``. Anything else is replaced, never echoed."""
    return value is not None and _REQUEST_ID.fullmatch(value) is not None


def new_request_id() -> str:
    return os.urandom(16).hex()


def request_id_of(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The request id of a request with these raw headers (names lowercased, as ASGI
    servers give them): the client's one when it sent exactly one valid
    ``X-Request-ID``, else a new one."""
    sent = None
    for name, value in headers:
        if name == REQUEST_ID_HEADER_BYTES:
            if sent is not None:
                return new_request_id()
            sent = value
    if sent is not None:
        text = sent.decode("latin-1")
        if valid_request_id(text):
            return text
    return new_request_id()


def _with_ours(
    headers: Iterable[tuple[bytes, bytes]], id_header: tuple[bytes, bytes]
) -> list[tuple[bytes, bytes]]:
    """``headers`` with the request id, and ``nosniff`` unless the app said otherwise."""
    kept = []
    sniffing_set = False
    for name, value in headers:
        lowered = name.lower()
        if lowered == REQUEST_ID_HEADER_BYTES:
            continue
        sniffing_set = sniffing_set or lowered == _NOSNIFF[0]
        kept.append((name, value))
    kept.append(id_header)
    if not sniffing_set:
        kept.append(_NOSNIFF)
    return kept


class RequestLog:
    """The ASGI wrapper of an app; see the module's docstring."""

    def __init__(self, app: AsgiApp, routes: RouteTable = ROUTES) -> None:
        self._app = app
        self._routes = routes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        context = RequestContext(request_id_of(scope.get("headers", ())))
        token = _current.set(context)
        status = 500  # an error that escaped the app: the server answers 500
        id_header = (REQUEST_ID_HEADER_BYTES, context.request_id.encode())

        async def sending(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = _with_ours(message.get("headers", ()), id_header)
            await send(message)

        try:
            await self._app(scope, receive, sending)
        finally:
            _current.reset(token)
            if access_log.isEnabledFor(logging.INFO):
                self._log(scope, context, status, time.perf_counter() - started)

    def _log(self, scope: Scope, context: RequestContext, status: int, seconds: float) -> None:
        method = str(scope.get("method", ""))
        route = context.route or self._routes.template_of(scope.get("path", "")) or UNMATCHED_ROUTE
        duration_ms = round(seconds * 1000, 3)
        fields: dict[str, object] = {
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": duration_ms,
            "request_id": context.request_id,
        }
        if context.tenant is not None:
            fields["tenant"] = context.tenant
        tenant = f" tenant={context.tenant}" if context.tenant is not None else ""
        access_log.info(
            "%s %s %s %.1fms request_id=%s%s",
            method,
            route,
            status,
            duration_ms,
            context.request_id,
            tenant,
            extra=fields,
        )
