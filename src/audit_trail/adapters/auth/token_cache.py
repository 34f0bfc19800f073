"""CachingTokenVerifier: a token is verified once, not once per request.

A bounded LRU of verified tokens in front of a ``WindowedVerifier``
(``PyJWTTokenVerifier``, or ``ViewerAwareVerifier`` with the viewer tokens too). Keyed by the
SHA-256 of the token (the cache keeps no credential). An entry is used only inside
its token's window: not before ``nbf``/``iat`` less the leeway, and never at or after
``exp`` (stricter than the verifier, which allows the leeway past ``exp``: from then
on every request is verified again, and refused once the leeway is over). Refused
tokens are never cached: each is verified again, which is what it costs without a
cache, and nobody can fill the cache with garbage. When the verifier's keys change
(``reload_keys``), the whole cache is dropped before the next lookup.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from audit_trail.adapters.auth.keys import KeyRing
from audit_trail.adapters.auth.pyjwt_verifier import VerifiedToken
from audit_trail.core.principal import Principal


class WindowedVerifier(Protocol):
    """A verifier that says in which window a token is accepted, and whose keys,
    when they change, make every cached answer stale."""

    @property
    def keys(self) -> KeyRing: ...

    def verify(self, token: str) -> Principal: ...

    def verify_token(self, token: str) -> VerifiedToken: ...


class CachingTokenVerifier:
    """The TokenVerifier port: ``verifier``'s answers, remembered for at most
    ``max_entries`` tokens (least recently used first out). ``clock`` gives epoch
    seconds, as the JWT claims count them."""

    def __init__(
        self,
        verifier: WindowedVerifier,
        max_entries: int,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_entries <= 0:
            raise ValueError("a token cache holds at least one token")
        self._verifier = verifier
        self._max_entries = max_entries
        self._clock = clock
        self._keys: KeyRing = verifier.keys
        self._entries: OrderedDict[bytes, VerifiedToken] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def verify(self, token: str) -> Principal:
        if self._verifier.keys is not self._keys:
            self._entries.clear()
            self._keys = self._verifier.keys
        key = hashlib.sha256(token.encode()).digest()
        now = self._clock()
        cached = self._entries.get(key)
        if cached is not None:
            if cached.valid_from <= now < cached.expires_at:
                self._entries.move_to_end(key)
                return cached.principal
            del self._entries[key]
        verified = self._verifier.verify_token(token)  # raises when refused: not cached
        if verified.valid_from <= now < verified.expires_at:
            self._entries[key] = verified
            if len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return verified.principal
