"""Range proofs over a posting log: postings ``[start, end)`` of a log of ``size``.

A posting log is an RFC 9162 tree, so a run of its postings is proven by the hashes
beside it: the complete subtrees of ``[0, start)`` (``left``, as
``merkle.range_nodes`` lists them) and the fewest complete subtrees that cover
``[end, size)`` (``right``, as ``aligned_nodes`` lists them). The verifier
grows a compact range from ``left``, appends the postings, then each subtree of
``right``, and folds it into the root, which must be the one the map proves. The whole
log (``start`` 0, ``end`` = ``size``) needs no hashes at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from audit_trail.core.integrity.merkle import (
    HASH_SIZE,
    ProofError,
    fold_range,
    node_hash,
    range_nodes,
)


@dataclass(frozen=True, slots=True)
class RangeProof:
    start: int
    end: int
    size: int
    left: tuple[bytes, ...]  # the subtrees of [0, start)
    right: tuple[bytes, ...]  # the subtrees of [end, size)


def range_root(proof: RangeProof, posting_hashes: Sequence[bytes]) -> bytes:
    """The root of the posting log that ``proof`` and the postings of ``[start, end)``
    (by hash, in order) make; ``ProofError`` when they cannot fit together."""
    start, end, size = proof.start, proof.end, proof.size
    if not 0 <= start <= end <= size:
        raise ProofError(f"no range [{start}, {end}) in a posting log of {size}")
    if len(posting_hashes) != end - start:
        raise ProofError(
            f"[{start}, {end}) holds {end - start} postings, not {len(posting_hashes)}"
        )
    left_nodes, right_nodes = range_nodes(0, start), aligned_nodes(end, size)
    if len(proof.left) != len(left_nodes) or len(proof.right) != len(right_nodes):
        raise ProofError(
            f"[{start}, {end}) of {size} takes {len(left_nodes)} hashes on the left and "
            f"{len(right_nodes)} on the right, not {len(proof.left)} and {len(proof.right)}"
        )
    for value in (*proof.left, *proof.right, *posting_hashes):
        if len(value) != HASH_SIZE:
            raise ProofError(f"hashes are {HASH_SIZE} bytes, not {len(value)}")
    edge = list(proof.left)
    at = start
    for value in posting_hashes:
        at = _append(edge, at, 0, value)
    for (level, _), value in zip(right_nodes, proof.right, strict=True):
        at = _append(edge, at, level, value)
    return fold_range(edge)


def _append(edge: list[bytes], size: int, level: int, value: bytes) -> int:
    """Append a complete subtree of ``level`` to the compact range ``edge`` of a tree of
    ``size`` leaves (``size`` a multiple of its width); returns the new size."""
    node, merged = value, level
    while size >> merged & 1:  # a subtree as wide waits on the left: join them
        node = node_hash(edge.pop(), node)
        merged += 1
    edge.append(node)
    return size + (1 << level)


def aligned_nodes(start: int, end: int) -> list[tuple[int, int]]:
    """The fewest complete subtrees ``(level, index)`` that cover ``[start, end)``, left
    to right: each as wide as its position's alignment and the range's rest allow."""
    if not 0 <= start <= end:
        raise ValueError(f"[{start}, {end}) is not a range of postings")
    nodes: list[tuple[int, int]] = []
    position = start
    while position < end:
        level = (position & -position).bit_length() - 1 if position else (end - 1).bit_length()
        while position + (1 << level) > end:
            level -= 1
        nodes.append((level, position >> level))
        position += 1 << level
    return nodes
