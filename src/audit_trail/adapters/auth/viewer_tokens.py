"""Viewer tokens: the service's own short-lived, read-only JWTs (HS256, issuer and
audience ``audit-trail/viewer``, ``kid`` ``audit-trail/viewer``), signed with a key the
service derives from a key it already owns (the log signing key, by HKDF-SHA256 under
a label of its own), so
every process that shares that secret accepts every other's tokens.

``ViewerTokens`` is both the ``ViewerTokenIssuer`` and a ``TokenVerifier`` for these
tokens; ``ViewerAwareVerifier`` sends a token carrying the viewer ``kid`` to it and
every other token to the identity provider's verifier. Both give the window a token
is accepted in (``verify_token``), so that ``CachingTokenVerifier`` can stand in
front of them and a token's header is read once, not on every request.
"""

from __future__ import annotations

import secrets
from typing import Any

import jwt

from audit_trail.adapters.auth.keys import KeyRing
from audit_trail.adapters.auth.pyjwt_verifier import PyJWTTokenVerifier, VerifiedToken
from audit_trail.core.checks import ErrorCollector
from audit_trail.core.errors import Unauthenticated
from audit_trail.core.ports import ViewerGrant
from audit_trail.core.principal import Principal, Scope
from audit_trail.core.restriction import parse_restriction

VIEWER_ISSUER = VIEWER_AUDIENCE = VIEWER_KEY_ID = "audit-trail/viewer"
ALGORITHM = "HS256"
MAX_LIFETIME_SECONDS = 3600
VIEWER_KEY_LABEL = b"audit-trail viewer-token HS256 key v1"  # HKDF info


class ViewerTokens:
    """Issues and verifies viewer tokens with ``key``: 32 bytes or more, shared by every
    process of the service (the container derives it from the log signing key under
    ``VIEWER_KEY_LABEL``)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("a viewer token key is 32 bytes or more")
        self._key = key

    def issue(self, grant: ViewerGrant) -> str:
        claims: dict[str, Any] = {
            "iss": VIEWER_ISSUER,
            "aud": VIEWER_AUDIENCE,
            "sub": grant.subject,
            "tenant": grant.tenant,
            "scope": Scope.READ.value,
            "restriction": grant.restriction.as_json(),
            "iat": grant.issued_at,
            "nbf": grant.issued_at,
            "exp": grant.expires_at,
            "jti": secrets.token_urlsafe(12),
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": VIEWER_KEY_ID})

    def verify(self, token: str) -> Principal:
        return self.verify_token(token).principal

    def verify_token(self, token: str) -> VerifiedToken:
        """As ``verify``, with the window the token is accepted in (``nbf`` to ``exp``)."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                issuer=VIEWER_ISSUER,
                audience=VIEWER_AUDIENCE,
                options={"require": ["exp", "iat", "sub", "tenant", "scope", "restriction"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token expired") from None
        except jwt.PyJWTError:
            raise Unauthenticated("viewer token is invalid") from None
        subject, tenant = claims["sub"], claims["tenant"]
        valid = (
            isinstance(subject, str)
            and subject
            and isinstance(tenant, str)
            and tenant
            and claims["scope"] == Scope.READ.value
            and claims["exp"] - claims["iat"] <= MAX_LIFETIME_SECONDS
        )
        errors = ErrorCollector()
        restriction = parse_restriction(claims["restriction"], errors)
        if not valid or errors.items:
            raise Unauthenticated("viewer token is invalid")
        principal = Principal(subject, tenant, frozenset({Scope.READ.value}), restriction)
        return VerifiedToken(principal, claims.get("nbf", claims["iat"]), claims["exp"])


def is_viewer_token(token: str) -> bool:
    """Whether ``token`` names the viewer key (its header only: not yet verified)."""
    try:
        return jwt.get_unverified_header(token).get("kid") == VIEWER_KEY_ID
    except jwt.PyJWTError:
        return False


class ViewerAwareVerifier:
    """The TokenVerifier port: viewer tokens by ``viewer``, the rest by ``identity``
    (the identity provider's tokens). A token is verified by one of them only, so an
    identity provider's token can never pass as a viewer token or the other way."""

    def __init__(self, identity: PyJWTTokenVerifier, viewer: ViewerTokens) -> None:
        self._identity = identity
        self._viewer = viewer

    @property
    def keys(self) -> KeyRing:
        """The identity provider's keys (the viewer key never changes while running)."""
        return self._identity.keys

    def verify(self, token: str) -> Principal:
        return self.verify_token(token).principal

    def verify_token(self, token: str) -> VerifiedToken:
        if is_viewer_token(token):
            return self._viewer.verify_token(token)
        return self._identity.verify_token(token)
