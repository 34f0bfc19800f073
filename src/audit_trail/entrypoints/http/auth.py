"""Bearer authentication: the ``Authorization`` header to a ``Principal``."""

from __future__ import annotations

from audit_trail.core import Principal, Unauthenticated
from audit_trail.core.ports import TokenVerifier
from audit_trail.entrypoints.http.messages import HttpRequest
from audit_trail.entrypoints.http.problems import TokenRejected


class BearerAuthenticator:
    """Reads ``Authorization: Bearer <token>`` (scheme case-insensitive) and asks the
    ``TokenVerifier`` who it stands for.

    No header, or another scheme: ``Unauthenticated`` (challenge without an error code).
    A token that the verifier refuses: ``TokenRejected`` (``error="invalid_token"``)."""

    def __init__(self, verifier: TokenVerifier) -> None:
        self._verifier = verifier

    def authenticate(self, request: HttpRequest) -> Principal:
        header = request.header("authorization")
        if header is None:
            raise Unauthenticated("a bearer token is required")
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer":
            raise Unauthenticated("the Authorization header must use the Bearer scheme")
        token = token.strip()
        if not token:
            raise TokenRejected("the bearer token is empty")
        try:
            return self._verifier.verify(token)
        except TokenRejected:
            raise
        except Unauthenticated as exc:
            raise TokenRejected(str(exc) or "the bearer token is not valid") from exc
