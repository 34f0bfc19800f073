"""NoteSigner: signs checkpoints of the tenant logs (C2SP signed-note, Ed25519)."""

from __future__ import annotations

from typing import Protocol

from audit_trail.core.integrity.checkpoint import Checkpoint


class NoteSigner(Protocol):
    """``name`` is the signed-note key name, ``public_key`` the raw Ed25519 key and
    ``vkey`` its verifier key text (``<name>+<hex key id>+<base64(0x01 ‖ key)>``)."""

    name: str
    public_key: bytes
    vkey: str

    def sign_checkpoint(self, checkpoint: Checkpoint) -> str:
        """The checkpoint as a signed note: its body, a blank line, one signature line."""
        ...
