"""The map: a compact sparse Merkle tree from 32-byte keys to ``(size, root)`` values.

Hashes and proofs are docs/query-proofs.md, "The map": bit ``d`` of a key is bit
``7 - d % 8`` of byte ``d // 8``; a subtree holding no key hashes to ``EMPTY`` (32 zero
bytes), one key to that key's leaf hash (whatever its depth), two or more to
SHA-256(0x03 ‖ left ‖ right); the map root is the hash of the whole tree.

Stored form (``map_update`` reads and writes it through a ``MapStore``): two tables.

- **Internal nodes** (subtrees holding two keys or more) by ``node_id(key, depth)``:
  ``depth`` as one byte, then the first ``ceil(depth / 8)`` bytes of any key beneath
  with the bits from ``depth`` on zeroed; the root's id is ``ROOT_ID`` (``b"\\x00"``).
  Every subtree holding two keys or more has its node, so a node at depth ``d`` has its
  children at ``d + 1``. A node is its two child slots (``encode_node``): ``Empty``,
  ``LeafChild(key, leaf hash)`` or ``NodeChild(hash)``. Keys are never removed, so a
  node, once stored, stays at its id; only its slots change.
- **Leaf values** by key: each key's ``MapValue``, the part of a proof the slots lack.

A map of exactly one key has no internal node; then ``SINGLE_ID`` (``b""``) holds a
node whose left slot is that key's ``LeafChild`` (and right slot ``Empty``), so that a
reader given only the root hash finds the key. The record is deleted when a second key
arrives. An empty map stores nothing. The store holds the latest map only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeAlias

from audit_trail.core.integrity.merkle import HASH_SIZE, ProofError

KEY_SIZE = 32
KEY_BITS = 8 * KEY_SIZE
EMPTY = bytes(HASH_SIZE)
ROOT_ID = b"\x00"
SINGLE_ID = b""
_MAX_SIZE = 1 << 64


@dataclass(frozen=True, slots=True)
class MapValue:
    """A map key's value: its posting log's size and root (``ValueError`` if malformed)."""

    size: int
    root: bytes

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise ValueError("a map value's size is an int")
        if not 0 <= self.size < _MAX_SIZE:
            raise ValueError(f"a map value's size fits 8 unsigned bytes, not {self.size}")
        _check_hash(self.root, "a map value's root")


@dataclass(frozen=True, slots=True)
class MapLeaf:
    """A key and its value, as a proof carries them (``ValueError`` if malformed)."""

    key: bytes
    value: MapValue

    def __post_init__(self) -> None:
        check_key(self.key)
        if not isinstance(self.value, MapValue):
            raise ValueError("a map leaf's value is a MapValue")


@dataclass(frozen=True, slots=True)
class MapProof:
    """Sibling hashes from the root down (None for an empty one) to the first subtree of
    the key's path holding at most one key, and that subtree's key (None when empty).
    Unchecked: ``verify_map_proof`` checks it."""

    siblings: tuple[bytes | None, ...]
    leaf: MapLeaf | None


@dataclass(frozen=True, slots=True)
class Empty:
    """A child slot holding no key."""

    @property
    def hash(self) -> bytes:
        return EMPTY


@dataclass(frozen=True, slots=True)
class LeafChild:
    """A child slot holding exactly one key: the key and its leaf hash."""

    key: bytes
    hash: bytes


@dataclass(frozen=True, slots=True)
class NodeChild:
    """A child slot holding two keys or more: the hash of its internal node."""

    hash: bytes


Child: TypeAlias = Empty | LeafChild | NodeChild
EMPTY_CHILD = Empty()


@dataclass(frozen=True, slots=True)
class InternalNode:
    """A stored node: its two child slots (bit 0 on the left)."""

    left: Child
    right: Child

    @property
    def hash(self) -> bytes:
        return branch_hash(self.left.hash, self.right.hash)


def check_key(key: bytes) -> None:
    """``ValueError`` unless ``key`` is 32 bytes."""
    if not isinstance(key, bytes) or len(key) != KEY_SIZE:
        raise ValueError(f"a map key is {KEY_SIZE} bytes")


def _check_hash(value: object, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise ValueError(f"{what} is {HASH_SIZE} bytes")


def bit(key: bytes, depth: int) -> int:
    """Bit ``depth`` of ``key``, most significant bit of the first byte first."""
    return key[depth >> 3] >> (7 - (depth & 7)) & 1


def common_prefix(a: bytes, b: bytes) -> int:
    """How many leading bits two keys share (256 when they are equal)."""
    return KEY_BITS - (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_length()


def leaf_hash(key: bytes, value: MapValue) -> bytes:
    """SHA-256(0x02 ‖ key ‖ size as 8 bytes big-endian ‖ root)."""
    return hashlib.sha256(b"\x02" + key + value.size.to_bytes(8, "big") + value.root).digest()


def branch_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x03 ‖ left ‖ right): a subtree holding two keys or more."""
    return hashlib.sha256(b"\x03" + left + right).digest()


def node_id(key: bytes, depth: int) -> bytes:
    """The id of the internal node at ``depth`` (0..255) on ``key``'s path: the depth
    byte, then ``key``'s first ``ceil(depth / 8)`` bytes with bits from ``depth`` zeroed."""
    check_key(key)
    if not 0 <= depth < KEY_BITS:
        raise ValueError(f"internal nodes are at depths 0 to {KEY_BITS - 1}, not {depth}")
    prefix = bytearray(key[: (depth + 7) // 8])
    if depth % 8:
        prefix[-1] &= 0xFF << (8 - depth % 8) & 0xFF
    return bytes([depth]) + prefix


def map_root(items: Mapping[bytes, MapValue]) -> bytes:
    """The root of the map holding ``items``, from the definition (the reference that
    the stored, incremental form must agree with)."""
    for key in items:
        check_key(key)
    return _subtree_hash([(key, leaf_hash(key, value)) for key, value in items.items()], 0)


def _subtree_hash(leaves: list[tuple[bytes, bytes]], depth: int) -> bytes:
    if not leaves:
        return EMPTY
    if len(leaves) == 1:
        return leaves[0][1]
    left = [leaf for leaf in leaves if not bit(leaf[0], depth)]
    right = [leaf for leaf in leaves if bit(leaf[0], depth)]
    return branch_hash(_subtree_hash(left, depth + 1), _subtree_hash(right, depth + 1))


def encode_node(node: InternalNode) -> bytes:
    """Per slot, left then right: 0x00 (empty), 0x01 ‖ key ‖ leaf hash, 0x02 ‖ hash."""
    return _encode_child(node.left) + _encode_child(node.right)


def _encode_child(child: Child) -> bytes:
    if isinstance(child, LeafChild):
        return b"\x01" + child.key + child.hash
    if isinstance(child, NodeChild):
        return b"\x02" + child.hash
    return b"\x00"


def decode_node(data: bytes) -> InternalNode:
    """The node ``encode_node`` made; ``ValueError`` for any other bytes."""
    left, at = _decode_child(data, 0)
    right, at = _decode_child(data, at)
    if at != len(data):
        raise ValueError(f"a map node has {len(data) - at} bytes past its two slots")
    return InternalNode(left, right)


def _decode_child(data: bytes, at: int) -> tuple[Child, int]:
    tag = data[at : at + 1]
    if tag == b"\x00":
        return EMPTY_CHILD, at + 1
    if tag == b"\x01" and len(data) >= at + 1 + KEY_SIZE + HASH_SIZE:
        end = at + 1 + KEY_SIZE
        return LeafChild(data[at + 1 : end], data[end : end + HASH_SIZE]), end + HASH_SIZE
    if tag == b"\x02" and len(data) >= at + 1 + HASH_SIZE:
        return NodeChild(data[at + 1 : at + 1 + HASH_SIZE]), at + 1 + HASH_SIZE
    raise ValueError(f"a map node's slot at byte {at} is cut short or has an unknown tag")


def verify_map_proof(map_root: bytes, key: bytes, proof: MapProof) -> MapValue | None:
    """``key``'s value when ``proof`` shows it in the map of ``map_root``, None when it
    shows the key absent (no leaf, or a leaf of another key that shares the first
    ``len(siblings)`` bits of ``key``); ``ProofError`` saying why otherwise."""
    try:
        _check_hash(map_root, "the map root")
        check_key(key)
    except ValueError as error:
        raise ProofError(str(error)) from None
    siblings, leaf = proof.siblings, proof.leaf
    if len(siblings) > KEY_BITS:
        raise ProofError(f"a map proof has at most {KEY_BITS} siblings, not {len(siblings)}")
    for sibling in siblings:
        if sibling is not None and (not isinstance(sibling, bytes) or len(sibling) != HASH_SIZE):
            raise ProofError(f"a map proof's siblings are {HASH_SIZE} bytes or None")
    if siblings and siblings[-1] in (None, EMPTY):
        raise ProofError("the last sibling is empty: the path held at most one key above it")
    if leaf is None:
        node = EMPTY
    elif not isinstance(leaf, MapLeaf):
        raise ProofError("a map proof's leaf is a MapLeaf or None")
    else:
        if common_prefix(leaf.key, key) < len(siblings):
            raise ProofError(
                f"the proof's leaf does not share the first {len(siblings)} bits of the key"
            )
        node = leaf_hash(leaf.key, leaf.value)
    for depth in range(len(siblings) - 1, -1, -1):
        sibling = siblings[depth] or EMPTY
        node = branch_hash(sibling, node) if bit(key, depth) else branch_hash(node, sibling)
    if node != map_root:
        raise ProofError("the map proof does not lead to the map root")
    return leaf.value if leaf is not None and leaf.key == key else None


def proof_to_json(proof: MapProof) -> dict[str, object]:
    """``{"siblings": [base64 or null], "leaf": null or {"key", "size", "root"}}``."""
    leaf: dict[str, object] | None = None
    if proof.leaf is not None:
        value = proof.leaf.value
        leaf = {"key": _b64(proof.leaf.key), "size": value.size, "root": _b64(value.root)}
    siblings = [None if s is None else _b64(s) for s in proof.siblings]
    return {"siblings": siblings, "leaf": leaf}


def proof_from_json(obj: object) -> MapProof:
    """The proof ``proof_to_json`` made, from parsed JSON; ``ProofError`` for any other
    shape (unknown fields, non-canonical base64, wrong lengths, a non-int size...)."""
    fields = _object(obj, {"siblings", "leaf"}, "a map proof")
    raw_siblings = fields["siblings"]
    if not isinstance(raw_siblings, list) or len(raw_siblings) > KEY_BITS:
        raise ProofError(f"a map proof's siblings are a list of at most {KEY_BITS}")
    siblings: list[bytes | None] = []
    for item in raw_siblings:
        sibling = None if item is None else _b64decode(item, "sibling", HASH_SIZE)
        if sibling == EMPTY:
            raise ProofError("an empty sibling is null, not 32 zero bytes")
        siblings.append(sibling)
    leaf = None
    if fields["leaf"] is not None:
        raw_leaf = _object(fields["leaf"], {"key", "size", "root"}, "a map proof's leaf")
        size = raw_leaf["size"]
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size < _MAX_SIZE:
            raise ProofError("a map leaf's size is an integer from 0 to 2^64 - 1")
        key = _b64decode(raw_leaf["key"], "leaf key", KEY_SIZE)
        leaf = MapLeaf(key, MapValue(size, _b64decode(raw_leaf["root"], "leaf root", HASH_SIZE)))
    return MapProof(tuple(siblings), leaf)


def _object(obj: object, names: set[str], what: str) -> dict[str, object]:
    if not isinstance(obj, dict) or set(obj) != names:
        raise ProofError(f"{what} is an object of exactly {', '.join(sorted(names))}")
    return obj


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _b64decode(text: object, what: str, size: int) -> bytes:
    """Standard, padded, canonical base64 of ``size`` bytes only."""
    if not isinstance(text, str):
        raise ProofError(f"a {what} is a base64 string")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise ProofError(f"a {what} is not standard base64") from None
    if _b64(raw) != text:
        raise ProofError(f"a {what} is not canonical, padded base64")
    if len(raw) != size:
        raise ProofError(f"a {what} is {size} bytes, not {len(raw)}")
    return raw
