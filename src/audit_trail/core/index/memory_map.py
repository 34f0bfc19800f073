"""InMemoryMapStore: the map's two tables (core.index.map) in dicts, for a map that
lives only in memory (the full audit's replay, tests)."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from audit_trail.core.index.map import EMPTY, MapValue
from audit_trail.core.index.map_update import MapUpdate


class InMemoryMapStore:
    """A ``MapStore``: encoded internal nodes by id, values by key, and the root the
    last applied update gave (the head record a durable store keeps beside them)."""

    def __init__(self) -> None:
        self.root = EMPTY
        self.node_records: dict[bytes, bytes] = {}
        self.value_records: dict[bytes, MapValue] = {}

    async def nodes(self, ids: Collection[bytes]) -> Mapping[bytes, bytes]:
        return {nid: self.node_records[nid] for nid in ids if nid in self.node_records}

    async def values(self, keys: Collection[bytes]) -> Mapping[bytes, MapValue]:
        return {key: self.value_records[key] for key in keys if key in self.value_records}

    def apply(self, update: MapUpdate) -> None:
        """Write what ``update`` says (a node of None is deleted) and take its root."""
        for nid, data in update.nodes.items():
            if data is None:
                self.node_records.pop(nid, None)
            else:
                self.node_records[nid] = data
        self.value_records.update(update.values)
        self.root = update.root
