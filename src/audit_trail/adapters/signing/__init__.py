"""Signing adapters: Ed25519 signed-note checkpoints and their key file."""

from audit_trail.adapters.signing.ed25519 import (
    Ed25519NoteSigner,
    load_or_create_signing_key,
    verify_note_signature,
)

__all__ = ["Ed25519NoteSigner", "load_or_create_signing_key", "verify_note_signature"]
