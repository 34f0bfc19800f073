"""TokenVerifier: bearer token in, Principal out."""

from __future__ import annotations

from typing import Protocol

from audit_trail.core.principal import Principal


class TokenVerifier(Protocol):
    def verify(self, token: str) -> Principal:
        """The principal a bearer token stands for.

        ``Unauthenticated`` when the token is malformed, badly signed, expired, not yet
        valid, for another issuer or audience, or has no ``exp``; ``Forbidden`` when it
        is valid but names no tenant and no default tenant is configured."""
        ...
