"""Updating and proving the map through a ``MapStore`` (the stored form is in ``map``).

Both read the tree level by level: one ``MapStore.nodes`` call per depth, for every
key of the batch at once, asking for the root node and the one-key record together.
A read goes down a key's path only while the slot on it is a ``NodeChild``; so a batch
takes as many node calls as the deepest internal node on its paths has depth, plus one.
Updating reads no leaf values (a ``LeafChild`` carries the key and leaf hash it must
split against); proving reads the values of the leaves it reaches in one more call.
Every node read is checked against the hash its parent (or the root) gives it.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from audit_trail.core.errors import LogDamaged
from audit_trail.core.index.map import (
    EMPTY,
    EMPTY_CHILD,
    KEY_SIZE,
    ROOT_ID,
    SINGLE_ID,
    Child,
    Empty,
    InternalNode,
    LeafChild,
    MapLeaf,
    MapProof,
    MapValue,
    NodeChild,
    bit,
    check_key,
    decode_node,
    encode_node,
    leaf_hash,
    node_id,
)
from audit_trail.core.integrity.merkle import HASH_SIZE

TURN = 128  # leaves merged between two turns of the event loop


class MapStore(Protocol):
    """The two tables of a stored map: encoded internal nodes by id, values by key."""

    async def nodes(self, ids: Collection[bytes]) -> Mapping[bytes, bytes]:
        """The encoded nodes of those ids that exist."""
        ...

    async def values(self, keys: Collection[bytes]) -> Mapping[bytes, MapValue]:
        """The values of those keys that exist."""
        ...


@dataclass(frozen=True, slots=True)
class MapUpdate:
    """The map after an update: its root and the records to write (a node of None is
    a record to delete; values are only ever set), and ``tree``: every internal node
    the update read or wrote, as the new map holds it (what a ``known`` may reuse)."""

    root: bytes
    nodes: dict[bytes, bytes | None]
    values: dict[bytes, MapValue]
    tree: dict[bytes, InternalNode] = field(default_factory=dict)


class MapDamaged(LogDamaged):
    """The map's store lacks a node or value its root needs, or holds one that does
    not hash to what its parent says."""


async def update_map(
    store: MapStore,
    root: bytes,
    updates: Mapping[bytes, MapValue],
    *,
    known: Mapping[bytes, InternalNode] | None = None,
) -> MapUpdate:
    """Set the values of ``updates`` (new keys or new values of present keys) in the map
    whose root is ``root`` (``EMPTY`` for the empty map): the new root and the writes
    that make the store hold it. Writes nothing itself; ``ValueError`` for a bad key or
    value, ``MapDamaged`` when the store does not hold the map of ``root``.

    ``known`` holds internal nodes of the map of ``root`` that the caller already has
    (an earlier update's ``tree``, when the map has not moved since): they are used as
    they are, neither read from the store nor checked."""
    for key, value in updates.items():
        check_key(key)
        if not isinstance(value, MapValue):
            raise ValueError("map values are MapValues")
    if not updates:
        return MapUpdate(root, {}, {})
    leaves = sorted((key, leaf_hash(key, value)) for key, value in updates.items())
    top, loaded = await _load(store, root, [key for key, _ in leaves], known or {})
    built: dict[bytes, InternalNode] = {}
    new_top = await _merge_in_turns(0, top, leaves, loaded, built)
    writes: dict[bytes, bytes | None] = {nid: encode_node(node) for nid, node in built.items()}
    if isinstance(new_top, LeafChild):
        writes[SINGLE_ID] = encode_node(InternalNode(new_top, EMPTY_CHILD))
    elif isinstance(top, LeafChild):
        writes[SINGLE_ID] = None
    loaded.update(built)
    return MapUpdate(new_top.hash, writes, dict(updates), loaded)


async def prove(store: MapStore, root: bytes, key: bytes) -> MapProof:
    """The proof of ``key``'s value or absence in the map of ``root`` (see
    ``prove_many``)."""
    return (await prove_many(store, root, [key]))[key]


async def prove_many(store: MapStore, root: bytes, keys: Iterable[bytes]) -> dict[bytes, MapProof]:
    """A proof per key, of its value or absence in the map whose root is ``root``,
    reading the paths of all keys together; ``ValueError`` for a bad key,
    ``MapDamaged`` when the store does not hold the map of ``root``."""
    wanted = sorted(set(keys))
    for key in wanted:
        check_key(key)
    if not wanted:
        return {}
    top, loaded = await _load(store, root, wanted, {})
    paths: dict[bytes, tuple[tuple[bytes | None, ...], Child]] = {}
    for key in wanted:
        siblings: list[bytes | None] = []
        child, depth = top, 0
        while isinstance(child, NodeChild):
            node = loaded[node_id(key, depth)]
            child, beside = (node.right, node.left) if bit(key, depth) else (node.left, node.right)
            siblings.append(None if isinstance(beside, Empty) else beside.hash)
            depth += 1
        paths[key] = (tuple(siblings), child)
    leaf_keys = {child.key for _, child in paths.values() if isinstance(child, LeafChild)}
    values = await store.values(leaf_keys) if leaf_keys else {}
    proofs: dict[bytes, MapProof] = {}
    for key, (siblings_of_key, child) in paths.items():
        leaf = None
        if isinstance(child, LeafChild):
            value = values.get(child.key)
            if value is None or leaf_hash(child.key, value) != child.hash:
                raise MapDamaged(f"the map lacks the value its leaf {child.key.hex()} hashes")
            leaf = MapLeaf(child.key, value)
        proofs[key] = MapProof(siblings_of_key, leaf)
    return proofs


async def _load(
    store: MapStore, root: bytes, keys: list[bytes], known: Mapping[bytes, InternalNode]
) -> tuple[Child, dict[bytes, InternalNode]]:
    """The root's slot and every internal node on the paths of ``keys`` (sorted), by id:
    those of ``known`` as they are, the others with one ``store.nodes`` call per depth."""
    if not isinstance(root, bytes) or len(root) != HASH_SIZE:
        raise ValueError(f"a map root is {HASH_SIZE} bytes")
    if root == EMPTY:
        return EMPTY_CHILD, {}
    found = {} if ROOT_ID in known else await store.nodes([ROOT_ID, SINGLE_ID])
    if ROOT_ID not in known and ROOT_ID not in found and SINGLE_ID in found:  # one key
        only = _decode(SINGLE_ID, found[SINGLE_ID])
        if not isinstance(only.left, LeafChild) or only != InternalNode(only.left, EMPTY_CHILD):
            raise MapDamaged("the map's one-key record is not one leaf")
        if only.left.hash != root:
            raise MapDamaged("the map's one-key record does not hash to its root")
        return only.left, {}
    loaded: dict[bytes, InternalNode] = {}
    frontier: dict[bytes, tuple[bytes, list[bytes]]] = {ROOT_ID: (root, keys)}
    depth = 0
    while True:
        below: dict[bytes, tuple[bytes, list[bytes]]] = {}
        for nid, (expected, group) in frontier.items():
            node = known.get(nid)
            if node is None:
                if nid not in found:
                    raise MapDamaged(f"the map lacks its node {nid.hex()}")
                node = _decode(nid, found[nid])
                if node.hash != expected:
                    raise MapDamaged(f"the map's node {nid.hex()} does not hash to its parent's")
            loaded[nid] = node
            cut = bisect_left(group, _first_one(group[0], depth))
            for part, child in ((group[:cut], node.left), (group[cut:], node.right)):
                if part and isinstance(child, NodeChild):
                    below[node_id(part[0], depth + 1)] = (child.hash, part)
        if not below:
            return NodeChild(root), loaded
        frontier, depth = below, depth + 1
        unknown = [nid for nid in below if nid not in known]
        found = await store.nodes(unknown) if unknown else {}


def _decode(nid: bytes, data: bytes) -> InternalNode:
    try:
        return decode_node(data)
    except ValueError as error:
        raise MapDamaged(f"the map's node {nid.hex()} is malformed: {error}") from None


def _first_one(key: bytes, depth: int) -> bytes:
    """The least key that shares ``key``'s first ``depth`` bits and has bit ``depth``
    set: in keys sorted and sharing those bits, the ones from it on have bit 1."""
    at, shift = divmod(depth, 8)
    byte = key[at] & (0xFF << (8 - shift)) & 0xFF | 0x80 >> shift
    return key[:at] + bytes((byte,)) + bytes(KEY_SIZE - at - 1)


def _cut(leaves: list[tuple[bytes, bytes]], depth: int) -> int:
    """Where, in leaves sorted by key and sharing their first ``depth`` bits, bit
    ``depth`` of the key turns 1."""
    return bisect_left(leaves, (_first_one(leaves[0][0], depth),))


async def _merge_in_turns(
    depth: int,
    child: Child,
    leaves: list[tuple[bytes, bytes]],
    loaded: Mapping[bytes, InternalNode],
    built: dict[bytes, InternalNode],
) -> Child:
    """``_merge``, letting the event loop run after each subtree of at most ``TURN``
    leaves: a large update is a few milliseconds at a time, not one long stall."""
    if len(leaves) <= TURN:
        merged = _merge(depth, child, leaves, loaded, built)
        await asyncio.sleep(0)
        return merged
    nid, left, right, leaves = _opened(depth, child, leaves, loaded)
    cut = _cut(leaves, depth)
    if cut:
        left = await _merge_in_turns(depth + 1, left, leaves[:cut], loaded, built)
    if cut < len(leaves):
        right = await _merge_in_turns(depth + 1, right, leaves[cut:], loaded, built)
    return _store(nid, InternalNode(left, right), built)


def _merge(
    depth: int,
    child: Child,
    leaves: list[tuple[bytes, bytes]],
    loaded: Mapping[bytes, InternalNode],
    built: dict[bytes, InternalNode],
) -> Child:
    """The slot at ``depth`` after setting ``leaves`` (sorted ``(key, leaf hash)``, at
    least one) in it."""
    if not isinstance(child, NodeChild):
        return _build(depth, _joined(child, leaves), built)
    nid, left, right, leaves = _opened(depth, child, leaves, loaded)
    cut = _cut(leaves, depth)
    if cut:
        left = _merge(depth + 1, left, leaves[:cut], loaded, built)
    if cut < len(leaves):
        right = _merge(depth + 1, right, leaves[cut:], loaded, built)
    return _store(nid, InternalNode(left, right), built)


def _opened(
    depth: int,
    child: Child,
    leaves: list[tuple[bytes, bytes]],
    loaded: Mapping[bytes, InternalNode],
) -> tuple[bytes, Child, Child, list[tuple[bytes, bytes]]]:
    """The slot at ``depth``, which setting ``leaves`` makes (or keeps) an internal node:
    its id, its two children as they are (a stored node's, or empty ones), and the
    leaves to set in them (with the slot's own key, when it held one)."""
    nid = node_id(leaves[0][0], depth)
    if isinstance(child, NodeChild):
        node = loaded[nid]
        return nid, node.left, node.right, leaves
    return nid, EMPTY_CHILD, EMPTY_CHILD, _joined(child, leaves)


def _joined(child: Child, leaves: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``leaves`` and the key a slot of one key holds, unless they set it anew."""
    if isinstance(child, LeafChild) and all(key != child.key for key, _ in leaves):
        return sorted([*leaves, (child.key, child.hash)])
    return leaves


def _build(
    depth: int, leaves: list[tuple[bytes, bytes]], built: dict[bytes, InternalNode]
) -> Child:
    """The slot at ``depth`` holding ``leaves`` (sorted ``(key, leaf hash)``), and only them."""
    if not leaves:
        return EMPTY_CHILD
    if len(leaves) == 1:
        return LeafChild(*leaves[0])
    cut = _cut(leaves, depth)
    node = InternalNode(
        _build(depth + 1, leaves[:cut], built), _build(depth + 1, leaves[cut:], built)
    )
    return _store(node_id(leaves[0][0], depth), node, built)


def _store(nid: bytes, node: InternalNode, built: dict[bytes, InternalNode]) -> NodeChild:
    built[nid] = node
    return NodeChild(node.hash)
