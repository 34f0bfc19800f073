"""MapNodeCache: the map nodes an integrator last wrote, kept to skip reading them back.

An integration reads the paths of its keys through the map, and the next integration
of the same tenant reads most of them again (the upper levels always). When the map's
root is still the one this process wrote, its nodes are exactly the ones this process
computed: a map is a function of its content, and its nodes' ids are their places in
it. So the cache answers only for that root; any other root (another process moved
the map, or a write was lost) finds it empty.

It is bounded: at most ``max_nodes`` nodes over all tenants. Past that it drops the
tenants integrated longest ago, then, for the one tenant left, its deepest nodes (the
upper levels are the ones every integration shares).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

from audit_trail.core.index.map import InternalNode

DEFAULT_MAX_NODES = 65_536  # about 25 MB of decoded nodes


class MapNodeCache:
    def __init__(self, max_nodes: int = DEFAULT_MAX_NODES) -> None:
        if max_nodes < 1:
            raise ValueError("a map node cache holds at least one node")
        self._max_nodes = max_nodes
        self._tenants: OrderedDict[str, tuple[bytes, dict[bytes, InternalNode]]] = OrderedDict()

    def nodes(self, tenant: str, root: bytes) -> Mapping[bytes, InternalNode]:
        """The nodes kept of ``tenant``'s map of ``root`` (empty for any other root)."""
        kept = self._tenants.get(tenant)
        if kept is None or kept[0] != root:
            return {}
        self._tenants.move_to_end(tenant)
        return kept[1]

    def remember(
        self, tenant: str, before: bytes, after: bytes, tree: Mapping[bytes, InternalNode]
    ) -> None:
        """``tenant``'s map went from root ``before`` to ``after``, and ``tree`` holds the
        nodes the change read or wrote, as the map of ``after`` has them."""
        kept = self._tenants.pop(tenant, None)
        earlier = kept[1] if kept is not None and kept[0] == before else {}
        # a new dict: an integration still reading the old one (to find its write lost
        # to this one) never sees nodes of another root
        self._tenants[tenant] = (after, {**earlier, **tree})
        self._bound()

    def forget(self, tenant: str) -> None:
        self._tenants.pop(tenant, None)

    def __len__(self) -> int:
        return sum(len(nodes) for _, nodes in self._tenants.values())

    def _bound(self) -> None:
        total = len(self)
        while total > self._max_nodes and len(self._tenants) > 1:
            _, (_, dropped) = self._tenants.popitem(last=False)
            total -= len(dropped)
        if total <= self._max_nodes:
            return
        ((_, nodes),) = self._tenants.values()
        deepest = sorted(nodes, key=lambda nid: nid[0])  # a node id starts with its depth
        for nid in deepest[self._max_nodes :]:
            del nodes[nid]
