"""LogTree: roots and RFC 9162 proofs of a tenant log, from the subtree hashes storage keeps.

Every answer costs one ``node_hashes`` call, whatever the size of the log: a proof
needs the complete subtrees that make up each of its O(log n) ranges, and no more.
"""

from __future__ import annotations

from collections.abc import Sequence

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
from audit_trail.core.ports.log import TenantLog


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

    async def _fetch(self, tenant: str, nodes: Sequence[NodeId]) -> dict[NodeId, bytes]:
        if not nodes:
            return {}
        hashes = dict(await self._log.node_hashes(tenant, nodes))
        missing = [node for node in nodes if node not in hashes]
        if missing:
            raise LogDamaged(f"the log lacks the hashes of subtrees {missing[:3]} (level, index)")
        return hashes
