"""The Python client of audit-trail (docs/client.md).

    from audit_trail.client import AuditTrailClient, NewEntry, EntryQuery

    with AuditTrailClient("https://audit.example", token) as client:
        entry = client.record(NewEntry("document.update"))
        for found in client.query(EntryQuery(actor_id="u-42")):
            ...
        proof = client.get_proof(entry.id)  # verified against the log's key

``AsyncAuditTrailClient`` has the same methods, to await. ``audit_trail.client.testing``
holds an in-memory service for tests.
"""

from audit_trail.client.aio import AsyncAuditTrailClient
from audit_trail.client.errors import (
    AuditTrailError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    ProblemError,
    ServerError,
    ServiceUnavailable,
    TooManyRequests,
    TransportError,
    Unauthorized,
    UnexpectedResponse,
    ValidationError,
    VerificationFailed,
)
from audit_trail.client.inputs import EntryQuery, NewEntry
from audit_trail.client.models import (
    Actor,
    Entry,
    History,
    LogKey,
    Outcome,
    Page,
    Proof,
    Source,
    Target,
)
from audit_trail.client.retry import RetryPolicy
from audit_trail.client.sync import AuditTrailClient

__all__ = [
    "Actor",
    "AsyncAuditTrailClient",
    "AuditTrailClient",
    "AuditTrailError",
    "BadRequest",
    "Conflict",
    "Entry",
    "EntryQuery",
    "Forbidden",
    "History",
    "LogKey",
    "NewEntry",
    "NotFound",
    "Outcome",
    "Page",
    "PayloadTooLarge",
    "PreconditionFailed",
    "ProblemError",
    "Proof",
    "RetryPolicy",
    "ServerError",
    "ServiceUnavailable",
    "Source",
    "Target",
    "TooManyRequests",
    "TransportError",
    "Unauthorized",
    "UnexpectedResponse",
    "ValidationError",
    "VerificationFailed",
]
