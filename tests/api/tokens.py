"""Tokens for the API suite: RS256 tokens from a test key pair, and the bad ones."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://issuer.test"
AUDIENCE = "audit-trail-api"
READ, WRITE, ADMIN = "audit:read", "audit:write", "audit:admin"
ALL_SCOPES = (READ, WRITE, ADMIN)


@dataclass(frozen=True)
class KeyPair:
    """An RSA key pair. Tokens are signed with the key object: loading a PEM private
    key again for every token costs tens of milliseconds."""

    private_key: rsa.RSAPrivateKey
    public_pem: str

    @classmethod
    def generate(cls) -> KeyPair:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return cls(key, public.decode())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Tokens:
    """Mints tokens the service accepts (``token``) and variations it must refuse."""

    def __init__(self, keys: KeyPair, other_keys: KeyPair) -> None:
        self.keys = keys
        self._other_keys = other_keys

    def claims(
        self,
        scopes: Sequence[str] = ALL_SCOPES,
        *,
        tenant: str | None = "acme",
        subject: str = "u-1",
        lifetime: timedelta = timedelta(minutes=5),
        **overrides: Any,
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        claims: dict[str, Any] = {
            "sub": subject,
            "scope": " ".join(scopes),
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
        }
        if tenant is not None:
            claims["tenant"] = tenant
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, scopes: Sequence[str] = ALL_SCOPES, **kwargs: Any) -> str:
        return self.sign(self.claims(scopes, **kwargs))

    def sign(self, claims: dict[str, Any], *, other_key: bool = False) -> str:
        keys = self._other_keys if other_key else self.keys
        return jwt.encode(claims, keys.private_key, algorithm="RS256")

    def unsigned(self, claims: dict[str, Any]) -> str:
        """``alg: none``: a token with no signature at all."""
        header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        return f"{header}.{_b64(json.dumps(_numeric_dates(claims)).encode())}."

    def hs256_with_public_key(self, claims: dict[str, Any]) -> str:
        """The algorithm-confusion attack: HS256 keyed with the RS256 public key's PEM.
        (PyJWT refuses to make one, so it is assembled by hand.)"""
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = _b64(json.dumps(_numeric_dates(claims)).encode())
        signing_input = f"{header}.{payload}".encode()
        signature = hmac.new(self.keys.public_pem.encode(), signing_input, hashlib.sha256)
        return f"{header}.{payload}.{_b64(signature.digest())}"


def _numeric_dates(claims: dict[str, Any]) -> dict[str, Any]:
    return {k: int(v.timestamp()) if isinstance(v, datetime) else v for k, v in claims.items()}


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}
