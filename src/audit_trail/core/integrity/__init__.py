"""Evidence for the tenant logs: canonical leaf bytes (RFC 8785), the Merkle tree and
its proofs (RFC 9162), and signed checkpoints (C2SP tlog-checkpoint, signed-note)."""

from audit_trail.core.integrity.canonical import canonical_json
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
    root_from_inclusion,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "EMPTY_ROOT",
    "CompactRange",
    "NodeId",
    "ProofError",
    "assemble_proof",
    "canonical_json",
    "consistency_ranges",
    "fold_range",
    "inclusion_ranges",
    "leaf_hash",
    "node_hash",
    "proof_nodes",
    "range_nodes",
    "root",
    "root_from_inclusion",
    "verify_consistency",
    "verify_inclusion",
]
