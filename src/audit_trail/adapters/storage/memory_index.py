"""InMemoryQueryIndex: the QueryIndex of the in-memory storage, for tests and demos.

It keeps each tenant's index beside the InMemoryEntryRepository whose log it indexes;
like that repository, every method runs to completion without awaiting, so a write is
applied whole or not at all.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from audit_trail.core.index.keys import INDEX_KEY_BYTES
from audit_trail.core.ports.index import IndexHead, IndexWrite, LoggedChange, PostingHead


@dataclass(slots=True)
class _Index:
    key: bytes = field(default_factory=lambda: secrets.token_bytes(INDEX_KEY_BYTES))
    head: IndexHead | None = None
    postings: dict[bytes, list[bytes]] = field(default_factory=dict)
    posting_heads: dict[bytes, PostingHead] = field(default_factory=dict)
    map_nodes: dict[bytes, bytes] = field(default_factory=dict)


class _Changes(Protocol):
    def changes(self, tenant: str, start: int, end: int) -> list[LoggedChange]: ...


class InMemoryQueryIndex:
    def __init__(self, repository: _Changes) -> None:
        self._repository = repository
        self._tenants: dict[str, _Index] = {}

    def _of(self, tenant: str) -> _Index:
        index = self._tenants.get(tenant)
        if index is None:
            index = self._tenants[tenant] = _Index()
        return index

    async def index_key(self, tenant: str) -> bytes:
        return self._of(tenant).key

    async def head(self, tenant: str) -> IndexHead | None:
        return self._of(tenant).head

    async def changes(self, tenant: str, start: int, end: int) -> Sequence[LoggedChange]:
        return self._repository.changes(tenant, start, end)

    async def posting_heads(
        self, tenant: str, map_keys: Collection[bytes]
    ) -> Mapping[bytes, PostingHead]:
        heads = self._of(tenant).posting_heads
        return {key: heads[key] for key in map_keys if key in heads}

    async def postings(self, tenant: str, map_key: bytes, start: int, end: int) -> Sequence[bytes]:
        return self._of(tenant).postings.get(map_key, [])[max(start, 0) : max(end, 0)]

    async def map_nodes(self, tenant: str, ids: Collection[bytes]) -> Mapping[bytes, bytes]:
        nodes = self._of(tenant).map_nodes
        return {node: nodes[node] for node in ids if node in nodes}

    async def write(self, tenant: str, expected: IndexHead | None, write: IndexWrite) -> bool:
        index = self._of(tenant)
        if index.head != expected:
            return False
        for run in write.postings:
            postings = index.postings.setdefault(run.map_key, [])
            if run.start != len(postings):
                raise AssertionError(f"a run from {run.start} on a log of {len(postings)}")
            postings.extend(run.postings)
        index.posting_heads.update(write.posting_heads)
        for node_id, node in write.map_nodes.items():
            if node is None:
                index.map_nodes.pop(node_id, None)
            else:
                index.map_nodes[node_id] = node
        index.head = write.head
        return True

    async def set_leaf_index(self, tenant: str, covers: int, leaf_index: int) -> None:
        index = self._of(tenant)
        head = index.head
        if head is not None and head.covers == covers:
            index.head = IndexHead(head.covers, head.map_root, leaf_index)
