"""Ed25519 checkpoint signing and verification (c2sp.org/signed-note key type 0x01),
with the ``cryptography`` package, and the signing key file.

The key file is a PEM (PKCS#8, unencrypted) Ed25519 private key, created with mode
0600 on first use and reused afterwards; a file others may read is tightened to 0600.
"""

from __future__ import annotations

import logging
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)

from audit_trail.adapters.auth.keys import KeyConfigError
from audit_trail.adapters.keyfiles import create_private_file, tighten_private_file
from audit_trail.core.integrity.checkpoint import (
    Checkpoint,
    NoteError,
    format_vkey,
    key_id,
    parse_checkpoint,
    parse_signed_note,
    parse_vkey,
    sign_note,
)

log = logging.getLogger(__name__)


class Ed25519NoteSigner:
    """Signs checkpoints as signed notes under the key name ``name``."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self.name = name
        self.public_key: bytes = private_key.public_key().public_bytes(
            Encoding.Raw, PublicFormat.Raw
        )
        self.key_id: bytes = key_id(name, self.public_key)
        self.vkey: str = format_vkey(name, self.public_key)

    def sign_checkpoint(self, checkpoint: Checkpoint) -> str:
        """The full signed note: the checkpoint body, a blank line, this key's signature."""
        body = checkpoint.body()
        signature = self._private_key.sign(body.encode("utf-8"))
        return sign_note(body, self.name, self.key_id, signature)

    def derive_secret(self, label: bytes) -> bytes:
        """32 bytes for another purpose, derived (HKDF-SHA256) from the private key
        under ``label``: the key itself signs checkpoints and nothing else."""
        raw = self._private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(raw)

    def __repr__(self) -> str:
        return f"Ed25519NoteSigner({self.vkey!r})"


def verify_note_signature(note_text: str, vkey: str) -> Checkpoint:
    """The checkpoint of a signed note that the key ``vkey`` signed. Signatures by other
    keys (another name or key id) are ignored; every signature by this key must verify,
    and there must be one. Raises ``NoteError`` naming what failed."""
    verifier = parse_vkey(vkey)
    note = parse_signed_note(note_text)
    mine = [s for s in note.signatures if s.name == verifier.name and s.key_id == verifier.key_id]
    if not mine:
        raise NoteError(
            f"the note carries no signature by {verifier.name} ({verifier.key_id.hex()})"
        )
    public_key = Ed25519PublicKey.from_public_bytes(verifier.public_key)
    for signature in mine:
        try:
            public_key.verify(signature.signature, note.body.encode("utf-8"))
        except InvalidSignature:
            raise NoteError(f"the signature by {verifier.name} does not verify") from None
    return parse_checkpoint(note.body)


def load_or_create_signing_key(path: Path) -> tuple[Ed25519PrivateKey, bool]:
    """The Ed25519 key in ``path`` and whether this call created it. A missing file is
    created (mode 0600, in a 0700 folder it creates if needed) holding a new key; when
    processes race, all of them end up with the one key that was linked in first."""
    try:
        return _read_signing_key(path), False
    except FileNotFoundError:
        pass
    pem = Ed25519PrivateKey.generate().private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
    )
    created = create_private_file(path, pem)
    return _read_signing_key(path), created


def _read_signing_key(path: Path) -> Ed25519PrivateKey:
    tighten_private_file(path, "signing key")
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError):
        raise KeyConfigError(
            f"the signing key file {path} is not an unencrypted PEM private key"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyConfigError(f"the signing key file {path} does not hold an Ed25519 key")
    return key
