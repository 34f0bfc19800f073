"""The RFC 9162 (§2.1) Merkle tree: hashes, proofs, and a stored tree's addressing.

A stored tree is addressed by complete subtrees: ``NodeId = (level, index)`` is the
subtree over leaves ``[index << level, (index + 1) << level)``; level 0 is a leaf hash.
Every hash an RFC 9162 proof or root needs is the Merkle Tree Hash (MTH) of a leaf range
``[start, end)`` that the RFC's recursive split produces; such a range is a few complete
subtrees (``range_nodes``), so a store that keeps every complete subtree's hash serves
any proof or root from O(log n) reads, and never recomputes the tree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import TypeAlias

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeId: TypeAlias = tuple[int, int]
"""(level, index): the complete subtree over leaves [index << level, (index+1) << level)."""


class ProofError(ValueError):
    """A proof that does not verify, or its arguments are impossible; the message says why."""


def leaf_hash(leaf: bytes) -> bytes:
    """SHA-256(0x00 ‖ leaf)."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 ‖ left ‖ right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than ``size`` (RFC 9162's k), for size >= 2."""
    return 1 << ((size - 1).bit_length() - 1)


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of the leaves whose hashes are given (EMPTY_ROOT for none), by the RFC's
    recursive definition."""
    if not leaf_hashes:
        return EMPTY_ROOT
    return _mth(leaf_hashes, 0, len(leaf_hashes))


def _mth(hashes: Sequence[bytes], start: int, end: int) -> bytes:
    if end - start == 1:
        return hashes[start]
    middle = start + _split(end - start)
    return node_hash(_mth(hashes, start, middle), _mth(hashes, middle, end))


def range_nodes(start: int, end: int) -> list[NodeId]:
    """The complete subtrees, left to right, whose ``fold_range`` is MTH(D[start:end]).

    ``start`` must be a multiple of the smallest power of two >= ``end - start`` (as
    every range of RFC 9162's recursive split is); the subtrees follow the binary
    decomposition of ``end - start``, largest first. An empty range has no nodes.
    """
    if not 0 <= start <= end:
        raise ValueError(f"[{start}, {end}) is not a range of leaves")
    width = end - start
    if width and start % (1 << (width - 1).bit_length()):
        raise ValueError(f"[{start}, {end}) is not aligned as an RFC 9162 subtree")
    nodes: list[NodeId] = []
    position = start
    for level in range(width.bit_length() - 1, -1, -1):
        if width >> level & 1:
            nodes.append((level, position >> level))
            position += 1 << level
    return nodes


def fold_range(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from the hashes of its ``range_nodes``: node(h1, node(h2, …))."""
    if not hashes:
        return EMPTY_ROOT
    folded = hashes[-1]
    for left in reversed(hashes[:-1]):
        folded = node_hash(left, folded)
    return folded


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs, in order, are RFC 9162's PATH(index, D[0:size])."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        middle = start + _split(end - start)
        if index < middle:
            ranges.append((middle, end))
            end = middle
        else:
            ranges.append((start, middle))
            start = middle
    ranges.reverse()
    return ranges


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs, in order, are RFC 9162's PROOF(first, D[0:second]);
    none when ``first`` is 0 or equals ``second``."""
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from size {first} to size {second}")
    if first in (0, second):
        return []
    ranges: list[tuple[int, int]] = []
    start, end, whole = 0, second, True
    while first != end:  # SUBPROOF(first - start, D[start:end], whole)
        middle = start + _split(end - start)
        if first <= middle:
            ranges.append((middle, end))
            end = middle
        else:
            ranges.append((start, middle))
            start, whole = middle, False
    if not whole:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def proof_nodes(ranges: Iterable[tuple[int, int]]) -> list[NodeId]:
    """Every stored node the MTHs of ``ranges`` need, each once, in first-use order."""
    return list(dict.fromkeys(node for r in ranges for node in range_nodes(*r)))


def assemble_proof(
    ranges: Iterable[tuple[int, int]], hashes: Mapping[NodeId, bytes]
) -> list[bytes]:
    """The proof whose elements are the MTHs of ``ranges``, from stored node hashes
    (``KeyError`` names a node that ``hashes`` lacks)."""
    return [fold_range([hashes[node] for node in range_nodes(*r)]) for r in ranges]


def root_from_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` gives for ``leaf_hash`` at ``index`` of a tree of ``size``
    leaves (RFC 9162 §2.1.3.2 steps 1-4); ``ProofError`` if it cannot be one."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not below the tree size {size}")
    _check_hashes("leaf hash", [leaf_hash])
    _check_hashes("proof element", proof)
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the path to the root")
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check RFC 9162 §2.1.3.2: ``proof`` shows the leaf hash at ``index`` is in the tree
    of ``size`` leaves whose root is ``root``. Raises ``ProofError`` otherwise."""
    _check_hashes("root", [root])
    if root_from_inclusion(leaf_hash, index, size, proof) != root:
        raise ProofError(f"the inclusion proof for leaf {index} does not lead to the root")


def verify_consistency(
    first: int, second: int, proof: Sequence[bytes], first_root: bytes, second_root: bytes
) -> None:
    """Check RFC 9162 §2.1.4.2: the tree of ``second`` leaves with root ``second_root``
    extends the tree of ``first`` leaves with root ``first_root``. Equal sizes need an
    empty proof and equal roots; from the empty tree (whose root is EMPTY_ROOT) every
    tree is an extension and only the empty proof is accepted. Raises ``ProofError``."""
    _check_hashes("root", [first_root, second_root])
    _check_hashes("proof element", proof)
    if not 0 <= first <= second:
        raise ProofError(f"no consistency proof from size {first} to size {second}")
    if first in (0, second):
        if proof:
            raise ProofError(f"a consistency proof from size {first} to {second} is empty")
        if first == 0 and first_root != EMPTY_ROOT:
            raise ProofError("the root of the empty tree is SHA-256 of nothing")
        if first == second and first_root != second_root:
            raise ProofError(f"two different roots for the tree of size {first}")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of two
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than it can be")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the consistency proof is shorter than it must be")
    if fr != first_root:
        raise ProofError(f"the consistency proof does not lead to the root of size {first}")
    if sr != second_root:
        raise ProofError(f"the consistency proof does not lead to the root of size {second}")


def _check_hashes(what: str, hashes: Iterable[bytes]) -> None:
    for value in hashes:
        if len(value) != HASH_SIZE:
            raise ProofError(f"a {what} must be {HASH_SIZE} bytes, not {len(value)}")


class CompactRange:
    """The right edge of a tree of ``size`` leaves: the hashes of ``range_nodes(0, size)``,
    largest subtree first. It is all an appender needs to grow the tree and give its root.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int, hashes: Sequence[bytes]) -> None:
        if size < 0:
            raise ValueError("a tree size is never negative")
        if len(hashes) != size.bit_count():
            raise ValueError(f"a tree of size {size} has {size.bit_count()} edge hashes")
        if any(len(h) != HASH_SIZE for h in hashes):
            raise ValueError(f"edge hashes are {HASH_SIZE} bytes")
        self._size = size
        self._hashes = list(hashes)

    @classmethod
    def empty(cls) -> CompactRange:
        return cls(0, [])

    @property
    def size(self) -> int:
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        return tuple(self._hashes)

    def nodes(self) -> list[NodeId]:
        """The ids of ``hashes``: ``range_nodes(0, size)``."""
        return range_nodes(0, self._size)

    def append(self, leaf_hashes: Sequence[bytes]) -> list[tuple[NodeId, bytes]]:
        """Add leaves (by hash) and return every complete subtree of level >= 1 they
        complete, bottom-up per leaf, for a store to persist beside the leaf hashes."""
        if any(len(h) != HASH_SIZE for h in leaf_hashes):
            raise ValueError(f"leaf hashes are {HASH_SIZE} bytes")
        completed: list[tuple[NodeId, bytes]] = []
        for value in leaf_hashes:
            size, node, level = self._size, value, 0
            while size >> level & 1:  # a complete subtree of this level waits on the left
                node = node_hash(self._hashes.pop(), node)
                level += 1
                completed.append(((level, size >> level), node))
            self._hashes.append(node)
            self._size = size + 1
        return completed

    def root(self) -> bytes:
        """MTH of the whole tree (EMPTY_ROOT when it is empty)."""
        return fold_range(self._hashes)

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size})"
