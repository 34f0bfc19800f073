"""Auth adapters: the PyJWT token verifier, key loading and token minting."""

from audit_trail.adapters.auth.keys import KeyConfigError, load_or_create_dev_key
from audit_trail.adapters.auth.minting import mint_token
from audit_trail.adapters.auth.pyjwt_verifier import JwtConfig, PyJWTTokenVerifier

__all__ = [
    "JwtConfig",
    "KeyConfigError",
    "PyJWTTokenVerifier",
    "load_or_create_dev_key",
    "mint_token",
]
