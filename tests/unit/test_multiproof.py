"""The multi-leaf inclusion proof of an export's trailer, against a naive full-tree
computation written with hashlib alone (tests/contracts/rfc9162.py)."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Mapping, Sequence
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit_trail.adapters.storage.memory import InMemoryEntryRepository
from audit_trail.core.integrity.merkle import NodeId, ProofError, range_nodes
from audit_trail.core.integrity.multiproof import complement_ranges, multiproof_root
from audit_trail.core.ledger.tree import LogTree
from audit_trail.core.ports.log import LogRecord, TenantLog
from tests.contracts.rfc9162 import leaf_hash, tree_hash


def _leaves(size: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(size)]


def _naive_complement(start: int, end: int, chosen: set[int]) -> list[tuple[int, int]]:
    inside = [i for i in range(start, end) if i in chosen]
    if not inside:
        return [(start, end)]
    if len(inside) == end - start:
        return []
    split = 1 << ((end - start - 1).bit_length() - 1)
    return _naive_complement(start, start + split, chosen) + _naive_complement(
        start + split, end, chosen
    )


@st.composite
def trees(draw: st.DrawFn) -> tuple[int, list[int]]:
    size = draw(st.integers(min_value=0, max_value=300))
    chosen = draw(st.sets(st.integers(min_value=0, max_value=max(size - 1, 0)))) if size else set()
    return size, sorted(chosen)


@settings(max_examples=300, deadline=None)
@given(trees())
def test_any_subset_of_any_tree_rebuilds_the_root(tree: tuple[int, list[int]]) -> None:
    size, indices = tree
    leaves = _leaves(size)
    ranges = list(complement_ranges(size, indices))
    expected = _naive_complement(0, size, set(indices)) if size else []
    assert ranges == expected
    complement = [tree_hash(leaves[start:end]) for start, end in ranges]
    chosen = [leaves[i] for i in indices]
    assert multiproof_root(size, indices, chosen, complement) == tree_hash(leaves)


@settings(max_examples=200, deadline=None)
@given(trees(), st.data())
def test_a_changed_dropped_or_added_leaf_does_not_give_the_root(
    tree: tuple[int, list[int]], data: st.DataObject
) -> None:
    size, indices = tree
    if not indices:
        return
    leaves = _leaves(size)
    complement = [tree_hash(leaves[s:e]) for s, e in complement_ranges(size, indices)]
    chosen = [leaves[i] for i in indices]
    position = data.draw(st.integers(min_value=0, max_value=len(indices) - 1))
    edited = list(chosen)
    edited[position] = hashlib.sha256(b"forged").digest()
    assert multiproof_root(size, indices, edited, complement) != tree_hash(leaves)
    dropped = indices[:position] + indices[position + 1 :]
    kept = chosen[:position] + chosen[position + 1 :]
    with contextlib.suppress(ProofError):
        assert multiproof_root(size, dropped, kept, complement) != tree_hash(leaves)


def test_every_leaf_exported_needs_no_complement() -> None:
    leaves = _leaves(11)
    assert list(complement_ranges(11, range(11))) == []
    assert multiproof_root(11, list(range(11)), leaves, []) == tree_hash(leaves)


def test_no_leaf_exported_is_the_root_alone() -> None:
    assert list(complement_ranges(6, [])) == [(0, 6)]
    assert multiproof_root(0, [], [], []) == tree_hash([])


@pytest.mark.parametrize(
    ("indices", "why"),
    [([3, 3], "not above"), ([4, 2], "not above"), ([9], "not below the tree size")],
)
def test_indices_out_of_order_or_range_are_refused(indices: list[int], why: str) -> None:
    with pytest.raises(ProofError, match=why):
        multiproof_root(8, indices, _leaves(len(indices)), [])


def test_a_complement_too_short_or_too_long_is_refused() -> None:
    leaves = _leaves(8)
    complement = [tree_hash(leaves[s:e]) for s, e in complement_ranges(8, [2])]
    with pytest.raises(ProofError, match="too short"):
        multiproof_root(8, [2], [leaves[2]], complement[:-1])
    with pytest.raises(ProofError, match="too long"):
        multiproof_root(8, [2], [leaves[2]], [*complement, leaves[0]])


class _Counting:
    """A memory log that counts its ``node_hashes`` calls."""

    def __init__(self) -> None:
        self.store = InMemoryEntryRepository()
        self.calls = 0

    async def node_hashes(self, tenant: str, nodes: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        self.calls += 1
        return await self.store.node_hashes(tenant, nodes)


@pytest.mark.parametrize("batch", [1, 3, 1000])
async def test_the_stored_tree_serves_the_complement_in_batches(batch: int) -> None:
    log = _Counting()
    leaves = [i.to_bytes(4, "big") for i in range(37)]
    records = [LogRecord(leaf=leaf, leaf_hash=leaf_hash(leaf)) for leaf in leaves]
    await log.store.commit("t", [records[:20], records[20:]])
    tree = LogTree(cast(TenantLog, log))
    indices = [0, 5, 6, 17, 31, 36]
    served = [h async for part in tree.complement("t", 37, indices, batch) for h in part]
    hashes = [records[i].leaf_hash for i in range(37)]
    expected = [tree_hash(hashes[s:e]) for s, e in complement_ranges(37, indices)]
    assert served == expected
    assert multiproof_root(37, indices, [hashes[i] for i in indices], served) == tree_hash(hashes)
    nodes = sum(len(range_nodes(s, e)) for s, e in complement_ranges(37, indices))
    assert log.calls == (len(expected) if batch == 1 else -(-nodes // batch))
