"""RFC 9162 Merkle tree hashing written out with hashlib alone, to check what storage
keeps against: nothing here comes from the project's own integrity code."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

NodeId = tuple[int, int]


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def interior(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def tree_hash(hashes: Sequence[bytes]) -> bytes:
    """MTH (RFC 9162 §2.1.1) of the leaves whose leaf hashes are ``hashes``."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    split = 1 << ((len(hashes) - 1).bit_length() - 1)  # the largest power of 2 < n
    return interior(tree_hash(hashes[:split]), tree_hash(hashes[split:]))


def complete_subtrees(size: int) -> list[NodeId]:
    """Every (level, index) whose leaves ``[index << level, (index + 1) << level)`` all
    exist in a log of ``size`` leaves."""
    return [(level, index) for level in range(size.bit_length()) for index in range(size >> level)]


def subtree_hash(hashes: Sequence[bytes], node: NodeId) -> bytes:
    level, index = node
    return tree_hash(hashes[index << level : (index + 1) << level])


def decomposition(size: int) -> list[NodeId]:
    """The perfect subtrees a tree of ``size`` leaves splits into, left to right."""
    nodes, start = [], 0
    for level in reversed(range(size.bit_length())):
        if size >> level & 1:
            nodes.append((level, start >> level))
            start += 1 << level
    return nodes


def root_from(nodes: Mapping[NodeId, bytes], size: int) -> bytes:
    """The root of a tree of ``size`` leaves from the hashes of its decomposition."""
    parts = [nodes[node] for node in decomposition(size)]
    if not parts:
        return tree_hash([])
    root = parts[-1]
    for part in reversed(parts[:-1]):
        root = interior(part, root)
    return root
