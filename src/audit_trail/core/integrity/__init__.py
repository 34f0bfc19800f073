"""Evidence for the tenant logs: canonical leaf bytes (RFC 8785), the Merkle tree and
its proofs (RFC 9162), and signed checkpoints (C2SP tlog-checkpoint, signed-note)."""

from audit_trail.core.integrity.canonical import canonical_json

__all__ = ["canonical_json"]
