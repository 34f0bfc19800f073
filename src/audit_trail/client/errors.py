"""The client's exceptions: one per kind of refusal, mapped from the status of an
RFC 9457 ``application/problem+json`` answer, each carrying the problem's members."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class AuditTrailError(Exception):
    """Anything the client could not do. Refusals by the service are ``ProblemError``s."""


class ProblemError(AuditTrailError):
    """The service refused with a problem: ``type``, ``title``, ``status``, ``detail``,
    the other members in ``extras`` (``errors`` of a 422, ``hold_id`` ...), the whole
    body in ``raw``, and the answer's ``Retry-After`` when it had one."""

    def __init__(
        self,
        status: int,
        body: Mapping[str, Any],
        retry_after: str | None = None,
    ) -> None:
        self.status = status
        self.raw = dict(body)
        self.type = str(body.get("type", "about:blank"))
        self.title = str(body.get("title", ""))
        self.detail = str(body.get("detail", ""))
        self.extras = {
            k: v for k, v in body.items() if k not in ("type", "title", "status", "detail")
        }
        self.retry_after = retry_after
        errors = body.get("errors")
        named = ""
        if isinstance(errors, list) and errors:  # a 422's fields, in the message
            named = (
                " ("
                + "; ".join(
                    f"{e.get('field')}: {e.get('message')}" for e in errors if isinstance(e, dict)
                )
                + ")"
            )
        super().__init__(f"{status} {self.title}: {self.detail}{named}")

    @property
    def slug(self) -> str:
        """The problem type's last part (``not-found``, ``idempotency-key-in-use``)."""
        return self.type.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


class BadRequest(ProblemError):
    """400: a malformed request or Idempotency-Key."""


class Unauthorized(ProblemError):
    """401: no token, or one the service refuses (expired, badly signed)."""


class Forbidden(ProblemError):
    """403: the token lacks the scope, or names no tenant."""


class NotFound(ProblemError):
    """404: no such entry (another tenant's is absent too), or it was deleted."""


class Conflict(ProblemError):
    """409: a concurrent change, an Idempotency-Key still in use, a legal hold."""


class PreconditionFailed(ProblemError):
    """412: ``if_match`` named a revision that is no longer current."""


class PayloadTooLarge(ProblemError):
    """413: the body or the entry is over the service's limit."""


class ValidationError(ProblemError):
    """422: the entry or the query is invalid; ``errors`` names each offending field."""

    @property
    def errors(self) -> list[dict[str, Any]]:
        errors = self.extras.get("errors")
        return list(errors) if isinstance(errors, list) else []


class TooManyRequests(ProblemError):
    """429."""


class ServerError(ProblemError):
    """5xx other than 503."""


class ServiceUnavailable(ServerError):
    """503: storage unavailable or overloaded; retried by the client, raised once the
    attempts are spent."""


class TransportError(AuditTrailError):
    """No answer at all (connection refused, timeout), after the retries."""


class UnexpectedResponse(AuditTrailError):
    """An answer that is not what the API promises (not JSON, wrong shape)."""


class VerificationFailed(AuditTrailError):
    """A proof did not verify: the service's evidence does not hold what it claims.
    ``subject`` names what failed (``entry <id> revision <r>``, ``checkpoint``...)."""

    def __init__(self, subject: str, reason: str) -> None:
        super().__init__(f"{subject}: {reason}")
        self.subject = subject
        self.reason = reason


_BY_STATUS: dict[int, type[ProblemError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    412: PreconditionFailed,
    413: PayloadTooLarge,
    422: ValidationError,
    429: TooManyRequests,
    503: ServiceUnavailable,
}


def problem_error(
    status: int, body: Mapping[str, Any], retry_after: str | None = None
) -> ProblemError:
    """The exception of a refusal with ``status`` and problem ``body``."""
    kind = _BY_STATUS.get(status) or (ServerError if status >= 500 else ProblemError)
    return kind(status, body, retry_after)
