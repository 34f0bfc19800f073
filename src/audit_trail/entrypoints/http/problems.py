"""RFC 9457 problem details: the one table from errors to status, type and title.

Domain errors come from the core; ``HttpProblem`` covers what only HTTP knows
(malformed JSON, wrong media type, a body too large, a wrong method, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

from audit_trail.core import (
    DuplicateEntry,
    EntryNotFound,
    EntryTooLarge,
    Forbidden,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    LogDamaged,
    LogRangeError,
    Overloaded,
    PluginFailed,
    RevisionConflict,
    StorageUnavailable,
    Unauthenticated,
    ValidationFailed,
)
from audit_trail.core.errors import EntryHeld, HoldNotFound, WebhookNotFound
from audit_trail.entrypoints.http.messages import PROBLEM_JSON, HttpResponse
from audit_trail.entrypoints.http.paths import problem_type_uri

Headers = tuple[tuple[str, str], ...]
RETRY_AFTER_SECONDS = 5


@dataclass(frozen=True, slots=True)
class ProblemType:
    """A kind of problem: its ``type`` URI is a section of the docs page."""

    slug: str
    status: int
    title: str
    description: str

    @property
    def uri(self) -> str:
        """``about:blank`` stays as it is; our own types point into the docs page."""
        return self.slug if ":" in self.slug else problem_type_uri(self.slug)


VALIDATION_FAILED = ProblemType(
    "validation-failed",
    422,
    "Validation failed",
    "The request has invalid fields; `errors` lists each offending field and why.",
)
NOT_FOUND = ProblemType("not-found", 404, "Not found", "No such entry, or no such resource.")
PRECONDITION_FAILED = ProblemType(
    "precondition-failed",
    412,
    "Precondition failed",
    "The entry's current revision does not match `If-Match`.",
)
CONFLICT = ProblemType(
    "conflict", 409, "Conflict", "The entry was changed concurrently, or its id exists."
)
UNAUTHENTICATED = ProblemType(
    "unauthenticated",
    401,
    "Unauthenticated",
    "The bearer token is missing, malformed, badly signed, expired or not yet valid.",
)
FORBIDDEN = ProblemType(
    "forbidden", 403, "Forbidden", "The token lacks the scope, or names no tenant."
)
STORAGE_UNAVAILABLE = ProblemType(
    "storage-unavailable",
    503,
    "Storage unavailable",
    "The storage backend did not answer; retry after `Retry-After` seconds, with the same "
    "`Idempotency-Key`: the write may have been stored.",
)
ENTRY_TOO_LARGE = ProblemType(
    "entry-too-large", 413, "Entry too large", "The entry is too large to store."
)
BODY_TOO_LARGE = ProblemType(
    "body-too-large",
    413,
    "Request body too large",
    "The request body exceeds the configured limit; it was refused unparsed.",
)
MALFORMED_REQUEST = ProblemType(
    "malformed-request",
    400,
    "Malformed request",
    "The body is not valid JSON, or a header cannot be parsed.",
)
UNSUPPORTED_MEDIA_TYPE = ProblemType(
    "unsupported-media-type",
    415,
    "Unsupported media type",
    "The body must be sent as `application/json`.",
)
METHOD_NOT_ALLOWED = ProblemType(
    "method-not-allowed",
    405,
    "Method not allowed",
    "The path exists; `Allow` lists its methods.",
)
PLUGIN_FAILED = ProblemType(
    "plugin-failed",
    500,
    "Plugin failed",
    "A plugin failed while preparing an entry; a write was not stored.",
)
INTERNAL_ERROR = ProblemType(
    "internal-error", 500, "Internal server error", "An unexpected error; it was logged."
)
OVERLOADED = ProblemType(
    "overloaded",
    503,
    "Overloaded",
    "Too many writes are waiting for storage; nothing of this request was stored. "
    "Retry after `Retry-After` seconds, with the same `Idempotency-Key`.",
)
IDEMPOTENCY_KEY_INVALID = ProblemType(
    "idempotency-key-invalid",
    400,
    "Invalid Idempotency-Key",
    "The `Idempotency-Key` header is not a string of 1 to 255 printable ASCII characters "
    '(sent as `"key"`, or as a bare token).',
)
IDEMPOTENCY_KEY_IN_USE = ProblemType(
    "idempotency-key-in-use",
    409,
    "Idempotency-Key in use",
    "A request with this `Idempotency-Key` is still being processed; nothing of this one "
    "was done. Retry after `Retry-After` seconds with the same key.",
)
IDEMPOTENCY_KEY_REUSED = ProblemType(
    "idempotency-key-reused",
    422,
    "Idempotency-Key reused",
    "This `Idempotency-Key` was used for a different request (another body or operation) "
    "within its window; nothing of this one was done. Use a new key for a new request.",
)
LOG_DAMAGED = ProblemType(
    "log-damaged",
    500,
    "Log damaged",
    "The tenant's log lacks leaves or subtree hashes it must hold: its storage was altered "
    "or damaged. Retrying does not help; verify the log (`audit-trail verify --full`).",
)
ENTRY_HELD = ProblemType(
    "entry-held",
    409,
    "Under legal hold",
    "A legal hold protects the entry; `hold_id` names it. Release the hold first.",
)
LOG_RANGE = ProblemType(
    "log-range",
    422,
    "Outside the log",
    "A tree size, leaf range or proof asked for lies outside the tenant's log or its limits.",
)
RATE_LIMITED = ProblemType(
    "rate-limited",
    429,
    "Too many requests",
    "The tenant's writes or reads are over their rate limit; nothing of this request was "
    "done. Retry after `Retry-After` seconds; `RateLimit` and `RateLimit-Policy` say the "
    'limit (docs/operations.md, "Rate limits").',
)
NOT_READY = ProblemType(
    "not-ready",
    503,
    "Not ready",
    "A dependency (storage, the log signer, Redis) did not answer in time; `checks` says "
    "which. Send traffic elsewhere until GET /ready answers 200.",
)

PROBLEM_TYPES = (
    VALIDATION_FAILED,
    MALFORMED_REQUEST,
    UNAUTHENTICATED,
    FORBIDDEN,
    NOT_FOUND,
    METHOD_NOT_ALLOWED,
    CONFLICT,
    PRECONDITION_FAILED,
    BODY_TOO_LARGE,
    ENTRY_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    PLUGIN_FAILED,
    INTERNAL_ERROR,
    STORAGE_UNAVAILABLE,
    OVERLOADED,
    LOG_RANGE,
    LOG_DAMAGED,
    ENTRY_HELD,
    IDEMPOTENCY_KEY_INVALID,
    IDEMPOTENCY_KEY_IN_USE,
    IDEMPOTENCY_KEY_REUSED,
    RATE_LIMITED,
    NOT_READY,
)


class HttpProblem(Exception):
    """A problem that only the HTTP layer knows about."""

    def __init__(self, kind: ProblemType, detail: str, headers: Iterable[tuple[str, str]] = ()):
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.headers: Headers = tuple(headers)


class TokenRejected(Unauthenticated):
    """A bearer token was sent but refused (RFC 6750 ``invalid_token``)."""


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: ProblemType
    detail: Callable[[Any], str] = str
    headers: Callable[[Any], Headers] = lambda _: ()
    members: Callable[[Any], dict[str, Any]] = lambda _: {}  # extension members


def _challenge(exc: Unauthenticated) -> Headers:
    if isinstance(exc, TokenRejected):
        return (("www-authenticate", 'Bearer error="invalid_token"'),)
    return (("www-authenticate", "Bearer"),)


# The one table from domain error to problem; looked up along the exception's MRO.
def _plugin_failure_detail(exc: PluginFailed) -> str:
    if exc.hook == "audit_redact_for_reader":
        return "the entry could not be prepared for reading"
    return "the entry could not be prepared; it was not stored"


DOMAIN_PROBLEMS: dict[type[Exception], _Rule] = {
    ValidationFailed: _Rule(VALIDATION_FAILED, lambda _: "the request has invalid fields"),
    EntryNotFound: _Rule(NOT_FOUND),
    WebhookNotFound: _Rule(NOT_FOUND),
    RevisionConflict: _Rule(CONFLICT, lambda _: "the entry was changed concurrently; retry"),
    DuplicateEntry: _Rule(CONFLICT),
    Unauthenticated: _Rule(
        UNAUTHENTICATED, lambda e: str(e) or "a bearer token is required", _challenge
    ),
    Forbidden: _Rule(FORBIDDEN),
    StorageUnavailable: _Rule(
        STORAGE_UNAVAILABLE,
        lambda _: "the storage backend is unavailable; retry later with the same Idempotency-Key",
        lambda _: (("retry-after", str(RETRY_AFTER_SECONDS)),),
    ),
    EntryTooLarge: _Rule(ENTRY_TOO_LARGE, lambda _: "the entry is too large to store"),
    PluginFailed: _Rule(PLUGIN_FAILED, _plugin_failure_detail),
    Overloaded: _Rule(
        OVERLOADED,
        lambda _: (
            "too many writes are waiting for storage; retry later with the same Idempotency-Key"
        ),
        lambda e: (("retry-after", str(e.retry_after)),),
    ),
    LogRangeError: _Rule(LOG_RANGE),
    IdempotencyKeyInUse: _Rule(
        IDEMPOTENCY_KEY_IN_USE, headers=lambda e: (("retry-after", str(e.retry_after)),)
    ),
    IdempotencyKeyReused: _Rule(IDEMPOTENCY_KEY_REUSED),
    LogDamaged: _Rule(LOG_DAMAGED),
    HoldNotFound: _Rule(NOT_FOUND),
    EntryHeld: _Rule(ENTRY_HELD, members=lambda e: {"hold_id": e.hold_id, "entry_id": e.entry_id}),
}


def render_problem(
    kind: ProblemType,
    detail: str,
    headers: Iterable[tuple[str, str]] = (),
    errors: list[dict[str, str]] | None = None,
    members: dict[str, Any] | None = None,
) -> HttpResponse:
    body: dict[str, Any] = {
        "type": kind.uri,
        "title": kind.title,
        "status": kind.status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    if members:
        body.update(members)
    return HttpResponse(
        kind.status, (("content-type", PROBLEM_JSON), *headers), msgspec.json.encode(body)
    )


def known_problem(exc: Exception) -> HttpResponse | None:
    """The problem response for ``exc``; None when it is not an error we expect."""
    if isinstance(exc, HttpProblem):
        return render_problem(exc.kind, exc.detail, exc.headers)
    rule = next((DOMAIN_PROBLEMS[c] for c in type(exc).__mro__ if c in DOMAIN_PROBLEMS), None)
    if rule is None:
        return None
    errors = None
    if isinstance(exc, ValidationFailed):
        errors = [{"field": e.field, "message": e.message} for e in exc.errors]
    return render_problem(rule.kind, rule.detail(exc), rule.headers(exc), errors, rule.members(exc))


def internal_error() -> HttpResponse:
    return render_problem(INTERNAL_ERROR, "an unexpected error occurred; it was logged")
