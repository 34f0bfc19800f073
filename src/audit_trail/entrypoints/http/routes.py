"""The one routing table. Each app registers every route of it natively, with its own
methods (a GET route answers HEAD too); the framework routes, and hands the request
and its ``Route`` to ``HttpApi.serve``. A method a path does not list is the
framework's 405, rendered by ``framework_problem`` with ``Allow`` from this table.

To add an operation: one ``Route(...)`` in ``ROUTES`` and one endpoint function under
its ``operation`` name (``EntryEndpoints.endpoints()`` or ``MetaEndpoints.endpoints()``).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property

from audit_trail.core import Principal, Scope, Unauthenticated
from audit_trail.entrypoints.http.messages import HttpRequest, HttpResponse
from audit_trail.entrypoints.http.paths import BASE_PATH


@dataclass(frozen=True, slots=True)
class Call:
    """What an endpoint gets: the request, and who made it (None on public routes)."""

    request: HttpRequest
    principal: Principal | None = None

    @property
    def caller(self) -> Principal:
        if self.principal is None:  # only reachable if a route lost its scope
            raise Unauthenticated("a bearer token is required")
        return self.principal

    def path_param(self, name: str) -> str:
        return self.request.path_params[name]


Endpoint = Callable[[Call], Awaitable[HttpResponse]]


@dataclass(frozen=True, slots=True)
class Route:
    """One operation. ``path`` is relative to the base path, with ``{name}`` parameters;
    ``operation`` is the OpenAPI operationId and the key of its endpoint; ``scope``
    None means no token is needed. The rest describes it in the OpenAPI document."""

    method: str
    path: str
    operation: str
    summary: str
    scope: Scope | None
    status: int = 200
    body: str | None = None  # schema name of the request body
    response: str | None = None  # schema name of the success body
    media_type: str = "application/json"
    conditional: bool = False  # honours If-Match
    integers: tuple[str, ...] = ()  # required non-negative integer query parameters
    optional_integers: tuple[str, ...] = ()

    @property
    def full_path(self) -> str:
        return BASE_PATH + self.path

    @property
    def path_params(self) -> tuple[str, ...]:
        return tuple(re.findall(r"{(\w+)}", self.path))

    @property
    def methods(self) -> tuple[str, ...]:
        """The methods the apps register for this route: a GET route answers HEAD too."""
        return ("GET", "HEAD") if self.method == "GET" else (self.method,)


class RouteTable:
    def __init__(self, routes: tuple[Route, ...]) -> None:
        keys = [(r.method, r.full_path) for r in routes]
        if len(set(keys)) != len(keys):
            raise ValueError("two routes share a method and a path")
        self.routes = routes

    @cached_property
    def paths(self) -> dict[str, tuple[str, ...]]:
        """Each full path template, with the methods it answers, in table order
        (HEAD right after GET: every GET route answers HEAD too)."""
        paths: dict[str, tuple[str, ...]] = {}
        for route in self.routes:
            paths[route.full_path] = (*paths.get(route.full_path, ()), *route.methods)
        return paths

    def plain_values(self, template: str, index: int) -> frozenset[str]:
        """The values of ``template``'s parameter segment ``index`` that turn it into
        a route of the table without parameters: such a path is that route's (405 for
        a method it lacks), never the parameter's. Litestar routes plain paths first;
        Werkzeug needs telling. Only templates with one parameter have any."""
        segments = template.split("/")
        params = [i for i, segment in enumerate(segments) if segment.startswith("{")]
        if params != [index]:
            return frozenset()
        values = set()
        for plain in self.paths:
            other = plain.split("/")
            if "{" in plain or len(other) != len(segments):
                continue
            if all(
                a == b for i, (a, b) in enumerate(zip(segments, other, strict=True)) if i != index
            ):
                values.add(other[index])
        return frozenset(values)

    def template_of(self, path: str) -> str | None:
        """The template a concrete path matches (static segments win), or None.
        Only the error path uses it (``Allow`` of a 405); requests are routed by the
        framework."""
        matches = [t for t, pattern in self._patterns if pattern.fullmatch(path)]
        return min(matches, key=lambda t: t.count("{"), default=None)

    @cached_property
    def _patterns(self) -> list[tuple[str, re.Pattern[str]]]:
        return [
            (template, re.compile(re.sub(r"\\{\w+\\}", "[^/]+", re.escape(template))))
            for template in self.paths
        ]


READ, WRITE, ADMIN, ERASE = Scope.READ, Scope.WRITE, Scope.ADMIN, Scope.ERASE
ENTRY = "/entries/{entry_id}"
HOLD = "/holds/{hold_id}"
WEBHOOK = "/webhooks/{webhook_id}"

ROUTES = RouteTable(
    (
        Route("GET", "/check-port", "checkPort", "Liveness probe", None, response="Status"),
        Route(
            "GET",
            "/ready",
            "getReady",
            "Readiness probe: 200 when storage, the log signer and Redis (if used) answer",
            None,
            response="Readiness",
        ),
        Route("GET", "/openapi.json", "getOpenApi", "This OpenAPI document", None),
        Route(
            "GET",
            "/docs",
            "getDocs",
            "The API documentation (Swagger UI)",
            None,
            media_type="text/html",
        ),
        Route(
            "GET",
            "/docs/{asset}",
            "getDocsAsset",
            "A file of the API documentation (Swagger UI's script, style sheet, licence)",
            None,
            media_type="application/octet-stream",
        ),
        Route(
            "GET",
            "/metrics",
            "getMetrics",
            "Request, write, log, cache and webhook metrics, in the Prometheus text format",
            None,
            media_type="text/plain",
        ),
        Route(
            "GET",
            "/viewer",
            "getViewer",
            "The audit-log viewer page (also at /viewer/; docs/viewer.md)",
            None,
            media_type="text/html",
        ),
        Route(
            "GET",
            "/viewer/{asset}",
            "getViewerAsset",
            "A file of the viewer (viewer.js: the <audit-trail-viewer> element)",
            None,
            media_type="text/javascript",
        ),
        Route(
            "POST",
            "/entries",
            "recordEntry",
            "Record one entry",
            WRITE,
            status=201,
            body="EntryInput",
            response="Entry",
        ),
        Route(
            "POST",
            "/entries/batch",
            "recordEntries",
            "Record a batch, all or nothing",
            WRITE,
            status=201,
            body="EntryBatch",
            response="EntryList",
        ),
        Route("GET", "/entries", "queryEntries", "Query entries", READ, response="EntryPage"),
        Route(
            "GET",
            "/entries/export",
            "exportEntries",
            "Every entry matching the query filters, streamed as NDJSON (ending with a "
            "trailer that proves it whole) or CSV",
            READ,
            media_type="application/x-ndjson",
        ),
        Route(
            "GET",
            "/stream",
            "streamChanges",
            "Every change matching the query filters, live, as Server-Sent Events",
            READ,
            media_type="text/event-stream",
        ),
        Route("GET", ENTRY, "getEntry", "Get one entry", READ, response="Entry"),
        Route(
            "PUT",
            ENTRY,
            "amendEntry",
            "Amend an entry (a new revision)",
            ADMIN,
            body="EntryInput",
            response="Entry",
            conditional=True,
        ),
        Route(
            "DELETE",
            ENTRY,
            "deleteEntry",
            "Delete an entry (a tombstone)",
            ADMIN,
            status=204,
            conditional=True,
        ),
        Route(
            "POST",
            f"{ENTRY}/erase",
            "eraseEntryFields",
            "Erase fields from every revision of an entry: values and salts go, digests stay",
            ERASE,
            body="EraseRequest",
            response="Erasure",
        ),
        Route(
            "GET",
            f"{ENTRY}/history",
            "getEntryHistory",
            "The revisions of an entry, oldest first, a page at a time",
            READ,
            response="EntryHistoryPage",
            optional_integers=("after", "limit"),
        ),
        Route(
            "GET",
            f"{ENTRY}/proof",
            "getEntryProof",
            "A revision with its inclusion proof and the signed checkpoint it is proven in",
            READ,
            response="EntryProof",
            optional_integers=("revision", "tree_size"),
        ),
        Route(
            "GET",
            "/log/key",
            "getLogKey",
            "The key that signs the log checkpoints",
            None,
            response="LogKey",
        ),
        Route(
            "GET",
            "/log/checkpoint",
            "getLogCheckpoint",
            "The latest signed checkpoint of the tenant's log (a C2SP signed note)",
            READ,
            media_type="text/plain",
        ),
        Route(
            "GET",
            "/log/consistency",
            "getLogConsistency",
            "The RFC 9162 consistency proof between two sizes of the tenant's log",
            READ,
            response="LogConsistency",
            integers=("first", "second"),
        ),
        Route(
            "GET",
            "/log/leaves",
            "getLogLeaves",
            "Leaves of the tenant's log, at most 1000 per request",
            READ,
            response="LogLeaves",
            integers=("start", "end"),
        ),
        Route(
            "GET",
            "/tenant/retention",
            "getRetention",
            "The tenant's retention period, and whether it is its own or the default",
            ADMIN,
            response="Retention",
        ),
        Route(
            "PUT",
            "/tenant/retention",
            "setRetention",
            "Set the tenant's retention period in days (null: keep entries forever)",
            ADMIN,
            body="RetentionInput",
            response="Retention",
        ),
        Route(
            "DELETE",
            "/tenant/retention",
            "clearRetention",
            "Drop the tenant's own retention period: the default applies again",
            ADMIN,
            response="Retention",
        ),
        Route(
            "POST",
            "/holds",
            "createHold",
            "Place a legal hold: matching entries are kept from purge and erasure",
            ADMIN,
            status=201,
            body="HoldInput",
            response="Hold",
        ),
        Route(
            "GET",
            "/holds",
            "listHolds",
            "The tenant's legal holds (?status=active, the default, released or all)",
            ADMIN,
            response="HoldList",
        ),
        Route("GET", HOLD, "getHold", "One legal hold, active or released", ADMIN, response="Hold"),
        Route(
            "DELETE",
            HOLD,
            "releaseHold",
            "Release a legal hold (kept, with released_at)",
            ADMIN,
            response="Hold",
        ),
        Route(
            "POST",
            f"{HOLD}/release",
            "releaseHoldByPost",
            "Release a legal hold (the same as DELETE on the hold)",
            ADMIN,
            response="Hold",
        ),
        Route(
            "POST",
            "/viewer-tokens",
            "createViewerToken",
            "Mint a short-lived read-only token for the tenant, optionally restricted to "
            "one actor or one target",
            ADMIN,
            status=201,
            body="ViewerTokenInput",
            response="ViewerToken",
        ),
        Route(
            "POST",
            "/webhooks",
            "createWebhook",
            "Subscribe a receiver to the tenant's changes (the secret is shown this once)",
            ADMIN,
            status=201,
            body="WebhookInput",
            response="WebhookCreated",
        ),
        Route(
            "GET",
            "/webhooks",
            "listWebhooks",
            "The tenant's webhooks",
            ADMIN,
            response="WebhookList",
        ),
        Route("GET", WEBHOOK, "getWebhook", "One webhook", ADMIN, response="Webhook"),
        Route("DELETE", WEBHOOK, "deleteWebhook", "Delete a webhook", ADMIN, status=204),
        Route(
            "POST",
            f"{WEBHOOK}/resume",
            "resumeWebhook",
            "Resume a dead webhook: delivered again from its cursor",
            ADMIN,
            response="Webhook",
        ),
        Route(
            "GET",
            f"{WEBHOOK}/deliveries",
            "listWebhookDeliveries",
            "The webhook's delivery log, newest first (?limit=1..100)",
            ADMIN,
            response="WebhookDeliveries",
            optional_integers=("limit",),
        ),
    )
)
