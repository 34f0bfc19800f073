"""The OpenAPI 3.1 document, built once from the routing table and the schemas."""

from __future__ import annotations

from typing import Any

from audit_trail.core import Outcome, SortOrder
from audit_trail.core.query import DEFAULT_LIMIT, MAX_CURSOR_LENGTH, MAX_LIMIT
from audit_trail.core.validation import ACTION_PATTERN, MAX_ID_LENGTH
from audit_trail.entrypoints.http.export import NOT_EXPORT_PARAMETERS
from audit_trail.entrypoints.http.idempotency import MAX_KEY_LENGTH
from audit_trail.entrypoints.http.messages import JSON, PROBLEM_JSON
from audit_trail.entrypoints.http.problems import PROBLEM_TYPES, ProblemType
from audit_trail.entrypoints.http.rate_limits import RATE_LIMIT_HEADERS, rate_kind
from audit_trail.entrypoints.http.routes import ROUTES, Route, RouteTable
from audit_trail.entrypoints.http.schemas import Schema, component_schemas, ref, text, timestamp
from audit_trail.entrypoints.http.stream import NOT_STREAM_PARAMETERS

_ID: Schema = text(MAX_ID_LENGTH)
EXPORT = "exportEntries"
STREAM = "streamChanges"
IDEMPOTENT_OPERATIONS = frozenset({"recordEntry", "recordEntries"})
QUERY_PARAMETERS: dict[str, tuple[str, Schema]] = {
    "actor_id": ("Entries by this actor.", _ID),
    "actor_type": ("Entries by actors of this type.", _ID),
    "action": (
        "This action exactly, or a prefix ending in `*`.",
        {"type": "string", "pattern": f"^{ACTION_PATTERN.pattern}\\*?$"},
    ),
    "target_type": ("Entries on targets of this type.", _ID),
    "target_id": ("Entries on this target.", _ID),
    "outcome": (
        "Entries with this outcome.",
        {"enum": [o.value for o in Outcome]},
    ),
    "tag": ("Entries carrying this tag.", _ID),
    "since": ("occurred_at at or after (ISO 8601).", timestamp()),
    "until": ("occurred_at at or before (ISO 8601); not before `since`.", timestamp()),
    "sort": ("Order by occurred_at.", {"enum": [s.value for s in SortOrder]}),
    "limit": (
        "Page size.",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    ),
    "cursor": (
        "`next_cursor` of the previous page of the same query (opaque).",
        {"type": "string", "minLength": 1, "maxLength": MAX_CURSOR_LENGTH},
    ),
    "proof": (
        "`1` or `true`: answer with a query proof, what shows the answer holds every "
        "entry the log has for it (docs/query-proofs.md); the filters it is proven "
        "through are `actor_id`, `target_type` with `target_id`, `action` (exact), or a "
        "time range alone. It comes in pages of at most `limit` postings, each pinned to "
        "page 1's checkpoint; follow `next_cursor` to the last page.",
        {"enum": ["1", "true", "0", "false"]},
    ),
}

GOVERNANCE = ("/holds", "/tenant/")  # routes that refuse unknown query parameters


def _problem(kind: ProblemType, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": f"{kind.title}: {kind.description}",
        "content": {PROBLEM_JSON: {"schema": ref("Problem")}},
    }
    if headers:
        response["headers"] = headers
    return response


def _also(
    response: dict[str, Any], kind: ProblemType, headers: dict[str, Any] | None
) -> dict[str, Any]:
    """``response`` (one status) describing ``kind`` too, with its headers."""
    described = f"{response['description']} Or {kind.title}: {kind.description}"
    merged = {**response, "description": described}
    if headers:
        merged["headers"] = {**response.get("headers", {}), **headers}
    return merged


def _problems_of(route: Route) -> dict[str, Any]:
    kinds = {k.slug: k for k in PROBLEM_TYPES}
    slugs = ["body-too-large"]
    if route.scope is not None:
        slugs += ["unauthenticated", "forbidden", "storage-unavailable"]
    if route.body is not None:
        slugs += ["malformed-request", "unsupported-media-type", "validation-failed"]
    if route.operation in ("queryEntries", EXPORT, STREAM) or route.path.startswith(GOVERNANCE):
        slugs.append("validation-failed")
    if route.integers or route.optional_integers:
        slugs.append("validation-failed")
        if route.path.startswith("/log/") or route.path.endswith("/proof"):
            slugs.append("log-range")
    if route.method == "POST" and route.scope is not None:
        slugs.append("overloaded")
    if route.operation in IDEMPOTENT_OPERATIONS:
        slugs += ["idempotency-key-invalid", "idempotency-key-in-use", "idempotency-key-reused"]
    if rate_kind(route) is not None:
        slugs.append("rate-limited")
    if route.path_params:
        slugs.append("not-found")
    if route.operation == "eraseEntryFields":
        slugs.append("entry-held")
    if route.conditional:
        slugs += ["precondition-failed", "conflict"]
    if route.operation == "getReady":
        slugs.append("not-ready")
    problems: dict[str, Any] = {}
    for slug in dict.fromkeys(slugs):
        kind = kinds[slug]
        header = None
        if slug == "unauthenticated":
            header = {"WWW-Authenticate": {"schema": {"type": "string"}}}
        if slug in ("storage-unavailable", "overloaded", "idempotency-key-in-use"):
            header = {"Retry-After": {"schema": {"type": "integer"}}}
        if slug == "rate-limited":
            header = RATE_LIMIT_HEADERS
        status = str(kind.status)
        if status in problems:
            problems[status] = _also(problems[status], kind, header)
        else:
            problems[status] = _problem(kind, header)
    problems["default"] = _problem(kinds["internal-error"])
    return problems


def _success(route: Route) -> dict[str, Any]:
    response: dict[str, Any] = {"description": route.summary}
    if route.status == 204:
        return response
    schema: Schema = ref(route.response) if route.response else {"type": "object"}
    if route.operation == "queryEntries":  # `proof=1` answers with a query proof
        schema = {"oneOf": [schema, ref("QueryProof")]}
    if route.media_type != JSON:
        schema = {"type": "string"}
    response["content"] = {route.media_type: {"schema": schema}}
    headers: dict[str, Any] = {}
    if route.operation == EXPORT:
        response["content"] = {
            "application/x-ndjson": {"schema": schema},
            "text/csv; charset=utf-8": {"schema": schema},
        }
        headers["Content-Disposition"] = {
            "description": 'attachment; filename="audit-trail-<tenant>-<UTC time>.<format>"',
            "schema": {"type": "string"},
        }
    if route.response == "Entry":
        headers["ETag"] = {
            "description": "The revision, as a strong tag.",
            "schema": {"type": "string"},
        }
    if route.operation == "recordEntry":
        headers["Location"] = {"schema": {"type": "string"}}
    if route.operation in IDEMPOTENT_OPERATIONS:
        headers["Idempotent-Replayed"] = {
            "description": "`true` when this replays the first answer to the request's "
            "`Idempotency-Key` (nothing new was stored); absent otherwise.",
            "schema": {"type": "string", "enum": ["true"]},
        }
    if headers:
        response["headers"] = headers
    return response


def _parameters(route: Route) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in route.path_params
    ]
    if route.operation == "queryEntries":
        params += [
            {"name": name, "in": "query", "description": text, "schema": schema}
            for name, (text, schema) in QUERY_PARAMETERS.items()
        ]
    if route.operation == "listHolds":
        params.append(
            {
                "name": "status",
                "in": "query",
                "description": "`active` (the default): holds in force; `released`: released "
                "ones (with `released_at`); `all`: both, oldest first.",
                "schema": {"enum": ["active", "released", "all"], "default": "active"},
            }
        )
    if route.operation == EXPORT:
        params.append(
            {
                "name": "format",
                "in": "query",
                "description": "`ndjson`: one JSON object per entry, with its integrity "
                'data, then one trailer line `{"trailer": {...}}` (the signed checkpoint '
                "pinned at the start, `tree_size`, `count`, `after_checkpoint` and the "
                "`complement` hashes) that proves the export whole offline; `csv`: one row "
                "per entry, fixed columns, no integrity data (docs/lifecycle.md, Export).",
                "schema": {"enum": ["ndjson", "csv"], "default": "ndjson"},
            }
        )
        params += [
            {"name": name, "in": "query", "description": text, "schema": schema}
            for name, (text, schema) in QUERY_PARAMETERS.items()
            if name not in NOT_EXPORT_PARAMETERS
        ]
    if route.operation == STREAM:
        params += [
            {"name": name, "in": "query", "description": text, "schema": schema}
            for name, (text, schema) in QUERY_PARAMETERS.items()
            if name not in NOT_STREAM_PARAMETERS
        ]
        params += [
            {
                "name": "after",
                "in": "query",
                "description": "Resume after this log index (-1: from the start of the "
                "log); without it or Last-Event-ID, the stream starts at the log's end.",
                "schema": {"type": "integer", "minimum": -1},
            },
            {
                "name": "Last-Event-ID",
                "in": "header",
                "description": "The id of the last event received (a reconnect); wins "
                "over `after`.",
                "schema": {"type": "string"},
            },
        ]
    params += [
        {
            "name": name,
            "in": "query",
            "required": name in route.integers,
            "schema": {"type": "integer", "minimum": 0},
        }
        for name in (*route.integers, *route.optional_integers)
    ]
    if route.operation in IDEMPOTENT_OPERATIONS:
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "description": "A key of the client's choosing (draft-ietf-httpapi-"
                'idempotency-key-header), sent as a string (`"key"`) or a bare token, 1 to '
                f"{MAX_KEY_LENGTH} printable ASCII characters. Within "
                "`AUDIT_IDEMPOTENCY_TTL_SECONDS` (default 24 h) a request with the same "
                "key and body gets the first answer again and stores nothing new; another "
                "body is a 422; while the first is in flight, a 409. Keys are per tenant. "
                "Retry with the same key after a 503.",
                "schema": {"type": "string", "maxLength": MAX_KEY_LENGTH + 2},
            }
        )
    if route.conditional:
        params.append(
            {
                "name": "If-Match",
                "in": "header",
                "description": "Apply only if the entry is still at this ETag (or `*`).",
                "schema": {"type": "string"},
            }
        )
    return params


def _operation(route: Route) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": route.operation,
        "summary": route.summary,
        "tags": ["entries" if route.scope else "service"],
        "security": [{"bearerAuth": [route.scope.value]}] if route.scope else [],
        "responses": {str(route.status): _success(route), **_problems_of(route)},
    }
    if parameters := _parameters(route):
        operation["parameters"] = parameters
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": ref(route.body)}},
        }
    return operation


def _description() -> str:
    """What the docs page shows on top: the service, and the problem types, each row
    the target of its ``type`` URI (``/docs#<slug>``)."""
    rows = "\n".join(
        f'| <a id="{kind.slug}"></a>`{kind.slug}` | {kind.status} | {kind.title} '
        f"| {kind.description} |"
        for kind in PROBLEM_TYPES
        if ":" not in kind.slug
    )
    return (
        "Record who did what to which resource; query it back per tenant.\n\n"
        "Send `Authorization: Bearer <JWT>` (the Authorize button, here).\n\n"
        "Every response carries `X-Request-ID`: the request's own when it sent one of "
        "1 to 128 characters `A-Z a-z 0-9 . _ : -`, else a new one; the service's log "
        "names the request by it.\n\n"
        "## Problem types\n\n"
        "Errors are `application/problem+json` (RFC 9457); their `type` points to a "
        "row below.\n\n"
        "| type | status | title | meaning |\n| --- | --- | --- | --- |\n" + rows
    )


def build_openapi(
    *, max_batch_entries: int, version: str = "0.1.0", routes: RouteTable = ROUTES
) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes.routes:
        paths.setdefault(route.full_path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "audit-trail",
            "version": version,
            "description": _description(),
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": component_schemas(max_batch_entries),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
