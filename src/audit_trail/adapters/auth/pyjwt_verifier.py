"""PyJWTTokenVerifier: the TokenVerifier port on PyJWT."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from audit_trail.adapters.auth.keys import (
    KeyConfigError,
    KeyRing,
    VerificationKey,
    check_algorithms,
    jwks_file_keys,
    pem_public_key,
    secret_key,
)
from audit_trail.core.errors import Forbidden, Unauthenticated
from audit_trail.core.principal import Principal

SCOPE_CLAIMS = ("scope", "scopes", "scp")


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """What a token was verified to be, and the window it is accepted in (epoch
    seconds): from its ``nbf``/``iat`` less the leeway, until its ``exp``."""

    principal: Principal
    valid_from: float
    expires_at: float


@dataclass(frozen=True, slots=True)
class JwtConfig:
    """How tokens are verified. Exactly one of ``secret`` (HMAC), ``public_key`` (PEM
    text) or ``jwks_file`` is set. ``algorithms`` empty means the key's own default
    (HS256 for a secret; RS256, the curve's ES* or EdDSA for a public key); otherwise
    it is an allow-list, narrowed to what each key can use."""

    secret: str | None = None
    public_key: str | None = None
    jwks_file: Path | None = None
    algorithms: tuple[str, ...] = ()
    issuer: str | None = None
    audience: str | None = None
    leeway_seconds: int = 30
    tenant_claim: str = "tenant"
    default_tenant: str | None = None

    def __post_init__(self) -> None:
        sources = [s for s in (self.secret, self.public_key, self.jwks_file) if s is not None]
        if len(sources) != 1:
            raise KeyConfigError(
                "configure exactly one of a JWT secret, a public key or a JWKS file"
            )
        if self.leeway_seconds < 0:
            raise KeyConfigError("the leeway must not be negative")
        if not self.tenant_claim:
            raise KeyConfigError("the tenant claim name must not be empty")
        if self.default_tenant == "":
            raise KeyConfigError("the default tenant must not be empty")
        check_algorithms(self.algorithms)

    def key_ring(self) -> KeyRing:
        """The configured keys, loaded (a JWKS file is read now)."""
        configured = check_algorithms(self.algorithms)
        if self.secret is not None:
            return KeyRing({}, secret_key(self.secret, configured))
        if self.public_key is not None:
            return KeyRing({}, pem_public_key(self.public_key, configured))
        assert self.jwks_file is not None
        return jwks_file_keys(self.jwks_file, configured)


class PyJWTTokenVerifier:
    """Verifies signed JWTs: signature by a configured key and an algorithm that key's
    kind allows; ``exp`` required; ``nbf``/``iat`` with leeway; ``iss``/``aud`` when
    configured; ``sub`` a non-empty string; scopes from ``scope``, ``scopes`` or
    ``scp``; the tenant from the configured claim or the default tenant."""

    def __init__(self, config: JwtConfig) -> None:
        self._config = config
        self._keys = config.key_ring()

    @property
    def keys(self) -> KeyRing:
        """The keys in use; a new object whenever they change (``reload_keys``)."""
        return self._keys

    def reload_keys(self) -> None:
        """Read the configured keys again (a rotated JWKS file, say)."""
        self._keys = self._config.key_ring()

    def verify(self, token: str) -> Principal:
        return self.verify_token(token).principal

    def verify_token(self, token: str) -> VerifiedToken:
        """As ``verify``, with the window in which the token is accepted."""
        key = self._key_for(token)
        claims = self._decode(token, key)
        _check_json_segments(token)
        _check_numeric_dates(claims)
        principal = Principal(
            subject=_subject(claims),
            tenant=self._tenant(claims),
            scopes=_scopes(claims),
        )
        # PyJWT has checked that these are numbers; it compares them as integers.
        starts = [int(claims[name]) for name in ("nbf", "iat") if name in claims]
        valid_from = max(starts, default=float("-inf")) - self._config.leeway_seconds
        return VerifiedToken(principal, valid_from, int(claims["exp"]))

    def _key_for(self, token: str) -> VerificationKey:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("token is malformed") from None
        algorithm, kid = header.get("alg"), header.get("kid")
        if not isinstance(algorithm, str) or not isinstance(kid, str | None):
            raise Unauthenticated("token is malformed")
        key = self._keys.select(kid)
        if algorithm not in key.algorithms:
            raise Unauthenticated("token algorithm is not accepted")
        return key

    def _decode(self, token: str, key: VerificationKey) -> dict[str, Any]:
        config = self._config
        try:
            return jwt.decode(
                token,
                key.key,
                algorithms=sorted(key.algorithms),
                issuer=config.issuer,
                audience=config.audience,
                leeway=config.leeway_seconds,
                # sub's type is checked by _subject, with a clearer message
                options={
                    "require": ["exp", "sub"],
                    "verify_sub": False,
                    "enforce_minimum_key_length": True,
                },
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(_reason(exc)) from None

    def _tenant(self, claims: Mapping[str, Any]) -> str:
        name = self._config.tenant_claim
        if name not in claims:
            if self._config.default_tenant is None:
                raise Forbidden(f"token names no tenant (claim {name!r})")
            return self._config.default_tenant
        tenant = claims[name]
        if not isinstance(tenant, str) or not tenant:
            raise Forbidden(f"token claim {name!r} must be a non-empty string")
        return tenant


def _subject(claims: Mapping[str, Any]) -> str:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise Unauthenticated("token sub claim must be a non-empty string")
    return subject


def _scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    scopes: set[str] = set()
    for name in SCOPE_CLAIMS:
        value = claims.get(name)
        if value is None:
            continue
        if isinstance(value, str):
            # RFC 6749, 3.3: scopes are separated by spaces (%x20) alone; a tab or a
            # no-break space is part of a scope, which then matches none
            scopes.update(item for item in value.split(" ") if item)
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            scopes.update(item for item in value if item)
        else:
            raise Unauthenticated(f"token {name} claim is malformed")
    return frozenset(scopes)


def _check_json_segments(token: str) -> None:
    """The header and the payload as JSON objects without a duplicate key: PyJWT
    keeps the last of two, so a token could say one thing to us and another to a
    parser that keeps the first."""
    for segment in token.split(".")[:2]:
        try:
            text = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
            json.loads(text, object_pairs_hook=_refusing_duplicates)
        except (ValueError, TypeError):
            raise Unauthenticated("token is malformed") from None
        except _DuplicateKey:
            raise Unauthenticated("token has a duplicate JSON key") from None


class _DuplicateKey(Exception):
    pass


def _refusing_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _DuplicateKey
    return result


def _check_numeric_dates(claims: Mapping[str, Any]) -> None:
    """RFC 7519 NumericDate is a JSON number; PyJWT also takes a string of digits."""
    for name in ("exp", "nbf", "iat"):
        value = claims.get(name)
        if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise Unauthenticated(f"token {name} claim must be a number")


def _reason(exc: jwt.PyJWTError) -> str:
    """A short message for the failure; never the token or PyJWT's own text."""
    if isinstance(exc, jwt.ExpiredSignatureError):
        return "token expired"
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "token not yet valid"
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"token has no {exc.claim} claim"
    if isinstance(exc, jwt.InvalidIssuerError):
        return "token issuer is not accepted"
    if isinstance(exc, jwt.InvalidAudienceError):
        return "token audience is not accepted"
    if isinstance(exc, jwt.InvalidSignatureError):
        return "token signature is invalid"
    if isinstance(exc, jwt.InvalidAlgorithmError):
        return "token algorithm is not accepted"
    if isinstance(exc, jwt.InvalidIssuedAtError):
        return "token iat claim is malformed"
    if isinstance(exc, jwt.DecodeError):
        return "token is malformed"
    return "token is invalid"
