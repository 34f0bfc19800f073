"""A multi-leaf inclusion proof: a set of leaves of an RFC 9162 tree, and the hashes of
the subtrees that cover every other leaf, give the root (docs/lifecycle.md, "Export").

The tree of ``size`` leaves is split as RFC 9162 §2.1.1 splits it (a range of ``n > 1``
leaves at the largest power of two ``k < n``). The *complement* of a set of leaf
indices is the list of the maximal ranges of that split holding none of them, left to
right: a range holding no leaf of the set is one element of the complement (its MTH),
a range holding all of them contributes nothing, any other range is split again. The
root is then MTH of the split with each complement range replaced by its hash and each
leaf of the set by its leaf hash.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence

from audit_trail.core.integrity.merkle import EMPTY_ROOT, ProofError, _split, node_hash


def complement_ranges(size: int, indices: Sequence[int]) -> Iterator[tuple[int, int]]:
    """The complement's ranges ``[start, end)``, left to right, of ``indices`` (strictly
    increasing, each below ``size``) in the tree of ``size`` leaves."""
    _check_indices(size, indices)
    if size == 0:
        return
    stack = [(0, size, 0, len(indices))]  # a range and the slice of indices inside it
    while stack:
        start, end, low, high = stack.pop()
        if low == high:
            yield start, end
        elif high - low != end - start:
            middle = start + _split(end - start)
            cut = bisect_left(indices, middle, low, high)
            stack.append((middle, end, cut, high))  # popped after the left half
            stack.append((start, middle, low, cut))


def multiproof_root(
    size: int, indices: Sequence[int], leaf_hashes: Sequence[bytes], complement: Sequence[bytes]
) -> bytes:
    """The root of the tree of ``size`` leaves whose leaves at ``indices`` (strictly
    increasing) hash to ``leaf_hashes`` (in the same order), with ``complement`` the
    hashes of the complement ranges in order. ``ProofError`` if they cannot make one
    (an index out of order or range, a complement too short or too long)."""
    if len(indices) != len(leaf_hashes):
        raise ProofError(f"{len(indices)} leaf indices but {len(leaf_hashes)} leaf hashes")
    try:
        _check_indices(size, indices)
    except ValueError as exc:
        raise ProofError(str(exc)) from None
    if size == 0:
        if complement:
            raise ProofError("the empty tree has no complement")
        return EMPTY_ROOT
    used = 0

    def mth(start: int, end: int, low: int, high: int) -> bytes:
        nonlocal used
        if low == high:
            if used == len(complement):
                raise ProofError(f"the complement is too short: {used} hashes")
            used += 1
            return complement[used - 1]
        if end - start == 1:
            return leaf_hashes[low]
        middle = start + _split(end - start)
        cut = bisect_left(indices, middle, low, high)
        return node_hash(mth(start, middle, low, cut), mth(middle, end, cut, high))

    result = mth(0, size, 0, len(indices))
    if used != len(complement):
        raise ProofError(f"the complement is too long: {len(complement)} hashes, {used} used")
    return result


def _check_indices(size: int, indices: Sequence[int]) -> None:
    if size < 0:
        raise ValueError("a tree size is never negative")
    previous = -1
    for index in indices:
        if index <= previous:
            raise ValueError(f"leaf index {index} is not above the one before it ({previous})")
        previous = index
    if previous >= size:
        raise ValueError(f"leaf index {previous} is not below the tree size {size}")
