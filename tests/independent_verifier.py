"""A verifier of the service's evidence written from DESIGN.md ("Integrity") alone.

It imports nothing of audit_trail: only hashlib, base64, json, cryptography, and the
``rfc8785`` package for the canonical JSON of arbitrary field values (the leaves
themselves are canonicalised here). Every check raises ``Invalid`` naming what failed.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import json
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FIELD_DOMAIN = b"audit-trail:field:v1"
EM_DASH = "\u2014"


class Invalid(Exception):
    pass


def b64d(text: Any) -> bytes:
    """Standard base64 with padding, strictly."""
    if not isinstance(text, str):
        raise Invalid(f"{text!r} is not base64 text")
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise Invalid(f"{text!r} is not base64") from None
    if base64.b64encode(raw).decode() != text:
        raise Invalid(f"{text!r} is not canonical padded base64")
    return raw


# --- RFC 8785, the subset a leaf needs: objects, strings, integers, null ---


def jcs(value: Any) -> bytes:
    return _jcs(value).encode("utf-8")


def _jcs(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if abs(value) > 2**53 - 1:
            raise Invalid(f"integer {value} is outside the I-JSON range")
        return str(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ",".join(_jcs(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))  # UTF-16 code units
        return "{" + ",".join(_string(k) + ":" + _jcs(value[k]) for k in keys) + "}"
    raise Invalid(f"{type(value).__name__} is not in the leaf subset of JCS")


def _string(text: str) -> str:
    out = ['"']
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif char in "\b\t\n\f\r":
            out.append({"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}[char])
        elif code < 0x20:
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out) + '"'


# --- RFC 9162 ---


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def mth(hashes: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1, from the leaf hashes."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return node(mth(hashes[:k]), mth(hashes[k:]))


def verify_inclusion(index: int, size: int, digest: bytes, proof: list[bytes], root: bytes) -> None:
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        raise Invalid(f"leaf {index} is not in a tree of size {size}")
    fn, sn, r = index, size - 1, digest
    for p in proof:
        if sn == 0:
            raise Invalid("inclusion proof too long")
        if fn % 2 == 1 or fn == sn:
            r = node(p, r)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or r != root:
        raise Invalid(f"inclusion proof of leaf {index} in tree {size} fails")


def verify_consistency(
    first: int, second: int, proof: list[bytes], first_root: bytes, second_root: bytes
) -> None:
    """RFC 9162 §2.1.4.2 (with the trivial cases: equal sizes, an empty first tree)."""
    if first > second:
        raise Invalid(f"{first} > {second}")
    if first == second:
        if proof or first_root != second_root:
            raise Invalid(f"trees of size {first} differ")
        return
    if first == 0:
        if proof:
            raise Invalid("a proof from the empty tree is empty")
        return
    if not proof:
        raise Invalid("empty consistency proof")
    if first & (first - 1) == 0:
        proof = [first_root, *proof]
    fn, sn = first - 1, second - 1
    while fn % 2 == 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            raise Invalid("consistency proof too long")
        if fn % 2 == 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or fr != first_root or sr != second_root:
        raise Invalid(f"consistency proof {first} -> {second} fails")


# --- checkpoints and keys ---


def parse_vkey(vkey: str) -> tuple[str, bytes, bytes]:
    """``<name>+<8 hex of key id>+<base64(0x01 ‖ public key)>`` -> (name, key id, key)."""
    name, hex_id, encoded = vkey.split("+", 2)
    raw = b64d(encoded)
    if raw[:1] != b"\x01" or len(raw) != 33:
        raise Invalid("not an Ed25519 vkey")
    key_id = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    if key_id.hex() != hex_id:
        raise Invalid("the vkey's key id does not match")
    return name, key_id, raw[1:]


def verify_checkpoint(note: str, vkey: str) -> tuple[str, int, bytes]:
    """(origin, tree size, root) of a signed note that ``vkey`` signed."""
    name, key_id, public_key = parse_vkey(vkey)
    body, sep, signatures = note.partition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise Invalid("not a signed note")
    body += "\n"
    verified = False
    for line in signatures[:-1].split("\n"):
        dash, signer, encoded = line.split(" ")
        raw = b64d(encoded)
        if dash == EM_DASH and signer == name and raw[:4] == key_id:
            try:
                Ed25519PublicKey.from_public_bytes(public_key).verify(raw[4:], body.encode())
            except InvalidSignature:
                raise Invalid("the checkpoint signature does not verify") from None
            verified = True
    if not verified:
        raise Invalid("no signature by the trusted key")
    origin, size, root = body[:-1].split("\n")[:3]
    if str(int(size)) != size:
        raise Invalid(f"tree size {size!r}")
    return origin, int(size), b64d(root)


# --- leaves and fields ---


def committed(entry: dict[str, Any]) -> dict[str, Any]:
    """DESIGN's field paths and the values as the API renders them; an erased path
    (docs/lifecycle.md: listed in the entry's ``erased``) shows no value."""
    erased = set(entry.get("erased", ()))
    names = ("action", "outcome", "occurred_at", "tags")
    fields: dict[str, Any] = {k: entry[k] for k in names if k in entry}
    for group, parts in (
        ("actor", ("id", "type", "name")),
        ("target", ("type", "id", "name")),
        ("source", ("ip", "user_agent")),
    ):
        for part in parts:
            if part in entry.get(group, {}):
                fields[f"{group}.{part}"] = entry[group][part]
    for key, value in entry.get("metadata", {}).items():
        fields[f"metadata.{key}"] = value
    return {path: value for path, value in fields.items() if path not in erased}


def field_digest(path: str, salt: bytes, value: Any) -> bytes:
    material = FIELD_DOMAIN + b"\x00" + path.encode() + b"\x00" + salt + rfc8785.dumps(value)
    return hashlib.sha256(material).digest()


def expected_leaf(
    entry: dict[str, Any],
    salts: dict[str, bytes],
    prev: str | None,
    served_fields: dict[str, str],
) -> dict[str, Any]:
    """The leaf the entry must have; an erased field's digest is the served leaf's
    (nothing else is left of it)."""
    erased = {
        path: served_fields[path] for path in entry.get("erased", ()) if path in served_fields
    }
    kind = "amend" if entry["revision"] > 1 else "record"
    kind = "delete" if entry.get("deleted") else kind
    return {
        "v": 1,
        "kind": kind,
        "tenant": entry["tenant"],
        "id": entry["id"],
        "revision": entry["revision"],
        "recorded_at": entry["recorded_at"],
        "recorded_by": entry["recorded_by"],
        "prev": prev,
        "fields": {
            path: base64.b64encode(field_digest(path, salts[path], value)).decode()
            for path, value in committed(entry).items()
        }
        | erased,
    }


def verify_proof(proof: dict[str, Any], vkey: str) -> tuple[str, int, bytes, bytes]:
    """An ``/entries/{id}/proof`` answer, end to end, for an entry shown in full.

    Returns (origin, tree size, root, leaf hash)."""
    origin, size, root = verify_checkpoint(proof["checkpoint"], vkey)
    if size != proof["tree_size"]:
        raise Invalid("the proof's tree size is not its checkpoint's")
    entry, leaf = proof["entry"], proof["leaf"]
    if not origin.endswith("/" + entry["tenant"]):
        raise Invalid(f"origin {origin!r} is not the tenant's")
    salts = {path: b64d(salt) for path, salt in proof["salts"].items()}
    if set(salts) != set(committed(entry)):
        raise Invalid(f"salts for {sorted(salts)}, fields {sorted(committed(entry))}")
    if leaf["prev"] is not None and len(b64d(leaf["prev"])) != 32:
        raise Invalid("prev is not a hash")
    if (leaf["prev"] is None) != (entry["revision"] == 1):
        raise Invalid("only a first revision has no prev")
    if expected_leaf(entry, salts, leaf["prev"], leaf["fields"]) != leaf:
        raise Invalid(f"the leaf does not commit the entry: {leaf} != {entry}")
    leaf_bytes = jcs(leaf)
    if leaf_bytes != rfc8785.dumps(leaf):
        raise Invalid("this JCS and rfc8785 disagree on a leaf")
    digest = leaf_hash(leaf_bytes)
    inclusion = [b64d(h) for h in proof["inclusion"]]
    verify_inclusion(proof["leaf_index"], size, digest, inclusion, root)
    return origin, size, root, digest


# --- exports (docs/lifecycle.md, "Export") ---


def verify_export(lines: list[str], vkey: str) -> int:
    """An NDJSON export: entry lines, then the trailer whose complement and the lines'
    own leaves give the signed checkpoint's root. Returns the number of entries."""
    if not lines:
        raise Invalid("an empty file: no trailer")
    *body, last = (json.loads(line) for line in lines)
    if set(last) != {"trailer"}:
        raise Invalid("the last line is not the trailer")
    trailer = last["trailer"]
    origin, size, root = verify_checkpoint(trailer["checkpoint"], vkey)
    if size != trailer["tree_size"]:
        raise Invalid("the trailer's tree_size is not its checkpoint's")
    if trailer["count"] != len(body):
        raise Invalid(f"the trailer counts {trailer['count']} lines, there are {len(body)}")
    leaves: dict[int, bytes] = {}
    for number, item in enumerate(body, start=1):
        entry = item["entry"]
        if not origin.endswith("/" + entry["tenant"]):
            raise Invalid(f"line {number}: origin {origin!r} is not the tenant's")
        index = item["leaf_index"]
        if not (isinstance(index, int) and 0 <= index < size) or index in leaves:
            raise Invalid(f"line {number}: leaf_index {index!r} is outside the tree or twice")
        leaves[index] = leaf_hash(jcs(_export_leaf(item, number)))
    indices = sorted(leaves)
    complement = [b64d(h) for h in trailer["complement"]]
    used = 0

    def walk(start: int, end: int, low: int, high: int) -> bytes:
        nonlocal used
        if low == high:
            if used == len(complement):
                raise Invalid("the complement is too short")
            used += 1
            return complement[used - 1]
        if end - start == 1:
            return leaves[indices[low]]
        k = 1 << ((end - start - 1).bit_length() - 1)
        cut = bisect.bisect_left(indices, start + k, low, high)
        return node(walk(start, start + k, low, cut), walk(start + k, end, cut, high))

    rebuilt = walk(0, size, 0, len(indices)) if size else hashlib.sha256(b"").digest()
    if used != len(complement):
        raise Invalid("the complement is too long")
    if rebuilt != root:
        raise Invalid("the export's leaves and complement do not give the checkpoint's root")
    return len(body)


def _export_leaf(item: dict[str, Any], number: int) -> dict[str, Any]:
    entry, prev = item["entry"], item["prev"]
    salts = {path: b64d(salt) for path, salt in item["salts"].items()}
    fields = dict(item["digests"])
    for path, value in committed(entry).items():
        if path in salts:
            fields[path] = base64.b64encode(field_digest(path, salts[path], value)).decode()
        elif path not in fields:
            raise Invalid(f"line {number}: {path} has neither a salt nor a digest")
    kind = "amend" if entry["revision"] > 1 else "record"
    return {
        "v": 1,
        "kind": "delete" if entry.get("deleted") else kind,
        "tenant": entry["tenant"],
        "id": entry["id"],
        "revision": entry["revision"],
        "recorded_at": entry["recorded_at"],
        "recorded_by": entry["recorded_by"],
        "prev": prev,
        "fields": fields,
    }
