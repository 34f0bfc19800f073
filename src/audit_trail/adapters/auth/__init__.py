"""Auth adapters: the PyJWT token verifier and its cache, key loading, token minting."""

from audit_trail.adapters.auth.keys import KeyConfigError, load_or_create_dev_key
from audit_trail.adapters.auth.minting import mint_token
from audit_trail.adapters.auth.pyjwt_verifier import JwtConfig, PyJWTTokenVerifier, VerifiedToken
from audit_trail.adapters.auth.token_cache import CachingTokenVerifier

__all__ = [
    "CachingTokenVerifier",
    "JwtConfig",
    "KeyConfigError",
    "PyJWTTokenVerifier",
    "VerifiedToken",
    "load_or_create_dev_key",
    "mint_token",
]
