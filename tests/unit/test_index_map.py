"""The map: a compact sparse Merkle tree over 32-byte keys (docs/query-proofs.md, "The
map"), its stored form, updates and proofs read level by level, and proof checking."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Collection, Coroutine, Mapping
from dataclasses import replace
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit_trail.core.index.map import (
    EMPTY,
    EMPTY_CHILD,
    ROOT_ID,
    SINGLE_ID,
    InternalNode,
    LeafChild,
    MapLeaf,
    MapProof,
    MapValue,
    NodeChild,
    decode_node,
    encode_node,
    map_root,
    node_id,
    proof_from_json,
    proof_to_json,
    verify_map_proof,
)
from audit_trail.core.index.map_cache import MapNodeCache
from audit_trail.core.index.map_update import (
    TURN,
    MapDamaged,
    MapStore,
    prove,
    prove_many,
    update_map,
)
from audit_trail.core.index.memory_map import InMemoryMapStore
from audit_trail.core.integrity.merkle import ProofError

T = TypeVar("T")
BASE = hashlib.sha256(b"base key").digest()


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def flip(key: bytes, position: int) -> bytes:
    """``key`` with bit ``position`` (MSB first) flipped."""
    out = bytearray(key)
    out[position // 8] ^= 0x80 >> (position % 8)
    return bytes(out)


def sha(*parts: bytes) -> bytes:
    return hashlib.sha256(b"".join(parts)).digest()


random_keys = st.binary(min_size=32, max_size=32)
# keys sharing long prefixes with BASE: paths ~255 deep
close_keys = st.one_of(
    st.integers(0, 255).map(lambda i: flip(BASE, i)),
    st.integers(0, 2**10 - 1).map(
        lambda n: BASE[:-2] + (n ^ int.from_bytes(BASE[-2:])).to_bytes(2)
    ),
    st.just(BASE),
)
keys = st.one_of(random_keys, close_keys)
values = st.builds(MapValue, st.integers(0, 2**64 - 1), st.binary(min_size=32, max_size=32))


class CountingStore:
    """A MapStore that counts its calls."""

    def __init__(self, inner: MapStore) -> None:
        self.inner = inner
        self.node_calls = 0
        self.value_calls = 0

    async def nodes(self, ids: Collection[bytes]) -> Mapping[bytes, bytes]:
        self.node_calls += 1
        return await self.inner.nodes(ids)

    async def values(self, keys: Collection[bytes]) -> Mapping[bytes, MapValue]:
        self.value_calls += 1
        return await self.inner.values(keys)


def tree_depth(store: InMemoryMapStore) -> int:
    """How many depths hold internal nodes."""
    return max((nid[0] + 1 for nid in store.node_records if nid), default=0)


def apply(store: InMemoryMapStore, updates: Mapping[bytes, MapValue]) -> None:
    store.apply(run(update_map(store, store.root, updates)))


def value(n: int) -> MapValue:
    return MapValue(n, sha(n.to_bytes(8, "big")))


# ---- the format, pinned by hand ----------------------------------------------------

K0 = bytes(32)  # bits 0.. all 0
K1 = b"\x20" + bytes(31)  # bit 2 is 1: K0 and K1 part at depth 2
V0, V1 = MapValue(3, b"\x11" * 32), MapValue(2**40, b"\x22" * 32)


def test_two_keys_hash_and_prove_as_the_formulas_say() -> None:
    leaf0 = sha(b"\x02", K0, (3).to_bytes(8, "big"), b"\x11" * 32)
    leaf1 = sha(b"\x02", K1, (2**40).to_bytes(8, "big"), b"\x22" * 32)
    depth2 = sha(b"\x03", leaf0, leaf1)
    depth1 = sha(b"\x03", depth2, bytes(32))
    root = sha(b"\x03", depth1, bytes(32))
    assert map_root({K0: V0, K1: V1}) == root
    assert map_root({K1: V1}) == leaf1
    assert map_root({}) == EMPTY == bytes(32)

    store = InMemoryMapStore()
    apply(store, {K0: V0, K1: V1})
    assert store.root == root
    assert store.node_records == {
        b"\x00": b"\x02" + depth1 + b"\x00",
        b"\x01\x00": b"\x02" + depth2 + b"\x00",
        b"\x02\x00": b"\x01" + K0 + leaf0 + b"\x01" + K1 + leaf1,
    }
    proof = run(prove(store, root, K1))
    assert proof == MapProof((None, None, leaf0), MapLeaf(K1, V1))
    assert proof_to_json(proof) == {
        "siblings": [None, None, base64.b64encode(leaf0).decode()],
        "leaf": {"key": base64.b64encode(K1).decode(), "size": 2**40, "root": "IiIi" * 10 + "IiI="},
    }
    assert verify_map_proof(root, K1, proof) == V1
    absent = b"\x40" + bytes(31)  # bit 1 is 1: the empty subtree beside depth 1
    assert run(prove(store, root, absent)) == MapProof((None, depth2), None)
    assert verify_map_proof(root, absent, run(prove(store, root, absent))) is None


def test_node_ids_keep_the_depth_and_the_key_bits_above_it() -> None:
    key = b"\xff" * 32
    assert node_id(key, 0) == ROOT_ID == b"\x00"
    assert node_id(key, 1) == b"\x01\x80"
    assert node_id(key, 8) == b"\x08\xff"
    assert node_id(key, 9) == b"\x09\xff\x80"
    assert node_id(key, 255) == b"\xff" + b"\xff" * 31 + b"\xfe"
    with pytest.raises(ValueError, match="depths"):
        node_id(key, 256)
    with pytest.raises(ValueError, match="32 bytes"):
        node_id(key[:31], 3)


def test_a_map_of_one_key_keeps_it_in_the_one_key_record_until_a_second_arrives() -> None:
    store = InMemoryMapStore()
    apply(store, {K0: V0})
    leaf = LeafChild(K0, map_root({K0: V0}))
    assert store.node_records == {SINGLE_ID: encode_node(InternalNode(leaf, EMPTY_CHILD))}
    assert verify_map_proof(store.root, K0, run(prove(store, store.root, K0))) == V0
    assert verify_map_proof(store.root, K1, run(prove(store, store.root, K1))) is None
    apply(store, {K0: V1})
    assert store.root == map_root({K0: V1})
    update = run(update_map(store, store.root, {K1: V1}))
    assert update.nodes[SINGLE_ID] is None
    store.apply(update)
    assert SINGLE_ID not in store.node_records
    assert store.root == map_root({K0: V1, K1: V1})


def test_nodes_encode_as_tagged_slots_and_decode_strictly() -> None:
    node = InternalNode(LeafChild(K1, b"\x01" * 32), NodeChild(b"\x02" * 32))
    data = encode_node(node)
    assert data == b"\x01" + K1 + b"\x01" * 32 + b"\x02" + b"\x02" * 32
    assert decode_node(data) == node
    assert decode_node(b"\x00\x00") == InternalNode(EMPTY_CHILD, EMPTY_CHILD)
    for bad in (
        b"",
        b"\x00",
        b"\x00\x03",
        data[:-1],
        data + b"\x00",
        b"\x02" + bytes(31) + b"\x00",
    ):
        with pytest.raises(ValueError, match="map node"):
            decode_node(bad)


# ---- the stored map agrees with the definition -------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.dictionaries(keys, values, max_size=12), min_size=1, max_size=4),
    st.lists(keys, max_size=4),
)
def test_batches_of_updates_keep_the_root_and_the_proofs_of_the_definition(
    batches: list[dict[bytes, MapValue]], probes: list[bytes]
) -> None:
    store = InMemoryMapStore()
    items: dict[bytes, MapValue] = {}
    for batch in batches:
        apply(store, batch)
        items.update(batch)
        assert store.root == map_root(items)
        assert store.value_records == items
        proofs = run(prove_many(store, store.root, [*items, *probes]))
        for key, item in items.items():
            assert verify_map_proof(store.root, key, proofs[key]) == item
            assert json_round_trip(proofs[key]) == proofs[key]
        for key in probes:
            expected = items.get(key)
            assert verify_map_proof(store.root, key, proofs[key]) == expected
            assert run(prove(store, store.root, key)) == proofs[key]


def json_round_trip(proof: MapProof) -> MapProof:
    return proof_from_json(json.loads(json.dumps(proof_to_json(proof))))


# ---- forgeries ---------------------------------------------------------------------


def forgeries(proof: MapProof, byte: int) -> list[MapProof]:
    """Every proof one change away from ``proof``."""
    found: list[MapProof] = []
    siblings = proof.siblings
    for at, sibling in enumerate(siblings):
        changed = bytearray(sibling or EMPTY)
        changed[byte] ^= 0x01
        found.append(replace(proof, siblings=(*siblings[:at], bytes(changed), *siblings[at + 1 :])))
    found += [
        replace(proof, siblings=siblings[:-1]),
        replace(proof, siblings=siblings[1:]),
        replace(proof, siblings=(*siblings, None)),
        replace(proof, siblings=(*siblings, BASE)),
        replace(proof, siblings=(None, *siblings)),
        replace(proof, siblings=(BASE, *siblings)),
    ]
    if proof.leaf is None:
        found.append(replace(proof, leaf=MapLeaf(BASE, value(1))))
    else:
        leaf = proof.leaf
        key = bytearray(leaf.key)
        key[byte] ^= 0x01
        size = leaf.value.size ^ 1
        root = bytearray(leaf.value.root)
        root[byte] ^= 0x80
        found += [
            replace(proof, leaf=None),
            replace(proof, leaf=MapLeaf(bytes(key), leaf.value)),
            replace(proof, leaf=MapLeaf(leaf.key, MapValue(size, leaf.value.root))),
            replace(proof, leaf=MapLeaf(leaf.key, MapValue(leaf.value.size, bytes(root)))),
        ]
    return [forged for forged in found if forged != proof]


@settings(max_examples=25, deadline=None)
@given(
    st.dictionaries(keys, values, min_size=2, max_size=10),
    st.lists(random_keys, min_size=1, max_size=2),
    st.integers(0, 31),
    st.binary(min_size=32, max_size=32),
)
def test_a_changed_proof_or_another_root_never_verifies(
    items: dict[bytes, MapValue], absent: list[bytes], byte: int, other_root: bytes
) -> None:
    store = InMemoryMapStore()
    apply(store, items)
    proofs = run(prove_many(store, store.root, [*items, *absent]))
    for key, proof in proofs.items():
        for forged in forgeries(proof, byte):
            with pytest.raises(ProofError):
                verify_map_proof(store.root, key, forged)
        if other_root != store.root:
            with pytest.raises(ProofError, match="map root"):
                verify_map_proof(other_root, key, proof)
    for key in items:  # a neighbour's proof never shows a present key absent
        for other in items:
            if other != key:
                with pytest.raises(ProofError):
                    verify_map_proof(store.root, key, proofs[other])


def test_impossible_proofs_say_why() -> None:
    store = InMemoryMapStore()
    apply(store, {K0: V0, K1: V1})
    proof = run(prove(store, store.root, K0))
    cases: list[tuple[bytes, bytes, MapProof, str]] = [
        (store.root[:31], K0, proof, "map root is 32 bytes"),
        (store.root, K0[:31], proof, "map key is 32 bytes"),
        (store.root, K0, MapProof((BASE,) * 257, None), "at most 256 siblings"),
        (store.root, K0, replace(proof, siblings=(None, None, b"\x01")), "siblings are 32 bytes"),
        (store.root, K0, replace(proof, siblings=(None, None, EMPTY)), "last sibling is empty"),
        (store.root, b"\x80" + bytes(31), proof, "does not share the first 3 bits"),
    ]
    for map_root_, key, bad, message in cases:
        with pytest.raises(ProofError, match=message):
            verify_map_proof(map_root_, key, bad)
    assert verify_map_proof(EMPTY, K0, MapProof((), None)) is None
    with pytest.raises(ProofError, match="map root"):
        verify_map_proof(store.root, K0, MapProof((), None))


# ---- reads stay level by level -----------------------------------------------------


def test_two_thousand_keys_update_and_prove_in_a_call_per_depth() -> None:
    keys_ = [sha(b"key", n.to_bytes(4, "big")) for n in range(3000)]
    memory = InMemoryMapStore()
    counted = CountingStore(memory)
    memory.apply(run(update_map(counted, EMPTY, {key: value(1) for key in keys_[:2000]})))
    assert (counted.node_calls, counted.value_calls) == (0, 0)  # nothing to read
    depth = tree_depth(memory)
    assert 15 <= depth <= 40

    batch = {key: value(2) for key in keys_[1000:3000]}  # 1000 changed, 1000 new
    memory.apply(run(update_map(counted, memory.root, batch)))
    assert counted.node_calls <= depth + 1
    assert counted.value_calls == 0
    assert memory.root == map_root({**{key: value(1) for key in keys_[:1000]}, **batch})

    counted.node_calls = 0
    proofs = run(prove_many(counted, memory.root, keys_[:2000]))
    assert counted.node_calls <= tree_depth(memory) + 1
    assert counted.value_calls == 1
    assert all(verify_map_proof(memory.root, key, proofs[key]) for key in keys_[:2000])

    for key in keys_[:5]:
        counted.node_calls = counted.value_calls = 0
        proof = run(prove(counted, memory.root, key))
        assert (counted.node_calls, counted.value_calls) == (len(proof.siblings), 1)


def test_adversarial_keys_make_a_path_of_every_depth() -> None:
    near = flip(BASE, 255)
    store = InMemoryMapStore()
    apply(store, {BASE: V0, near: V1})
    assert tree_depth(store) == 256
    assert len(store.node_records) == 256
    proof = run(prove(store, store.root, near))
    assert len(proof.siblings) == 256
    assert verify_map_proof(store.root, near, proof) == V1
    assert json_round_trip(proof) == proof


def test_a_store_that_lost_or_changed_a_node_is_damaged() -> None:
    store = InMemoryMapStore()
    apply(store, {K0: V0, K1: V1})
    depth2 = node_id(K0, 2)
    saved = store.node_records.pop(depth2)
    with pytest.raises(MapDamaged, match="lacks its node"):
        run(prove(store, store.root, K0))
    store.node_records[depth2] = saved[:-1] + bytes([saved[-1] ^ 1])
    with pytest.raises(MapDamaged, match="does not hash"):
        run(update_map(store, store.root, {K0: V1}))
    store.node_records[depth2] = saved
    del store.value_records[K0]
    with pytest.raises(MapDamaged, match="lacks the value"):
        run(prove(store, store.root, K0))
    with pytest.raises(MapDamaged):
        run(prove(InMemoryMapStore(), store.root, K0))


# ---- JSON ----------------------------------------------------------------------------

GOOD_KEY = base64.b64encode(K0).decode()
GOOD_HASH = base64.b64encode(b"\x01" * 32).decode()


@pytest.mark.parametrize(
    "obj",
    [
        None,
        [],
        {"siblings": []},
        {"siblings": [], "leaf": None, "extra": 1},
        {"siblings": None, "leaf": None},
        {"siblings": [1], "leaf": None},
        {"siblings": [GOOD_HASH[:-1]], "leaf": None},
        {"siblings": [GOOD_HASH.replace("A", "-")], "leaf": None},
        {"siblings": [GOOD_HASH + "\n"], "leaf": None},
        {"siblings": [base64.b64encode(b"\x01" * 31).decode()], "leaf": None},
        {"siblings": [base64.b64encode(EMPTY).decode()], "leaf": None},
        {"siblings": [GOOD_HASH] * 257, "leaf": None},
        {"siblings": [], "leaf": []},
        {"siblings": [], "leaf": {"key": GOOD_KEY, "size": 1}},
        {"siblings": [], "leaf": {"key": GOOD_KEY, "size": 1, "root": GOOD_HASH, "x": 0}},
        {"siblings": [], "leaf": {"key": GOOD_HASH[:-4], "size": 1, "root": GOOD_HASH}},
        {"siblings": [], "leaf": {"key": GOOD_KEY, "size": True, "root": GOOD_HASH}},
        {"siblings": [], "leaf": {"key": GOOD_KEY, "size": -1, "root": GOOD_HASH}},
        {"siblings": [], "leaf": {"key": GOOD_KEY, "size": 2**64, "root": GOOD_HASH}},
        {"siblings": [], "leaf": {"key": GOOD_KEY, "size": 1.0, "root": GOOD_HASH}},
        {"siblings": [], "leaf": {"key": GOOD_KEY, "size": "1", "root": GOOD_HASH}},
        {"siblings": [], "leaf": {"key": GOOD_KEY, "size": 1, "root": None}},
        {"siblings": [], "leaf": {"key": GOOD_KEY, "size": 1, "root": "é"}},
    ],
)
def test_malformed_json_proofs_are_refused(obj: object) -> None:
    with pytest.raises(ProofError):
        proof_from_json(obj)


def test_json_proofs_round_trip() -> None:
    proof = MapProof((None, b"\x01" * 32), MapLeaf(K0, MapValue(0, b"\x01" * 32)))
    as_json = {
        "siblings": [None, GOOD_HASH],
        "leaf": {"key": GOOD_KEY, "size": 0, "root": GOOD_HASH},
    }
    assert proof_to_json(proof) == as_json
    assert proof_from_json(as_json) == proof
    assert proof_from_json({"siblings": [], "leaf": None}) == MapProof((), None)


# ---- what an integrator keeps between updates, and the turns it gives ------------------


def test_an_update_given_the_nodes_it_knows_reads_none_of_them_and_writes_the_same() -> None:
    keys_ = [sha(b"key", n.to_bytes(4, "big")) for n in range(1500)]
    memory = InMemoryMapStore()
    first = run(update_map(memory, EMPTY, {key: value(1) for key in keys_[:1000]}))
    memory.apply(first)
    cache = MapNodeCache()
    cache.remember("acme", EMPTY, first.root, first.tree)

    batch = {key: value(2) for key in keys_[500:1500]}  # 500 changed, 500 new
    counted = CountingStore(memory)
    blind = run(update_map(counted, memory.root, batch))
    blind_calls, counted.node_calls = counted.node_calls, 0
    knowing = run(update_map(counted, memory.root, batch, known=cache.nodes("acme", first.root)))
    assert (knowing.root, knowing.nodes) == (blind.root, blind.nodes)
    assert blind_calls > 0
    assert counted.node_calls == 0  # every path of the batch lies in the first one's tree

    memory.apply(knowing)
    cache.remember("acme", first.root, knowing.root, knowing.tree)
    again = {key: value(3) for key in keys_[::7]}
    assert run(update_map(counted, memory.root, again, known=cache.nodes("acme", memory.root))) == (
        run(update_map(memory, memory.root, again))
    )
    assert counted.node_calls == 0


def test_a_large_update_lets_other_tasks_run_while_it_merges() -> None:
    keys_ = [sha(b"key", n.to_bytes(4, "big")) for n in range(4000)]

    async def scenario() -> tuple[int, int]:
        ticks = 0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        before = ticks
        await update_map(InMemoryMapStore(), EMPTY, {key: value(1) for key in keys_})
        during = ticks - before
        done.set()
        await task
        return during, len(keys_) // TURN

    during, pieces = run(scenario())
    assert during >= pieces  # the loop turned at least once per TURN leaves merged
