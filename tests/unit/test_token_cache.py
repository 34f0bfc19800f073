"""CachingTokenVerifier: a token is verified once, yet its window and the keys still
decide. Real tokens, the real PyJWT verifier behind the cache, and a clock the test
moves for the cache (PyJWT keeps the real one)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from audit_trail.adapters.auth import (
    CachingTokenVerifier,
    JwtConfig,
    PyJWTTokenVerifier,
    VerifiedToken,
)
from audit_trail.core.errors import Forbidden, Unauthenticated
from audit_trail.entrypoints.container import cached_token_verifier
from audit_trail.entrypoints.settings import Settings, SettingsError

SECRET = "a-test-secret-that-is-long-enough-for-hs256"


class CountingVerifier(PyJWTTokenVerifier):
    """The real verifier, counting how often it is asked."""

    def __init__(self, config: JwtConfig) -> None:
        super().__init__(config)
        self.calls = 0

    def verify_token(self, token: str) -> VerifiedToken:
        self.calls += 1
        return super().verify_token(token)


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def token(**claims: Any) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {"sub": "alice", "tenant": "acme", "iat": now, "exp": now + 300}
    payload.update(claims)
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, SECRET, "HS256")


def cache(size: int = 100, leeway: int = 0) -> tuple[CachingTokenVerifier, CountingVerifier, Clock]:
    inner = CountingVerifier(JwtConfig(secret=SECRET, leeway_seconds=leeway))
    clock = Clock()
    return CachingTokenVerifier(inner, size, clock=clock), inner, clock


def test_a_token_is_verified_once() -> None:
    verifier, inner, _ = cache()
    sent = token()
    first, second = verifier.verify(sent), verifier.verify(sent)
    assert first == second
    assert first.subject == "alice"
    assert inner.calls == 1


def test_an_expired_token_stops_working_although_it_was_cached() -> None:
    verifier, _, _ = cache()
    verifier._clock = time.time  # the real clock, for the cache and PyJWT alike
    expires = int(time.time()) + 1
    sent = token(exp=expires, iat=None)
    assert verifier.verify(sent).subject == "alice"
    while time.time() < expires:
        time.sleep(0.05)
    with pytest.raises(Unauthenticated, match="expired"):
        verifier.verify(sent)


@pytest.mark.parametrize("past_exp", [0, 1, 3600])
def test_a_cached_token_is_not_used_from_its_exp_on(past_exp: int) -> None:
    verifier, inner, clock = cache(leeway=30)
    expires = int(time.time()) + 300
    sent = token(exp=expires)
    verifier.verify(sent)
    clock.now = expires + past_exp  # the cache's clock only: PyJWT still accepts it
    verifier.verify(sent)
    assert inner.calls == 2


def test_a_token_not_yet_valid_is_refused_every_time() -> None:
    verifier, inner, _ = cache()
    sent = token(nbf=int(time.time()) + 60)
    for _ in range(2):
        with pytest.raises(Unauthenticated, match="not yet valid"):
            verifier.verify(sent)
    assert inner.calls == 2
    assert len(verifier) == 0


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_a_cached_token_is_not_used_before_its_nbf_less_the_leeway(claim: str) -> None:
    verifier, inner, clock = cache(leeway=60)
    starts = int(time.time()) + 30  # accepted now, thanks to the leeway
    sent = token(**{"iat": None, claim: starts})
    verifier.verify(sent)
    clock.now = starts - 60
    verifier.verify(sent)
    assert inner.calls == 1
    clock.now = starts - 61  # the clock went back: the window decides again
    verifier.verify(sent)
    assert inner.calls == 2


@pytest.mark.parametrize(
    "sent",
    [
        "not-a-token",
        token(exp=int(time.time()) - 10),
        jwt.encode({"sub": "alice", "exp": int(time.time()) + 60}, "x" * 40, "HS256"),
    ],
)
def test_a_refused_token_is_not_cached(sent: str) -> None:
    verifier, inner, _ = cache()
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            verifier.verify(sent)
    assert inner.calls == 2
    assert len(verifier) == 0


def test_a_token_without_a_tenant_is_forbidden_every_time() -> None:
    verifier, inner, _ = cache()
    sent = token(tenant=None)
    for _ in range(2):
        with pytest.raises(Forbidden):
            verifier.verify(sent)
    assert inner.calls == 2


def test_the_cache_is_bounded_and_drops_the_least_recently_used() -> None:
    verifier, inner, _ = cache(size=3)
    tokens = [token(sub=f"u-{i}") for i in range(5)]
    for sent in tokens[:3]:
        verifier.verify(sent)
    verifier.verify(tokens[0])  # now the most recently used
    for sent in tokens[3:]:
        verifier.verify(sent)
    assert len(verifier) == 3
    assert inner.calls == 5
    verifier.verify(tokens[0])
    assert inner.calls == 5  # kept
    verifier.verify(tokens[1])
    assert inner.calls == 6  # dropped


def test_thousands_of_tokens_stay_within_the_bound() -> None:
    verifier, _, _ = cache(size=50)
    for i in range(2000):
        verifier.verify(token(sub=f"u-{i}"))
    assert len(verifier) == 50


def _jwks(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    jwk = json.loads(jwt.get_algorithm_by_name("ES256").to_jwk(key.public_key()))
    path.write_text(json.dumps({"keys": [{**jwk, "kid": "k1"}]}))


def test_a_key_change_drops_every_cached_token(tmp_path: Path) -> None:
    old, new = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "jwks.json"
    _jwks(path, old)
    inner = PyJWTTokenVerifier(JwtConfig(jwks_file=path))
    verifier = CachingTokenVerifier(inner, 100)
    claims = {"sub": "alice", "tenant": "acme", "exp": int(time.time()) + 300}
    signed_by_old = jwt.encode(claims, old, "ES256", headers={"kid": "k1"})
    assert verifier.verify(signed_by_old).subject == "alice"
    _jwks(path, new)
    inner.reload_keys()
    with pytest.raises(Unauthenticated, match="signature"):
        verifier.verify(signed_by_old)
    signed_by_new = jwt.encode(claims, new, "ES256", headers={"kid": "k1"})
    assert verifier.verify(signed_by_new).subject == "alice"


def test_a_size_of_zero_verifies_every_request() -> None:
    inner = PyJWTTokenVerifier(JwtConfig(secret=SECRET))
    assert cached_token_verifier(inner, Settings(token_cache_size=0)) is inner
    assert isinstance(cached_token_verifier(inner, Settings()), CachingTokenVerifier)
    with pytest.raises(SettingsError, match="AUDIT_TOKEN_CACHE_SIZE"):
        Settings(token_cache_size=-1)
