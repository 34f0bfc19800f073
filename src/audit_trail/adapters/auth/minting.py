"""Token minting, for the ``audit-trail token`` command and for tests."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt


def mint_token(
    *,
    key: str,
    algorithm: str = "HS256",
    subject: str,
    tenant: str,
    scopes: Sequence[str],
    ttl_seconds: int,
    tenant_claim: str = "tenant",
    issuer: str | None = None,
    audience: str | None = None,
    now: datetime | None = None,
    key_id: str | None = None,
) -> str:
    """A signed JWT for ``subject`` in ``tenant`` with ``scopes`` (as a space-separated
    ``scope`` claim), valid from ``now`` for ``ttl_seconds``. ``key`` is an HMAC secret
    or, for asymmetric algorithms, a PEM private key; ``key_id`` becomes the ``kid``."""
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    if algorithm.lower() == "none":
        raise ValueError("tokens are always signed; 'none' is not an algorithm")
    issued = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    claims: dict[str, Any] = {
        "sub": subject,
        tenant_claim: tenant,
        "scope": " ".join(scopes),
        "iat": issued,
        "nbf": issued,
        "exp": issued + timedelta(seconds=ttl_seconds),
        "jti": secrets.token_urlsafe(12),
    }
    if issuer is not None:
        claims["iss"] = issuer
    if audience is not None:
        claims["aud"] = audience
    headers = {"kid": key_id} if key_id is not None else None
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)
