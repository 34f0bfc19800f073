"""LogTree: roots and RFC 9162 proofs of a tenant log, from the subtree hashes storage keeps.

Every answer costs one ``node_hashes`` call, whatever the size of the log: a proof
needs the complete subtrees that make up each of its O(log n) ranges, and no more.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from audit_trail.core.errors import LogDamaged, LogRangeError
from audit_trail.core.integrity.merkle import (
    EMPTY_ROOT,
    NodeId,
    assemble_proof,
    consistency_ranges,
    fold_range,
    inclusion_ranges,
    proof_nodes,
    range_nodes,
)
from audit_trail.core.integrity.multiproof import complement_ranges
from audit_trail.core.ports.log import TenantLog

COMPLEMENT_BATCH = 1000  # stored nodes per read of an export's complement


class LogTree:
    def __init__(self, log_store: TenantLog) -> None:
        self._log = log_store

    async def root(self, tenant: str, size: int) -> bytes:
        """The root of the tenant's tree of ``size`` leaves."""
        if size == 0:
            return EMPTY_ROOT
        nodes = range_nodes(0, size)
        hashes = await self._fetch(tenant, nodes)
        return fold_range([hashes[node] for node in nodes])

    async def inclusion(self, tenant: str, index: int, size: int) -> list[bytes]:
        """The inclusion proof of leaf ``index`` in the tree of ``size`` leaves."""
        if not 0 <= index < size:
            raise LogRangeError(f"leaf {index} is not in a tree of {size} leaves")
        ranges = inclusion_ranges(index, size)
        return assemble_proof(ranges, await self._fetch(tenant, proof_nodes(ranges)))

    async def consistency(self, tenant: str, first: int, second: int) -> list[bytes]:
        """The consistency proof from the tree of ``first`` leaves to that of ``second``."""
        if not 0 <= first <= second:
            raise LogRangeError(f"no consistency proof from size {first} to size {second}")
        ranges = consistency_ranges(first, second)
        return assemble_proof(ranges, await self._fetch(tenant, proof_nodes(ranges)))

    async def complement(
        self, tenant: str, size: int, indices: Sequence[int], batch: int = COMPLEMENT_BATCH
    ) -> AsyncIterator[list[bytes]]:
        """The hashes of the complement of ``indices`` (strictly increasing, below
        ``size``) in the tree of ``size`` leaves (``core.integrity.multiproof``), in
        order, a list at a time: one ``node_hashes`` call per ``batch`` stored nodes."""
        ranges: list[tuple[int, int]] = []
        nodes: list[NodeId] = []
        for span in complement_ranges(size, indices):
            ranges.append(span)
            nodes.extend(range_nodes(*span))
            if len(nodes) >= batch:
                yield assemble_proof(ranges, await self._fetch(tenant, nodes))
                ranges, nodes = [], []
        if ranges:
            yield assemble_proof(ranges, await self._fetch(tenant, nodes))

    async def _fetch(self, tenant: str, nodes: Sequence[NodeId]) -> dict[NodeId, bytes]:
        if not nodes:
            return {}
        hashes = dict(await self._log.node_hashes(tenant, nodes))
        missing = [node for node in nodes if node not in hashes]
        if missing:
            raise LogDamaged(f"the log lacks the hashes of subtrees {missing[:3]} (level, index)")
        return hashes
