"""TokenVerifier: bearer token in, Principal out; ViewerTokenIssuer: the service's own
short-lived read-only tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from audit_trail.core.principal import Principal
from audit_trail.core.restriction import Restriction


class TokenVerifier(Protocol):
    def verify(self, token: str) -> Principal:
        """The principal a bearer token stands for.

        ``Unauthenticated`` when the token is malformed, badly signed, expired, not yet
        valid, for another issuer or audience, or has no ``exp``; ``Forbidden`` when it
        is valid but names no tenant and no default tenant is configured."""
        ...


@dataclass(frozen=True, slots=True)
class ViewerGrant:
    """What a viewer token says: read-only access to ``tenant`` (as restricted) for
    ``subject``, from ``issued_at`` until ``expires_at``."""

    subject: str
    tenant: str
    restriction: Restriction
    issued_at: datetime
    expires_at: datetime


class ViewerTokenIssuer(Protocol):
    def issue(self, grant: ViewerGrant) -> str:
        """A signed bearer token for ``grant``, which the service's ``TokenVerifier``
        accepts as a ``Principal`` with the scope audit:read and the grant's
        restriction until ``expires_at``, and refuses once altered in any way."""
        ...
