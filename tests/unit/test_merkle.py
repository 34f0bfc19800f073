"""The RFC 9162 Merkle tree: the transparency-dev/merkle test vectors, and properties of
proofs served from the nodes a CompactRange produces."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit_trail.core.integrity.merkle import (
    EMPTY_ROOT,
    CompactRange,
    NodeId,
    ProofError,
    assemble_proof,
    consistency_ranges,
    fold_range,
    inclusion_ranges,
    leaf_hash,
    node_hash,
    proof_nodes,
    range_nodes,
    root,
    verify_consistency,
    verify_inclusion,
)

h = bytes.fromhex

# --- vectors: transparency-dev/merkle testonly/constants.go and cmd/proofgen/main.go ---
LEAF_INPUTS = [
    h(""),
    h("00"),
    h("10"),
    h("2021"),
    h("3031"),
    h("40414243"),
    h("5051525354555657"),
    h("606162636465666768696a6b6c6d6e6f"),
]
NODE_HASHES = [
    [
        h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        h("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
        h("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        h("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
        h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        h("46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
    ],
    [
        h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    ],
    [
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ],
    [h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")],
]
ROOTS = [  # by tree size, 0..8
    h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]
NH = NODE_HASHES
COMPACT_TREES = [
    [],
    [NH[0][0]],
    [NH[1][0]],
    [NH[1][0], NH[0][2]],
    [NH[2][0]],
    [NH[2][0], NH[0][4]],
    [NH[2][0], NH[1][2]],
    [NH[2][0], NH[1][2], NH[0][6]],
    [NH[3][0]],
]
# (leaf index, tree size, proof); proofgen numbers leaves from 1, these from 0.
INCLUSION_PROOFS: list[tuple[int, int, list[bytes]]] = [
    (0, 1, []),
    (
        0,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        5,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        1,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
]
CONSISTENCY_PROOFS: list[tuple[int, int, list[bytes]]] = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]
SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")
LEAF_HASHES = [leaf_hash(leaf) for leaf in LEAF_INPUTS]


def stored_nodes(leaf_hashes: Sequence[bytes]) -> dict[NodeId, bytes]:
    """What a store keeps: the leaf hashes (level 0) and every node CompactRange completes."""
    nodes: dict[NodeId, bytes] = {(0, i): value for i, value in enumerate(leaf_hashes)}
    nodes.update(CompactRange.empty().append(leaf_hashes))
    return nodes


VECTOR_NODES = stored_nodes(LEAF_HASHES)


def flip(value: bytes, bit: int = 3) -> bytes:
    return bytes([value[0] ^ (1 << bit)]) + value[1:]


# --- hashing and roots ---


def test_leaf_hashes_and_complete_subtrees_match_the_vectors() -> None:
    assert NODE_HASHES[0] == LEAF_HASHES
    for level, row in enumerate(NODE_HASHES):
        for index, expected in enumerate(row):
            assert VECTOR_NODES[(level, index)] == expected


@pytest.mark.parametrize("size", range(9))
def test_roots_of_sizes_0_to_8(size: int) -> None:
    assert root(LEAF_HASHES[:size]) == ROOTS[size]
    compact = CompactRange.empty()
    compact.append(LEAF_HASHES[:size])
    assert compact.size == size
    assert list(compact.hashes) == COMPACT_TREES[size]
    assert compact.root() == ROOTS[size]
    assert fold_range([VECTOR_NODES[n] for n in range_nodes(0, size)]) == ROOTS[size]


def test_empty_root_and_node_hash() -> None:
    assert ROOTS[0] == EMPTY_ROOT
    assert node_hash(NH[0][0], NH[0][1]) == NH[1][0]
    assert CompactRange.empty().root() == EMPTY_ROOT


# --- the vectors' proofs, and transparency-dev's corruptions of each ---


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_PROOFS)
def test_inclusion_proof_vectors(index: int, size: int, proof: list[bytes]) -> None:
    assert assemble_proof(inclusion_ranges(index, size), VECTOR_NODES) == proof
    verify_inclusion(LEAF_HASHES[index], index, size, proof, ROOTS[size])


def inclusion_corruptions(
    index: int, size: int, leaf: bytes, proof: list[bytes], good_root: bytes
) -> list[tuple[str, int, int, bytes, list[bytes], bytes]]:
    bad = [
        ("index - 1", index - 1, size, leaf, proof, good_root),
        ("index + 1", index + 1, size, leaf, proof, good_root),
        ("index ^ 2", index ^ 2, size, leaf, proof, good_root),
        ("size * 2", index, size * 2, leaf, proof, good_root),
        ("size / 2", index, size // 2, leaf, proof, good_root),
        ("wrong leaf", index, size, b"WrongLeaf", proof, good_root),
        ("empty root", index, size, leaf, proof, EMPTY_ROOT),
        ("random root", index, size, leaf, proof, SOME_HASH),
        ("trailing garbage", index, size, leaf, [*proof, b""], good_root),
        ("trailing root", index, size, leaf, [*proof, good_root], good_root),
        ("preceding garbage", index, size, leaf, [b"", *proof], good_root),
        ("preceding root", index, size, leaf, [good_root, *proof], good_root),
    ]
    for i in range(len(proof)):
        changed = [flip(p) if j == i else p for j, p in enumerate(proof)]
        bad.append((f"modified proof[{i}]", index, size, leaf, changed, good_root))
    if proof:
        bad.append(("removed component", index, size, leaf, proof[:-1], good_root))
    if len(proof) > 1:
        bad.append(
            ("inserted component", index, size, leaf, [proof[0], SOME_HASH, *proof[1:]], good_root)
        )
    return bad


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case[1:], id=f"{index},{size}: {case[0]}")
        for index, size, proof in INCLUSION_PROOFS
        for case in inclusion_corruptions(index, size, LEAF_HASHES[index], proof, ROOTS[size])
    ],
)
def test_corrupted_inclusion_proofs_are_refused(
    case: tuple[int, int, bytes, list[bytes], bytes],
) -> None:
    index, size, leaf, proof, expected_root = case
    with pytest.raises(ProofError):
        verify_inclusion(leaf, index, size, proof, expected_root)


@pytest.mark.parametrize(
    ("index", "size", "leaf", "expected_root"),
    [
        (0, 1, leaf_hash(b"data"), b""),  # single entry: empty root
        (0, 1, b"", leaf_hash(b"data")),  # empty leaf
        (0, 1, b"", b""),
        *[
            (index, size, leaf, expected_root)
            for index, size in [(0, 0), (0, 1), (1, 0), (2, 1)]
            for leaf, expected_root in [
                (SOME_HASH, b""),
                (b"", EMPTY_ROOT),
                (SOME_HASH, EMPTY_ROOT),
            ]
        ],
    ],
)
def test_static_inclusion_probes_are_refused(
    index: int, size: int, leaf: bytes, expected_root: bytes
) -> None:
    with pytest.raises(ProofError):
        verify_inclusion(leaf, index, size, [], expected_root)


def test_a_single_entry_tree_has_an_empty_inclusion_proof() -> None:
    only = leaf_hash(b"data")
    verify_inclusion(only, 0, 1, [], only)
    assert inclusion_ranges(0, 1) == []


@pytest.mark.parametrize(("first", "second", "proof"), CONSISTENCY_PROOFS)
def test_consistency_proof_vectors(first: int, second: int, proof: list[bytes]) -> None:
    assert assemble_proof(consistency_ranges(first, second), VECTOR_NODES) == proof
    verify_consistency(first, second, proof, ROOTS[first], ROOTS[second])


def consistency_corruptions(
    first: int, second: int, proof: list[bytes], root1: bytes, root2: bytes
) -> list[tuple[str, int, int, list[bytes], bytes, bytes]]:
    bad = [
        ("first - 1", first - 1, second, proof, root1, root2),
        ("first + 1", first + 1, second, proof, root1, root2),
        ("first ^ 2", first ^ 2, second, proof, root1, root2),
        ("second * 2", first, second * 2, proof, root1, root2),
        ("second / 2", first, second // 2, proof, root1, root2),
        ("wrong root1", first, second, proof, b"WrongRoot", root2),
        ("wrong root2", first, second, proof, root1, b"WrongRoot"),
        ("swapped roots", first, second, proof, root2, root1),
        ("empty proof", first, second, [], root1, root2),
        ("trailing garbage", first, second, [*proof, b""], root1, root2),
        ("trailing root1", first, second, [*proof, root1], root1, root2),
        ("trailing root2", first, second, [*proof, root2], root1, root2),
        ("preceding garbage", first, second, [b"", *proof], root1, root2),
        ("preceding root1", first, second, [root1, *proof], root1, root2),
        ("preceding root2", first, second, [root2, *proof], root1, root2),
        ("preceding proof[0]", first, second, [proof[0], *proof], root1, root2),
        ("truncated proof", first, second, proof[:-1], root1, root2),
    ]
    for i in range(len(proof)):
        changed = [flip(p, 4) if j == i else p for j, p in enumerate(proof)]
        bad.append((f"modified proof[{i}]", first, second, changed, root1, root2))
    return bad


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case[1:], id=f"{first},{second}: {case[0]}")
        for first, second, proof in CONSISTENCY_PROOFS
        if proof
        for case in consistency_corruptions(first, second, proof, ROOTS[first], ROOTS[second])
    ],
)
def test_corrupted_consistency_proofs_are_refused(
    case: tuple[int, int, list[bytes], bytes, bytes],
) -> None:
    first, second, proof, root1, root2 = case
    with pytest.raises(ProofError):
        verify_consistency(first, second, proof, root1, root2)


R1, R2 = b"don't care 1", b"don't care 2"


@pytest.mark.parametrize(
    ("first", "second", "root1", "root2", "proof"),
    [
        (0, 0, R1, R2, []),
        (1, 1, R1, R2, []),
        (0, 0, R1, R1, []),
        (0, 1, R1, R2, []),
        (1, 0, R1, R2, []),
        (2, 1, R1, R2, []),
        (1, 2, R1, R2, []),
        (0, 0, EMPTY_ROOT, R2, []),
        (1, 1, EMPTY_ROOT, R2, []),
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]),
        (1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]),
        (0, 1, EMPTY_ROOT, R2, []),
        (0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]),
        # Ours, beyond the static probes: valid-looking roots, impossible claims.
        (1, 1, ROOTS[1], ROOTS[2], []),
        (2, 1, ROOTS[2], ROOTS[1], []),
        (0, 3, ROOTS[1], ROOTS[3], []),  # from size 0 the first root is the empty root
        (3, 3, ROOTS[3], ROOTS[3], [ROOTS[3]]),
    ],
)
def test_static_consistency_probes_are_refused(
    first: int, second: int, root1: bytes, root2: bytes, proof: list[bytes]
) -> None:
    with pytest.raises(ProofError):
        verify_consistency(first, second, proof, root1, root2)


@pytest.mark.parametrize("size", range(9))
def test_equal_sizes_and_the_empty_tree_need_an_empty_proof(size: int) -> None:
    verify_consistency(size, size, [], ROOTS[size], ROOTS[size])
    # transparency-dev refuses size 0 altogether; RFC 9162 defines no proof from it, and
    # every tree extends the empty one: we accept the empty proof, from the empty root.
    verify_consistency(0, size, [], EMPTY_ROOT, ROOTS[size])
    assert consistency_ranges(size, size) == consistency_ranges(0, size) == []


# --- ranges ---


def test_range_nodes() -> None:
    assert range_nodes(0, 0) == []
    assert range_nodes(0, 7) == [(2, 0), (1, 2), (0, 6)]
    assert range_nodes(8, 13) == [(2, 2), (0, 12)]
    assert range_nodes(6, 8) == [(1, 3)]
    assert proof_nodes([(0, 7), (4, 7), (6, 8)]) == [(2, 0), (1, 2), (0, 6), (1, 3)]


@pytest.mark.parametrize(("start", "end"), [(1, 3), (2, 5), (4, 9), (3, 2), (-1, 0)])
def test_range_nodes_refuses_ranges_no_proof_uses(start: int, end: int) -> None:
    with pytest.raises(ValueError, match=r"range|aligned"):
        range_nodes(start, end)


@pytest.mark.parametrize(("index", "size"), [(0, 0), (3, 3), (-1, 4)])
def test_inclusion_ranges_refuse_a_leaf_outside_the_tree(index: int, size: int) -> None:
    with pytest.raises(ValueError, match="not in a tree"):
        inclusion_ranges(index, size)


def test_consistency_ranges_refuse_a_shrinking_tree() -> None:
    with pytest.raises(ValueError, match="no consistency proof"):
        consistency_ranges(5, 4)


def test_assemble_proof_names_a_missing_node() -> None:
    with pytest.raises(KeyError):
        assemble_proof(inclusion_ranges(0, 16), VECTOR_NODES)


def test_compact_range_checks_its_shape() -> None:
    with pytest.raises(ValueError, match="edge hashes"):
        CompactRange(3, [NH[1][0]])
    with pytest.raises(ValueError, match="32 bytes"):
        CompactRange(1, [b"short"])
    with pytest.raises(ValueError, match="32 bytes"):
        CompactRange.empty().append([b"short"])
    resumed = CompactRange(3, COMPACT_TREES[3])
    assert resumed.append(LEAF_HASHES[3:5]) == [((1, 1), NH[1][1]), ((2, 0), NH[2][0])]
    assert resumed.hashes == (NH[2][0], NH[0][4])
    assert resumed.nodes() == [(2, 0), (0, 4)]


# --- properties: reference PATH/PROOF from RFC 9162's definitions, over leaf hashes ---


def ref_mth(d: Sequence[bytes]) -> bytes:
    if not d:
        return EMPTY_ROOT
    if len(d) == 1:
        return d[0]
    k = 1 << ((len(d) - 1).bit_length() - 1)
    return node_hash(ref_mth(d[:k]), ref_mth(d[k:]))


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = 1 << ((len(d) - 1).bit_length() - 1)
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], whole: bool) -> list[bytes]:
    if m == len(d):
        return [] if whole else [ref_mth(d)]
    k = 1 << ((len(d) - 1).bit_length() - 1)
    if m <= k:
        return [*ref_subproof(m, d[:k], whole), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def grown(leaves: Sequence[bytes], batches: Sequence[int]) -> dict[NodeId, bytes]:
    """The nodes a store holds after appending ``leaves`` in batches of the given sizes."""
    compact = CompactRange.empty()
    nodes: dict[NodeId, bytes] = {(0, i): value for i, value in enumerate(leaves)}
    position = 0
    for batch in [*batches, len(leaves)]:
        chunk = leaves[position : position + batch]
        position += len(chunk)
        for node, value in compact.append(chunk):
            assert node not in nodes
            nodes[node] = value
    assert compact.size == len(leaves)
    return nodes


TREE_LEAVES = [leaf_hash(i.to_bytes(4, "big")) for i in range(320)]
sizes = st.integers(min_value=1, max_value=300)


@st.composite
def tree_and_index(draw: st.DrawFn) -> tuple[int, int, int, dict[NodeId, bytes]]:
    total = draw(sizes)
    size = draw(st.integers(min_value=1, max_value=total))
    index = draw(st.integers(min_value=0, max_value=size - 1))
    batches = draw(st.lists(st.integers(min_value=1, max_value=40), max_size=10))
    return total, size, index, grown(TREE_LEAVES[:total], batches)


@settings(max_examples=200, deadline=None)
@given(tree_and_index())
def test_inclusion_proofs_from_stored_nodes_verify(
    case: tuple[int, int, int, dict[NodeId, bytes]],
) -> None:
    total, size, index, nodes = case
    leaves = TREE_LEAVES[:total]
    good_root = ref_mth(leaves[:size])
    proof = assemble_proof(inclusion_ranges(index, size), nodes)
    assert proof == ref_path(index, leaves[:size])
    assert len(proof_nodes(inclusion_ranges(index, size))) <= 2 * size.bit_length()  # O(log n)
    verify_inclusion(leaves[index], index, size, proof, good_root)

    def refused(lh: bytes, i: int, n: int, p: Sequence[bytes], r: bytes) -> None:
        with pytest.raises(ProofError):
            verify_inclusion(lh, i, n, p, r)

    refused(flip(leaves[index]), index, size, proof, good_root)
    refused(leaves[index], index, size, proof, flip(good_root))
    for i in range(len(proof)):
        refused(
            leaves[index], index, size, [*proof[:i], flip(proof[i]), *proof[i + 1 :]], good_root
        )
    for other in {index - 1, index + 1, index ^ 1}:
        if 0 <= other < size and other != index:
            refused(leaves[index], other, size, proof, good_root)
    for other in {size - 1, size + 1, size * 2, size // 2}:
        if index < other <= total and other != size:
            # The proof binds the size through the root: against the other size's root,
            # it fails unless it is that tree's proof too.
            if ref_path(index, leaves[:other]) != proof:
                refused(leaves[index], index, other, proof, ref_mth(leaves[:other]))
            if len(inclusion_ranges(index, other)) != len(proof):
                refused(leaves[index], index, other, proof, good_root)


@st.composite
def tree_and_sizes(draw: st.DrawFn) -> tuple[int, int, int, dict[NodeId, bytes]]:
    total = draw(sizes)
    second = draw(st.integers(min_value=1, max_value=total))
    first = draw(st.integers(min_value=1, max_value=second))
    batches = draw(st.lists(st.integers(min_value=1, max_value=40), max_size=10))
    return total, first, second, grown(TREE_LEAVES[:total], batches)


@settings(max_examples=200, deadline=None)
@given(tree_and_sizes())
def test_consistency_proofs_from_stored_nodes_verify(
    case: tuple[int, int, int, dict[NodeId, bytes]],
) -> None:
    total, first, second, nodes = case
    leaves = TREE_LEAVES[:total]
    root1, root2 = ref_mth(leaves[:first]), ref_mth(leaves[:second])
    proof = assemble_proof(consistency_ranges(first, second), nodes)
    assert len(proof_nodes(consistency_ranges(first, second))) <= 2 * second.bit_length()
    assert proof == (ref_subproof(first, leaves[:second], True) if first < second else [])
    verify_consistency(first, second, proof, root1, root2)

    def refused(m: int, n: int, p: Sequence[bytes], r1: bytes, r2: bytes) -> None:
        with pytest.raises(ProofError):
            verify_consistency(m, n, p, r1, r2)

    refused(first, second, proof, flip(root1), root2)
    refused(first, second, proof, root1, flip(root2))
    for i in range(len(proof)):
        refused(first, second, [*proof[:i], flip(proof[i]), *proof[i + 1 :]], root1, root2)
    if proof:
        refused(first, second, proof[:-1], root1, root2)
        refused(first, second, [*proof, proof[-1]], root1, root2)
    for other in {first - 1, first + 1}:
        if 0 < other <= second and other != first:
            other_proof = assemble_proof(consistency_ranges(other, second), nodes)
            if other_proof != proof:
                refused(other, second, proof, ref_mth(leaves[:other]), root2)
    for other in {second - 1, second + 1}:
        if first <= other <= total and other != second:
            other_proof = assemble_proof(consistency_ranges(first, other), nodes)
            if other_proof != proof:
                refused(first, other, proof, root1, ref_mth(leaves[:other]))


def test_compact_range_root_and_nodes_for_every_size() -> None:
    compact = CompactRange.empty()
    nodes: dict[NodeId, bytes] = {}
    for size in range(1, 301):
        nodes.update(compact.append([TREE_LEAVES[size - 1]]))
        assert compact.root() == root(TREE_LEAVES[:size]) == ref_mth(TREE_LEAVES[:size])
        assert compact.hashes == tuple(
            ref_mth(TREE_LEAVES[a << lvl : (a + 1) << lvl]) for lvl, a in range_nodes(0, size)
        )
        assert CompactRange(size, compact.hashes).root() == compact.root()
    complete = {(lvl, i) for lvl in range(1, 9) for i in range(300 >> lvl)}
    assert set(nodes) == complete
    for (lvl, i), value in nodes.items():
        assert value == ref_mth(TREE_LEAVES[i << lvl : (i + 1) << lvl])
