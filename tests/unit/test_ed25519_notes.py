"""Ed25519 signed-note checkpoints: signing, verifying, and the signing key file."""

from __future__ import annotations

import base64
import logging
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from audit_trail.adapters.auth.keys import KeyConfigError
from audit_trail.adapters.signing import (
    Ed25519NoteSigner,
    load_or_create_signing_key,
    verify_note_signature,
)
from audit_trail.core.integrity import (
    Checkpoint,
    NoteError,
    parse_signed_note,
    parse_vkey,
    root,
    sign_note,
)

CHECKPOINT = Checkpoint("audit.example/log/acme", 3, root([bytes(32)] * 3))
KEY = Ed25519PrivateKey.generate()
SIGNER = Ed25519NoteSigner("audit.example/log", KEY)
NOTE = SIGNER.sign_checkpoint(CHECKPOINT)


def test_a_signed_checkpoint_verifies_and_gives_the_checkpoint() -> None:
    assert NOTE.startswith(CHECKPOINT.body() + "\n\u2014 audit.example/log ")
    assert verify_note_signature(NOTE, SIGNER.vkey) == CHECKPOINT
    vkey = parse_vkey(SIGNER.vkey)
    assert (vkey.name, vkey.key_id, vkey.public_key) == (
        SIGNER.name,
        SIGNER.key_id,
        SIGNER.public_key,
    )
    assert len(SIGNER.public_key) == 32
    assert len(SIGNER.key_id) == 4


def test_the_signed_note_spec_example_verifies() -> None:
    # c2sp.org/signed-note: the example vkey and the note it verifies (not a checkpoint).
    vkey = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
    note = (
        "This is an example message.\n\n\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6"
        "TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
    )
    parsed = parse_signed_note(note)
    key = Ed25519PublicKey.from_public_bytes(parse_vkey(vkey).public_key)
    key.verify(parsed.signatures[0].signature, parsed.body.encode())
    with pytest.raises(NoteError, match="checkpoint"):  # signature good, body no checkpoint
        verify_note_signature(note, vkey)


def changed_char(text: str, at: int) -> str:
    replacement = "b" if text[at] != "b" else "c"
    return text[:at] + replacement + text[at + 1 :]


@pytest.mark.parametrize("at", range(len(CHECKPOINT.body())))
def test_a_changed_byte_of_the_body_is_refused(at: int) -> None:
    with pytest.raises(NoteError):
        verify_note_signature(changed_char(NOTE, at), SIGNER.vkey)


def signature_bytes(note: str) -> bytes:
    return base64.b64decode(note.rstrip("\n").rsplit(" ", 1)[1])


def with_signature(note: str, raw: bytes) -> str:
    return note.rstrip("\n").rsplit(" ", 1)[0] + " " + base64.b64encode(raw).decode() + "\n"


@pytest.mark.parametrize("at", range(4, 4 + 64))
def test_a_changed_byte_of_the_signature_is_refused(at: int) -> None:
    raw = bytearray(signature_bytes(NOTE))
    raw[at] ^= 0x01
    with pytest.raises(NoteError, match="does not verify"):
        verify_note_signature(with_signature(NOTE, bytes(raw)), SIGNER.vkey)


def test_a_changed_key_id_leaves_no_signature_by_the_key() -> None:
    raw = bytearray(signature_bytes(NOTE))
    raw[0] ^= 0x01
    with pytest.raises(NoteError, match=r"no signature by audit\.example/log"):
        verify_note_signature(with_signature(NOTE, bytes(raw)), SIGNER.vkey)


def test_a_wrong_key_is_refused() -> None:
    other = Ed25519NoteSigner("audit.example/log", Ed25519PrivateKey.generate())
    with pytest.raises(NoteError, match="no signature"):
        verify_note_signature(NOTE, other.vkey)
    renamed = Ed25519NoteSigner("other.example/log", KEY)
    with pytest.raises(NoteError, match="no signature"):
        verify_note_signature(NOTE, renamed.vkey)
    # Another key's signature under this key's name and id.
    forged = with_signature(
        NOTE, SIGNER.key_id + signature_bytes(other.sign_checkpoint(CHECKPOINT))[4:]
    )
    with pytest.raises(NoteError, match="does not verify"):
        verify_note_signature(forged, SIGNER.vkey)


def test_signatures_by_other_keys_are_ignored() -> None:
    other = Ed25519NoteSigner("witness.example", Ed25519PrivateKey.generate())
    cosigned = NOTE + other.sign_checkpoint(CHECKPOINT).split("\n\n", 1)[1]
    assert len(parse_signed_note(cosigned).signatures) == 2
    assert verify_note_signature(cosigned, SIGNER.vkey) == CHECKPOINT
    assert verify_note_signature(cosigned, other.vkey) == CHECKPOINT


def test_a_malformed_note_or_vkey_is_refused() -> None:
    with pytest.raises(NoteError):
        verify_note_signature(NOTE.replace("\n\n", "\n"), SIGNER.vkey)
    with pytest.raises(NoteError):
        verify_note_signature(NOTE, SIGNER.vkey + "x")
    unsigned_body = sign_note(CHECKPOINT.body(), "x", b"abcd", b"s")
    with pytest.raises(NoteError, match="no signature"):
        verify_note_signature(unsigned_body, SIGNER.vkey)


# --- the key file ---


def test_the_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "signing.pem"
    key, created = load_or_create_signing_key(path)
    assert created
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    again, created_again = load_or_create_signing_key(path)
    assert not created_again
    assert Ed25519NoteSigner("n", again).public_key == Ed25519NoteSigner("n", key).public_key
    assert list(path.parent.iterdir()) == [path]  # no candidate file left behind


def test_a_key_file_others_may_read_is_tightened(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "signing.pem"
    load_or_create_signing_key(path)
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        _, created = load_or_create_signing_key(path)
    assert not created
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "readable by others" in caplog.text


def test_a_key_file_that_is_not_an_ed25519_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "signing.pem"
    path.write_bytes(b"not a key\n")
    path.chmod(0o600)
    with pytest.raises(KeyConfigError, match="not an unencrypted PEM"):
        load_or_create_signing_key(path)
    ec_key = generate_private_key(SECP256R1())
    path.write_bytes(ec_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    with pytest.raises(KeyConfigError, match="Ed25519"):
        load_or_create_signing_key(path)
