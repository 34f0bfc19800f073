"""Checkpoints as C2SP signed notes (c2sp.org/tlog-checkpoint, c2sp.org/signed-note),
with Ed25519 keys (signature type 0x01). Only text: signing and verifying the Ed25519
signatures is an adapter's work.

A checkpoint body is ``<origin>\\n<tree size>\\n<base64 root>\\n``; a signed note is the
body, a blank line, and one line ``— <key name> <base64(key id ‖ signature)>`` per
signature. base64 is standard base64 with padding throughout.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

ED25519 = 0x01  # the signed-note signature type of Ed25519
ED25519_KEY_SIZE = 32
KEY_ID_SIZE = 4
ROOT_SIZE = 32
MAX_SIGNATURES = 100  # the spec asks verifiers to accept at least 16
MAX_TREE_SIZE = 2**64 - 1

SIGNATURE_PREFIX = "\u2014 "  # em dash, space
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\ud800-\udfff]")  # all but newline; surrogates
_DECIMAL = re.compile("0|[1-9][0-9]*")
_HEX_KEY_ID = re.compile("[0-9a-f]{8}")


class NoteError(ValueError):
    """A note, checkpoint or verifier key that is malformed or does not verify; the
    message says which part failed."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's tree head: its origin line, tree size and RFC 9162 root hash."""

    origin: str
    size: int
    root: bytes

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin or _CONTROL.search(self.origin):
            raise NoteError("a checkpoint origin is one non-empty line of text")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise NoteError(f"a tree size is between 0 and 2**64-1, not {self.size}")
        if len(self.root) != ROOT_SIZE:
            raise NoteError(f"a checkpoint root is {ROOT_SIZE} bytes, not {len(self.root)}")

    def body(self) -> str:
        """The note text: ``f"{origin}\\n{size}\\n{base64(root)}\\n"``."""
        return f"{self.origin}\n{self.size}\n{_b64(self.root)}\n"


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """A parsed ``vkey``: the key name, its 4-byte key id and the Ed25519 public key."""

    name: str
    key_id: bytes
    public_key: bytes


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: key name, 4-byte key id, signature bytes."""

    name: str
    key_id: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class SignedNote:
    """A note's text (ending in a newline) and its signatures, in order."""

    body: str
    signatures: tuple[NoteSignature, ...]


def key_id(name: str, public_key: bytes) -> bytes:
    """First 4 bytes of SHA-256(name ‖ "\\n" ‖ 0x01 ‖ public key), for an Ed25519 key."""
    _check_name(name)
    _check_public_key(public_key)
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()[:4]


def format_vkey(name: str, public_key: bytes) -> str:
    """The verifier key ``<name>+<hex key id>+<base64(0x01 ‖ public key)>``."""
    return f"{name}+{key_id(name, public_key).hex()}+{_b64(bytes([ED25519]) + public_key)}"


def parse_vkey(text: str) -> VerifierKey:
    """A verifier key of an Ed25519 signer, split at its first two ``+`` (the base64 key
    may hold more) and checked: a valid name, 8 lowercase hex digits, key type 0x01, a
    32-byte key, and the id that name and key give."""
    parts = text.split("+", 2)  # the name has no '+'; base64 may
    if len(parts) != 3:
        raise NoteError("a verifier key is <name>+<key id>+<key>")
    name, hex_id, encoded = parts
    _check_name(name)
    if not _HEX_KEY_ID.fullmatch(hex_id):
        raise NoteError("a verifier key's id is 8 lowercase hex digits")
    key = _b64decode(encoded, "verifier key")
    if not key or key[0] != ED25519:
        raise NoteError("the verifier key is not an Ed25519 (type 0x01) key")
    public_key = key[1:]
    if len(public_key) != ED25519_KEY_SIZE:
        raise NoteError(f"an Ed25519 verifier key is {ED25519_KEY_SIZE} bytes")
    expected = bytes.fromhex(hex_id)
    if key_id(name, public_key) != expected:
        raise NoteError("the verifier key's id does not match its name and key")
    return VerifierKey(name, expected, public_key)


def sign_note(body: str, name: str, key_id: bytes, signature: bytes) -> str:
    """The signed note: ``body``, a blank line, ``— <name> <base64(key id ‖ signature)>``."""
    _check_text(body)
    _check_name(name)
    if len(key_id) != KEY_ID_SIZE or not signature:
        raise NoteError("a note signature is a 4-byte key id and a non-empty signature")
    return f"{body}\n{SIGNATURE_PREFIX}{name} {_b64(key_id + signature)}\n"


def parse_signed_note(text: str) -> SignedNote:
    """Split a signed note into its text and signatures, strictly per c2sp.org/signed-note:
    no control characters but newlines, the text (ending in a newline) ends at the last
    blank line, then one or more well-formed signature lines, each ending in a newline.
    Nothing is verified here."""
    _check_characters(text)
    split = text.rfind("\n\n")
    if split < 0:
        raise NoteError("a signed note has a blank line before its signatures")
    body, block = text[: split + 1], text[split + 2 :]
    if not block.endswith("\n"):
        raise NoteError("a signed note ends with signature lines, each ending in a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"a signed note holds at most {MAX_SIGNATURES} signatures")
    return SignedNote(body, tuple(_signature(line) for line in lines))


def _signature(line: str) -> NoteSignature:
    if not line.startswith(SIGNATURE_PREFIX):
        raise NoteError("a signature line starts with an em dash and a space")
    name, space, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not space:
        raise NoteError("a signature line is '— <key name> <base64 signature>'")
    _check_name(name)
    raw = _b64decode(encoded, "signature")
    if len(raw) <= KEY_ID_SIZE:
        raise NoteError("a signature is a 4-byte key id followed by the signature")
    return NoteSignature(name, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:])


def parse_checkpoint(body: str) -> Checkpoint:
    """A checkpoint from a note text: origin (non-empty), tree size (decimal, no leading
    zeros), base64 of a 32-byte root, then optional non-empty extension lines, which are
    ignored."""
    _check_text(body)
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError("a checkpoint has an origin, a tree size and a root hash line")
    origin, size, root, *extensions = lines
    if not origin:
        raise NoteError("a checkpoint's origin line is not empty")
    if not _DECIMAL.fullmatch(size):
        raise NoteError("a checkpoint's tree size is a decimal number without leading zeros")
    if any(not line for line in extensions):
        raise NoteError("a checkpoint's extension lines are not empty")
    return Checkpoint(origin, int(size), _b64decode(root, "root hash"))


def _check_name(name: str) -> None:
    if not name or "+" in name or any(c.isspace() for c in name) or _CONTROL.search(name):
        raise NoteError(f"{name!r} is not a key name (non-empty, no spaces, no '+')")


def _check_public_key(public_key: bytes) -> None:
    if len(public_key) != ED25519_KEY_SIZE:
        raise NoteError(f"an Ed25519 public key is {ED25519_KEY_SIZE} bytes")


def _check_text(text: str) -> None:
    _check_characters(text)
    if not text.endswith("\n"):
        raise NoteError("a note text ends with a newline")


def _check_characters(text: str) -> None:
    found = _CONTROL.search(text)
    if found is not None:
        raise NoteError(
            f"a note holds no control characters but newlines (U+{ord(found.group()):04X} "
            f"at {found.start()})"
        )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _b64decode(text: str, what: str) -> bytes:
    """Standard, padded, canonical base64 only."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise NoteError(f"the {what} is not standard base64") from None
    if _b64(raw) != text:
        raise NoteError(f"the {what} is not canonical, padded base64")
    return raw
