"""PyJWTTokenVerifier, its key loading and token minting, with real keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from audit_trail.adapters.auth import JwtConfig, KeyConfigError, PyJWTTokenVerifier, mint_token
from audit_trail.core.errors import Forbidden, Unauthenticated
from audit_trail.core.principal import Principal

SECRET = "a-test-secret-that-is-long-enough-for-hs256"


@dataclass(frozen=True)
class KeyPair:
    algorithm: str
    private_pem: str
    public_pem: str
    jwk: dict[str, Any]  # public JWK, without kid


def _pair(private: Any, algorithm: str) -> KeyPair:
    private_pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    public = private.public_key()
    public_pem = public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    jwk = json.loads(jwt.get_algorithm_by_name(algorithm).to_jwk(public))
    return KeyPair(algorithm, private_pem, public_pem, jwk)


@pytest.fixture(scope="module")
def rsa_key() -> KeyPair:
    return _pair(rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256")


@pytest.fixture(scope="module")
def ec_key() -> KeyPair:
    return _pair(ec.generate_private_key(ec.SECP256R1()), "ES256")


@pytest.fixture(scope="module")
def other_ec_key() -> KeyPair:
    return _pair(ec.generate_private_key(ec.SECP256R1()), "ES256")


@pytest.fixture(scope="module")
def ed_key() -> KeyPair:
    return _pair(ed25519.Ed25519PrivateKey.generate(), "EdDSA")


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": "alice",
        "tenant": "acme",
        "scope": "audit:read",
        "iat": now,
        "exp": now + 300,
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def sign(
    payload: dict[str, Any], key: str = SECRET, algorithm: str = "HS256", **headers: Any
) -> str:
    return jwt.encode(payload, key, algorithm=algorithm, headers=headers or None)


def verifier(**config: Any) -> PyJWTTokenVerifier:
    """A verifier for ``config``; with no key given, the HMAC secret ``SECRET``."""
    if not {"public_key", "jwks_file"} & config.keys():
        config.setdefault("secret", SECRET)
    return PyJWTTokenVerifier(JwtConfig(**config))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_parts(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return b64(json.dumps(header).encode()) + "." + b64(json.dumps(payload).encode())


def rejected(verify: PyJWTTokenVerifier, token: str) -> str:
    """The message of the Unauthenticated error; it must never echo the token."""
    with pytest.raises(Unauthenticated) as info:
        verify.verify(token)
    message = str(info.value)
    assert not token or token not in message
    return message


# --- valid tokens, every kind of key ---


def test_hs256_token_gives_the_principal() -> None:
    token = sign(claims(scope="audit:read audit:write"))
    assert verifier().verify(token) == Principal(
        subject="alice", tenant="acme", scopes=frozenset({"audit:read", "audit:write"})
    )


@pytest.mark.parametrize("pair", ["rsa_key", "ec_key", "ed_key"])
def test_public_key_tokens_verify(pair: str, request: pytest.FixtureRequest) -> None:
    key: KeyPair = request.getfixturevalue(pair)
    token = sign(claims(), key.private_pem, key.algorithm)
    principal = verifier(public_key=key.public_pem).verify(token)
    assert (principal.subject, principal.tenant) == ("alice", "acme")


def test_rsa_key_accepts_configured_pss(rsa_key: KeyPair) -> None:
    token = sign(claims(), rsa_key.private_pem, "PS256")
    assert rejected(verifier(public_key=rsa_key.public_pem), token).startswith("token algorithm")
    configured = verifier(public_key=rsa_key.public_pem, algorithms=("RS256", "PS256"))
    assert configured.verify(token).subject == "alice"


def test_minted_token_round_trips(ec_key: KeyPair) -> None:
    token = mint_token(
        key=ec_key.private_pem,
        algorithm="ES256",
        subject="bob",
        tenant="t-1",
        scopes=["audit:admin", "audit:read"],
        ttl_seconds=60,
        tenant_claim="org",
        issuer="https://issuer.example",
        audience="audit-trail",
    )
    verify = verifier(
        public_key=ec_key.public_pem,
        issuer="https://issuer.example",
        audience="audit-trail",
        tenant_claim="org",
    )
    assert verify.verify(token) == Principal("bob", "t-1", frozenset({"audit:admin", "audit:read"}))


def test_minted_token_expires_after_its_ttl() -> None:
    past = datetime.now(UTC) - timedelta(seconds=120)
    token = mint_token(key=SECRET, subject="a", tenant="t", scopes=[], ttl_seconds=60, now=past)
    assert rejected(verifier(leeway_seconds=0), token) == "token expired"
    with pytest.raises(ValueError, match="ttl"):
        mint_token(key=SECRET, subject="a", tenant="t", scopes=[], ttl_seconds=0)


# --- time claims ---


def test_expired_token_is_rejected() -> None:
    token = sign(claims(exp=int(time.time()) - 120, iat=int(time.time()) - 600))
    assert rejected(verifier(leeway_seconds=30), token) == "token expired"


def test_token_not_yet_valid_is_rejected() -> None:
    token = sign(claims(nbf=int(time.time()) + 120))
    assert rejected(verifier(leeway_seconds=30), token) == "token not yet valid"


def test_token_issued_in_the_future_is_rejected() -> None:
    token = sign(claims(iat=int(time.time()) + 120, exp=int(time.time()) + 600))
    assert rejected(verifier(leeway_seconds=30), token) == "token not yet valid"


def test_leeway_tolerates_small_clock_skew() -> None:
    now = int(time.time())
    skewed = sign(claims(exp=now - 10, nbf=now + 10, iat=now + 10))
    assert verifier(leeway_seconds=30).verify(skewed).subject == "alice"
    assert rejected(verifier(leeway_seconds=0), skewed) in {"token expired", "token not yet valid"}


def test_token_without_exp_is_rejected() -> None:
    token = sign(claims(exp=None))
    assert rejected(verifier(), token) == "token has no exp claim"


def test_non_numeric_exp_is_rejected() -> None:
    assert rejected(verifier(), sign(claims(exp="tomorrow"))) == "token is malformed"


# --- issuer and audience ---


def test_issuer_is_checked_when_configured() -> None:
    verify = verifier(issuer="https://good.example")
    assert verify.verify(sign(claims(iss="https://good.example"))).subject == "alice"
    assert rejected(verify, sign(claims(iss="https://evil.example"))) == (
        "token issuer is not accepted"
    )
    assert rejected(verify, sign(claims())) == "token has no iss claim"


def test_audience_is_checked_when_configured() -> None:
    verify = verifier(audience="audit-trail")
    assert verify.verify(sign(claims(aud=["other", "audit-trail"]))).subject == "alice"
    assert rejected(verify, sign(claims(aud="billing"))) == "token audience is not accepted"
    assert rejected(verify, sign(claims())) == "token has no aud claim"


def test_token_for_an_audience_is_refused_when_none_is_configured() -> None:
    assert rejected(verifier(), sign(claims(aud="billing"))) == "token audience is not accepted"


# --- algorithms and signatures ---


def test_alg_none_is_rejected() -> None:
    token = unsigned_parts({"alg": "none", "typ": "JWT"}, claims()) + "."
    assert rejected(verifier(), token) == "token algorithm is not accepted"


@pytest.mark.parametrize("algorithms", [("none",), ("HS256", "None"), ("XS999",)])
def test_configuring_none_or_unknown_algorithms_fails(algorithms: tuple[str, ...]) -> None:
    with pytest.raises(KeyConfigError):
        JwtConfig(secret=SECRET, algorithms=algorithms)


def test_hs256_signed_with_the_rsa_public_key_is_rejected(rsa_key: KeyPair) -> None:
    """The key-confusion attack: HMAC over the token with the public PEM as secret."""
    signing_input = unsigned_parts({"alg": "HS256", "typ": "JWT"}, claims())
    mac = hmac.new(rsa_key.public_pem.encode(), signing_input.encode(), hashlib.sha256)
    token = signing_input + "." + b64(mac.digest())
    verify = verifier(public_key=rsa_key.public_pem)
    assert rejected(verify, token) == "token algorithm is not accepted"
    lenient = verifier(public_key=rsa_key.public_pem, algorithms=("RS256", "PS256"))
    assert rejected(lenient, token) == "token algorithm is not accepted"


def test_hmac_algorithms_cannot_be_configured_with_a_public_key(rsa_key: KeyPair) -> None:
    with pytest.raises(KeyConfigError, match="HS256"):
        verifier(public_key=rsa_key.public_pem, algorithms=("RS256", "HS256"))


def test_asymmetric_algorithms_cannot_be_configured_with_a_secret() -> None:
    with pytest.raises(KeyConfigError, match="RS256"):
        verifier(algorithms=("HS256", "RS256"))


def test_a_public_key_is_refused_as_a_secret(rsa_key: KeyPair) -> None:
    with pytest.raises(KeyConfigError, match="public key"):
        verifier(secret=rsa_key.public_pem)


def test_short_secret_is_refused() -> None:
    with pytest.raises(KeyConfigError, match="32 bytes"):
        verifier(secret="short")
    with pytest.raises(KeyConfigError, match="64 bytes for HS512"):
        verifier(algorithms=("HS512",))


def test_exactly_one_key_source_is_required(ec_key: KeyPair) -> None:
    with pytest.raises(KeyConfigError, match="exactly one"):
        JwtConfig()
    with pytest.raises(KeyConfigError, match="exactly one"):
        JwtConfig(secret=SECRET, public_key=ec_key.public_pem)


def test_public_key_may_come_as_a_certificate() -> None:
    private = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer.example")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(private, hashes.SHA384())
    )
    pem = certificate.public_bytes(Encoding.PEM).decode()
    token = sign(claims(), _pair(private, "ES384").private_pem, "ES384")
    assert verifier(public_key=pem).verify(token).subject == "alice"


def test_invalid_public_key_is_refused() -> None:
    with pytest.raises(KeyConfigError, match="not a valid PEM"):
        verifier(public_key="-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----")


def test_wrong_secret_fails_the_signature() -> None:
    token = sign(claims(), key="another-secret-that-is-also-long-enough!!")
    assert rejected(verifier(), token) == "token signature is invalid"


def test_tampered_payload_fails_the_signature() -> None:
    header, _, signature = sign(claims(tenant="acme")).split(".")
    forged = b64(json.dumps(claims(tenant="victim")).encode())
    assert rejected(verifier(), f"{header}.{forged}.{signature}") == "token signature is invalid"


def test_token_signed_by_another_ec_key_is_rejected(ec_key: KeyPair, other_ec_key: KeyPair) -> None:
    token = sign(claims(), other_ec_key.private_pem, "ES256")
    assert rejected(verifier(public_key=ec_key.public_pem), token) == "token signature is invalid"


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b.c", "a.b", "....", "eyJhbGciOiJIUzI1NiJ9.e30", "é.é.é", "Bearer x.y.z"],
)
def test_malformed_tokens_are_rejected(token: str) -> None:
    rejected(verifier(), token)


def test_header_with_non_string_alg_is_rejected() -> None:
    token = unsigned_parts({"alg": ["HS256"]}, claims()) + ".c2ln"
    assert rejected(verifier(), token) == "token is malformed"


VERIFIER = PyJWTTokenVerifier(JwtConfig(secret=SECRET))


@given(st.text(max_size=300))
def test_any_text_is_refused_with_unauthenticated(text: str) -> None:
    with pytest.raises(Unauthenticated):
        VERIFIER.verify(text)


@given(st.lists(st.text(alphabet="ABCabc012-_=+/", max_size=40), min_size=3, max_size=3))
def test_any_three_segments_are_refused_with_unauthenticated(segments: list[str]) -> None:
    with pytest.raises(Unauthenticated):
        VERIFIER.verify(".".join(segments))


# --- JWKS ---


@pytest.fixture
def jwks_file(tmp_path: Path, rsa_key: KeyPair, ec_key: KeyPair, ed_key: KeyPair) -> Path:
    keys = [
        {**rsa_key.jwk, "kid": "rsa-1", "use": "sig"},
        {**ec_key.jwk, "kid": "ec-1"},
        {**ed_key.jwk, "kid": "ed-1", "alg": "EdDSA"},
    ]
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": keys}))
    return path


@pytest.mark.parametrize(
    ("pair", "kid"), [("rsa_key", "rsa-1"), ("ec_key", "ec-1"), ("ed_key", "ed-1")]
)
def test_jwks_key_is_chosen_by_kid(
    pair: str, kid: str, jwks_file: Path, request: pytest.FixtureRequest
) -> None:
    key: KeyPair = request.getfixturevalue(pair)
    token = sign(claims(), key.private_pem, key.algorithm, kid=kid)
    assert verifier(jwks_file=jwks_file).verify(token).subject == "alice"


def test_jwks_kid_of_another_kind_of_key_is_rejected(jwks_file: Path, ec_key: KeyPair) -> None:
    token = sign(claims(), ec_key.private_pem, "ES256", kid="rsa-1")
    assert rejected(verifier(jwks_file=jwks_file), token) == "token algorithm is not accepted"


def test_jwks_kid_of_another_key_fails_the_signature(
    jwks_file: Path, other_ec_key: KeyPair
) -> None:
    token = sign(claims(), other_ec_key.private_pem, "ES256", kid="ec-1")
    assert rejected(verifier(jwks_file=jwks_file), token) == "token signature is invalid"


def test_jwks_unknown_kid_is_rejected(jwks_file: Path, other_ec_key: KeyPair) -> None:
    token = sign(claims(), other_ec_key.private_pem, "ES256", kid="ec-2")
    assert rejected(verifier(jwks_file=jwks_file), token) == "token key id (kid) is unknown"


def test_jwks_token_without_kid_is_rejected_when_several_keys(
    jwks_file: Path, ec_key: KeyPair
) -> None:
    token = sign(claims(), ec_key.private_pem, "ES256")
    assert rejected(verifier(jwks_file=jwks_file), token) == "token names no key id (kid)"


def test_jwks_of_one_key_serves_tokens_without_kid(tmp_path: Path, ed_key: KeyPair) -> None:
    path = tmp_path / "one.json"
    path.write_text(json.dumps({"keys": [{**ed_key.jwk, "kid": "only"}]}))
    token = sign(claims(), ed_key.private_pem, "EdDSA")
    assert verifier(jwks_file=path).verify(token).subject == "alice"


def test_jwks_hmac_token_with_rsa_kid_is_rejected(jwks_file: Path, rsa_key: KeyPair) -> None:
    signing_input = unsigned_parts({"alg": "HS256", "kid": "rsa-1"}, claims())
    mac = hmac.new(rsa_key.public_pem.encode(), signing_input.encode(), hashlib.sha256)
    token = signing_input + "." + b64(mac.digest())
    assert rejected(verifier(jwks_file=jwks_file), token) == "token algorithm is not accepted"


def test_jwks_algorithm_allow_list_narrows_each_key(jwks_file: Path, ed_key: KeyPair) -> None:
    verify = verifier(jwks_file=jwks_file, algorithms=("RS256", "ES256"))
    token = sign(claims(), ed_key.private_pem, "EdDSA", kid="ed-1")
    assert rejected(verify, token) == "token key id (kid) is unknown"  # ed-1 was skipped


@pytest.mark.parametrize(
    "document",
    [
        "not json",
        json.dumps({"nokeys": []}),
        json.dumps({"keys": []}),
        json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]}),
        json.dumps({"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "kid": "x"}]}),
    ],
)
def test_unusable_jwks_files_are_refused(tmp_path: Path, document: str) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(document)
    with pytest.raises(KeyConfigError):
        verifier(jwks_file=path)


def test_missing_jwks_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyConfigError, match="cannot read"):
        verifier(jwks_file=tmp_path / "absent.json")


# --- scopes ---


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"scope": "audit:read  audit:write"}, {"audit:read", "audit:write"}),
        ({"scope": None, "scopes": ["audit:read", "audit:admin"]}, {"audit:read", "audit:admin"}),
        ({"scope": None, "scopes": "audit:write audit:read"}, {"audit:write", "audit:read"}),
        ({"scope": None, "scp": ["audit:write"]}, {"audit:write"}),
        ({"scope": None, "scp": "audit:admin audit:read"}, {"audit:admin", "audit:read"}),
        ({"scope": "audit:read", "scp": ["audit:write"]}, {"audit:read", "audit:write"}),
        ({"scope": None}, set()),
        ({"scope": ""}, set()),
    ],
)
def test_scopes_come_from_every_claim_form(extra: dict[str, Any], expected: set[str]) -> None:
    assert verifier().verify(sign(claims(**extra))).scopes == frozenset(expected)


@pytest.mark.parametrize("value", [42, ["audit:read", 7], {"audit:read": True}])
def test_malformed_scope_claims_are_rejected(value: Any) -> None:
    assert rejected(verifier(), sign(claims(scope=value))) == "token scope claim is malformed"


# --- tenant and subject ---


def test_token_without_tenant_is_forbidden() -> None:
    with pytest.raises(Forbidden, match="no tenant"):
        verifier().verify(sign(claims(tenant=None)))


def test_default_tenant_applies_when_the_claim_is_absent() -> None:
    verify = verifier(default_tenant="solo")
    assert verify.verify(sign(claims(tenant=None))).tenant == "solo"
    assert verify.verify(sign(claims(tenant="acme"))).tenant == "acme"


@pytest.mark.parametrize("value", ["", 42, ["acme"]])
def test_unusable_tenant_claim_is_forbidden_even_with_a_default(value: Any) -> None:
    with pytest.raises(Forbidden, match="non-empty string"):
        verifier(default_tenant="solo").verify(sign(claims(tenant=value)))


def test_tenant_claim_name_is_configurable() -> None:
    token = sign(claims(tenant=None, **{"https://example.com/org": "org-9"}))
    verify = verifier(tenant_claim="https://example.com/org")
    assert verify.verify(token).tenant == "org-9"
    with pytest.raises(Forbidden):
        verifier().verify(token)


def test_token_without_sub_is_rejected() -> None:
    assert rejected(verifier(), sign(claims(sub=None))) == "token has no sub claim"


@pytest.mark.parametrize("value", ["", 42])
def test_unusable_sub_is_rejected(value: Any) -> None:
    assert rejected(verifier(), sign(claims(sub=value))) == (
        "token sub claim must be a non-empty string"
    )


# --- probe findings (issue 15) ---


def signed_text(header: str, payload: str, key: str = SECRET) -> str:
    """A token whose header and payload are exactly the JSON texts given, HS256."""
    signing_input = b64(header.encode()) + "." + b64(payload.encode())
    digest = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(digest)


@pytest.mark.parametrize("separator", ["\t", "\u00a0", "\u2028", "\n"])
def test_scopes_are_separated_by_spaces_alone(separator: str) -> None:
    token = sign(claims(scope=f"audit:read{separator}audit:write"))
    assert verifier().verify(token).scopes == frozenset({f"audit:read{separator}audit:write"})
    assert verifier().verify(sign(claims(scope="audit:read  audit:write"))).scopes == frozenset(
        {"audit:read", "audit:write"}
    )


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
def test_a_numeric_date_given_as_a_string_is_refused(name: str) -> None:
    now = int(time.time())
    value = {"exp": now + 300, "nbf": now - 10, "iat": now - 10}[name]
    token = sign(claims(**{name: str(value)}))
    assert rejected(verifier(), token) == f"token {name} claim must be a number"


def test_duplicate_keys_in_the_payload_are_refused() -> None:
    exp = int(time.time()) + 300
    payload = f'{{"sub": "alice", "tenant": "acme", "tenant": "other", "exp": {exp}}}'
    token = signed_text('{"alg": "HS256", "typ": "JWT"}', payload)
    assert rejected(verifier(), token) == "token has a duplicate JSON key"


def test_duplicate_keys_in_the_header_are_refused() -> None:
    exp = int(time.time()) + 300
    payload = f'{{"sub": "alice", "tenant": "acme", "exp": {exp}}}'
    token = signed_text('{"alg": "HS256", "alg": "HS256"}', payload)
    assert rejected(verifier(), token) == "token has a duplicate JSON key"
    assert verifier().verify(signed_text('{"alg": "HS256"}', payload)).tenant == "acme"


def test_a_token_with_an_audience_is_refused_when_none_is_configured() -> None:
    # an audience-bound token is meant for the service it names, not for any service
    token = sign(claims(aud="another-service"))
    assert rejected(verifier(), token) == "token audience is not accepted"
