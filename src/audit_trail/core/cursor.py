"""Opaque, tamper-checked cursors over (occurred_at, id).

A cursor names the last entry of a page and is bound, by an HMAC, to the tenant and
to the query's filters and sort: a cursor that was altered, or is replayed against
another query or tenant, is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from audit_trail.core.errors import ValidationFailed
from audit_trail.core.query import Position
from audit_trail.core.timestamps import from_epoch_millis, to_epoch_millis

_MAC_BYTES = 16


class CursorCodec:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the cursor secret must be at least 16 bytes")
        self._secret = secret

    def encode(self, position: Position, *, tenant: str, scope: str) -> str:
        payload = f"{to_epoch_millis(position.occurred_at)}:{position.id}".encode()
        return self.seal(payload, tenant=tenant, scope=scope)

    def decode(self, cursor: str, *, tenant: str, scope: str) -> Position:
        """The position ``cursor`` names; ``ValidationFailed`` on the ``cursor`` field
        when it is malformed, altered or issued for another query or tenant."""
        try:
            millis, entry_id = (
                self.unseal(cursor, tenant=tenant, scope=scope).decode().split(":", 1)
            )
            return Position(from_epoch_millis(int(millis)), entry_id)
        except (ValueError, UnicodeDecodeError, OverflowError):
            raise ValidationFailed.single("cursor", "is not a cursor this query issued") from None

    def seal(self, payload: bytes, *, tenant: str, scope: str) -> str:
        """``payload`` as cursor text (base64url, a dot, the base64url of its MAC over
        the tenant and ``scope``), for any kind of cursor (``scope`` tells them apart)."""
        return f"{_b64(payload)}.{_b64(self._mac(payload, tenant, scope))}"

    def unseal(self, cursor: str, *, tenant: str, scope: str) -> bytes:
        """The payload ``seal`` put in ``cursor`` for this tenant and scope;
        ``ValueError`` when it is malformed, altered, or sealed for another."""
        try:
            body, mac = cursor.split(".")
            payload = _unb64(body)
            if not hmac.compare_digest(_unb64(mac), self._mac(payload, tenant, scope)):
                raise ValueError("its MAC does not match")
        except (ValueError, binascii.Error):
            raise ValueError("not a cursor sealed for this tenant and scope") from None
        return payload

    def _mac(self, payload: bytes, tenant: str, scope: str) -> bytes:
        message = b"\n".join([tenant.encode(), scope.encode(), payload])
        return hmac.new(self._secret, message, hashlib.sha256).digest()[:_MAC_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text.isascii():
        raise ValueError
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    # the decoder skips stray characters and ignores a last character's spare bits:
    # accept only the one text that encodes ``data``, so every altered cursor is refused
    if _b64(data) != text:
        raise ValueError
    return data
