"""MapNodeCache: the map nodes an integrator wrote, for its next update of that map."""

from __future__ import annotations

import pytest

from audit_trail.core.index.map import EMPTY_CHILD, InternalNode, LeafChild
from audit_trail.core.index.map_cache import MapNodeCache

R0, R1, R2 = bytes(32), b"\x01" * 32, b"\x02" * 32


def node(n: int) -> InternalNode:
    return InternalNode(LeafChild(n.to_bytes(32, "big"), bytes(32)), EMPTY_CHILD)


def ids(depth: int, count: int) -> list[bytes]:
    return [bytes([depth]) + n.to_bytes(4, "big") for n in range(count)]


def test_it_answers_only_for_the_root_it_was_told_the_map_is_at() -> None:
    cache = MapNodeCache()
    cache.remember("acme", R0, R1, {b"\x00": node(1)})
    assert cache.nodes("acme", R1) == {b"\x00": node(1)}
    assert cache.nodes("acme", R2) == {}  # another writer moved the map
    assert cache.nodes("globex", R1) == {}


def test_a_change_from_its_root_adds_to_what_it_keeps_and_one_from_another_starts_over() -> None:
    cache = MapNodeCache()
    cache.remember("acme", R0, R1, {b"\x00": node(1), b"\x01\x00": node(2)})
    cache.remember("acme", R1, R2, {b"\x00": node(3)})
    assert cache.nodes("acme", R2) == {b"\x00": node(3), b"\x01\x00": node(2)}
    cache.remember("acme", R1, R0, {b"\x01\x80": node(4)})  # not from R2: the rest is stale
    assert cache.nodes("acme", R0) == {b"\x01\x80": node(4)}
    cache.forget("acme")
    assert cache.nodes("acme", R0) == {}


def test_past_its_bound_it_drops_the_tenants_used_longest_ago_then_the_deepest_nodes() -> None:
    cache = MapNodeCache(max_nodes=10)
    cache.remember("old", R0, R1, dict.fromkeys(ids(3, 4), node(0)))
    cache.remember("new", R0, R1, dict.fromkeys(ids(2, 4), node(0)))
    cache.nodes("old", R1)  # used again: now "new" is the one used longest ago
    cache.remember("third", R0, R1, dict.fromkeys(ids(1, 4), node(0)))
    assert cache.nodes("new", R1) == {}
    assert len(cache.nodes("old", R1)) == len(cache.nodes("third", R1)) == 4

    cache.remember("big", R0, R1, dict.fromkeys(ids(9, 8) + ids(1, 4), node(0)))
    assert len(cache) == 10
    kept = cache.nodes("big", R1)
    assert set(ids(1, 4)) <= set(kept)  # the upper levels stay
    assert cache.nodes("old", R1) == cache.nodes("third", R1) == {}


def test_it_holds_at_least_one_node() -> None:
    with pytest.raises(ValueError, match="at least one"):
        MapNodeCache(max_nodes=0)
