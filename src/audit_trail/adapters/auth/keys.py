"""Verification keys: an HMAC secret, a PEM public key or a JWKS file, each with the
algorithms its kind of key allows; and the development signing key file.

The algorithms a key may verify are derived from the key itself, never from a token:
an HMAC algorithm is only ever paired with a secret, an RSA/EC/OKP algorithm only with
a public key of that kind and curve. That is what defeats algorithm confusion (a token
signed HS256 with an RSA public key's PEM used as the secret).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from audit_trail.adapters.keyfiles import create_private_file, tighten_private_file
from audit_trail.core.errors import Unauthenticated

log = logging.getLogger(__name__)

HMAC_ALGORITHMS = {"HS256": 32, "HS384": 48, "HS512": 64}  # name -> minimum key bytes
RSA_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
EC_ALGORITHMS = {  # curve -> the one algorithm that uses it
    "secp256r1": "ES256",
    "secp384r1": "ES384",
    "secp521r1": "ES512",
    "secp256k1": "ES256K",
}
OKP_ALGORITHM = "EdDSA"
KNOWN_ALGORITHMS = frozenset(
    [*HMAC_ALGORITHMS, *RSA_ALGORITHMS, *EC_ALGORITHMS.values(), OKP_ALGORITHM]
)
MIN_RSA_BITS = 2048

PublicKey: TypeAlias = (
    rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
)


class KeyConfigError(ValueError):
    """A key or algorithm setting the verifier cannot work with; the message says why."""


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """A key (secret text or public key object) and the algorithms it may verify."""

    key: str | PublicKey
    algorithms: frozenset[str]


class KeyRing:
    """The keys a verifier accepts. With a single secret or public key, the token's
    ``kid`` is ignored; with a JWKS file, it chooses the key (a JWKS of one key also
    serves tokens that name no ``kid``)."""

    def __init__(self, by_kid: Mapping[str, VerificationKey], sole: VerificationKey | None) -> None:
        self._by_kid = dict(by_kid)
        self._sole = sole

    def select(self, kid: str | None) -> VerificationKey:
        if not self._by_kid and self._sole is not None:
            return self._sole
        if kid is None:
            if self._sole is not None:
                return self._sole
            raise Unauthenticated("token names no key id (kid)")
        try:
            return self._by_kid[kid]
        except KeyError:
            raise Unauthenticated("token key id (kid) is unknown") from None


def check_algorithms(algorithms: Iterable[str]) -> frozenset[str]:
    """The configured allow-list, refusing ``none`` and names PyJWT does not know."""
    chosen = frozenset(algorithms)
    for name in sorted(chosen):
        if name.lower() == "none":
            raise KeyConfigError("the algorithm 'none' is never accepted")
        if name not in KNOWN_ALGORITHMS:
            raise KeyConfigError(f"unknown JWT algorithm {name!r}")
    return chosen


def secret_key(secret: str, configured: frozenset[str]) -> VerificationKey:
    """An HMAC secret: HS256 unless ``configured`` names other HMAC algorithms."""
    if secret.lstrip().startswith(("-----BEGIN", "ssh-", "ecdsa-sha2-")):
        raise KeyConfigError("the secret looks like a public key; configure it as a public key")
    allowed = _restrict(configured, frozenset(HMAC_ALGORITHMS), "HS256", "an HMAC secret")
    size = len(secret.encode())
    for name in sorted(allowed):
        if size < HMAC_ALGORITHMS[name]:
            raise KeyConfigError(
                f"the secret must be at least {HMAC_ALGORITHMS[name]} bytes for {name}"
            )
    return VerificationKey(secret, allowed)


def pem_public_key(pem: str, configured: frozenset[str]) -> VerificationKey:
    """A PEM public key (or certificate); the algorithms follow from its kind and curve."""
    data = pem.strip().encode()
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            loaded: Any = x509.load_pem_x509_certificate(data).public_key()
        else:
            loaded = load_pem_public_key(data)
    except ValueError:
        raise KeyConfigError("the public key is not a valid PEM public key") from None
    return _public_key(loaded, configured, preferred=None, what="the public key", strict=True)


def jwks_file_keys(path: Path, configured: frozenset[str]) -> KeyRing:
    """The signing keys of a local JWKS file (RSA, EC and OKP), indexed by ``kid``."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise KeyConfigError(f"cannot read the JWKS file {path}: {exc.strerror}") from None
    except ValueError:
        raise KeyConfigError(f"the JWKS file {path} is not valid JSON") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise KeyConfigError(f"the JWKS file {path} has no 'keys' list")
    signing = [e for e in entries if e.get("use", "sig") == "sig"]
    by_kid: dict[str, VerificationKey] = {}
    for index, entry in enumerate(signing):
        what = f"JWKS key {entry.get('kid', f'#{index}')!r}"
        key = _jwk(entry, configured, what)
        if key is None:
            continue
        kid = entry.get("kid")
        if len(signing) == 1 and kid is None:
            return KeyRing({}, key)
        if not isinstance(kid, str) or not kid:
            raise KeyConfigError(f"{what} in {path} has no kid")
        if kid in by_kid:
            raise KeyConfigError(f"the JWKS file {path} holds kid {kid!r} twice")
        by_kid[kid] = key
    if not by_kid:
        raise KeyConfigError(f"the JWKS file {path} holds no usable signing key")
    sole = next(iter(by_kid.values())) if len(by_kid) == 1 else None
    return KeyRing(by_kid, sole)


def _jwk(entry: dict[str, Any], configured: frozenset[str], what: str) -> VerificationKey | None:
    kty = entry.get("kty")
    parse_as = {"RSA": "RS256", "EC": None, "OKP": OKP_ALGORITHM}
    if kty not in parse_as:
        raise KeyConfigError(f"{what} has key type {kty!r}; only RSA, EC and OKP are accepted")
    try:
        loaded = jwt.PyJWK(entry, algorithm=parse_as[kty]).key
    except jwt.PyJWTError:
        raise KeyConfigError(f"{what} is not a valid {kty} key") from None
    preferred = entry.get("alg")
    try:
        return _public_key(loaded, configured, preferred=preferred, what=what, strict=False)
    except KeyConfigError as exc:
        log.warning("skipping %s: %s", what, exc)
        return None


def _public_key(
    loaded: Any, configured: frozenset[str], *, preferred: str | None, what: str, strict: bool
) -> VerificationKey:
    if isinstance(loaded, rsa.RSAPublicKey):
        if loaded.key_size < MIN_RSA_BITS:
            raise KeyConfigError(f"{what} is an RSA key of under {MIN_RSA_BITS} bits")
        compatible, default = frozenset(RSA_ALGORITHMS), "RS256"
    elif isinstance(loaded, ec.EllipticCurvePublicKey):
        if loaded.curve.name not in EC_ALGORITHMS:
            raise KeyConfigError(f"{what} uses the unsupported curve {loaded.curve.name}")
        default = EC_ALGORITHMS[loaded.curve.name]
        compatible = frozenset({default})
    elif isinstance(loaded, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        compatible, default = frozenset({OKP_ALGORITHM}), OKP_ALGORITHM
    else:
        raise KeyConfigError(f"{what} is not an RSA, EC or Ed25519/Ed448 public key")
    if preferred is not None:
        if preferred not in compatible:
            raise KeyConfigError(f"{what} declares alg {preferred!r}, which its key cannot use")
        compatible, default = frozenset({preferred}), preferred
    return VerificationKey(loaded, _restrict(configured, compatible, default, what, strict=strict))


def _restrict(
    configured: frozenset[str],
    compatible: frozenset[str],
    default: str,
    what: str,
    *,
    strict: bool = True,
) -> frozenset[str]:
    """The configured algorithms usable with this key, or its default algorithm.

    ``strict`` (a single configured key): every configured algorithm must suit the key.
    Otherwise (one key of a JWKS) the allow-list covers several kinds of key and only
    an empty intersection is an error."""
    if not configured:
        return frozenset({default})
    foreign = configured - compatible
    if foreign and (strict or foreign == configured):
        raise KeyConfigError(f"{', '.join(sorted(foreign))} cannot be used with {what}")
    return configured & compatible


def load_or_create_dev_key(path: Path) -> str:
    """The development signing secret in ``path``, created (mode 0600, in a 0700 folder)
    with 32 random bytes on first use and reused afterwards. A file others may read is
    tightened to 0600, with a warning."""
    try:
        return _read_dev_key(path)
    except FileNotFoundError:
        pass
    create_private_file(path, (secrets.token_urlsafe(32) + "\n").encode("ascii"))
    return _read_dev_key(path)


def _read_dev_key(path: Path) -> str:
    tighten_private_file(path, "development key")
    key = path.read_text(encoding="utf-8").strip()
    if not key:
        raise KeyConfigError(f"the development key file {path} is empty; delete it")
    return key
