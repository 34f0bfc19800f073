"""The index leaf: how the tenant log commits the map (docs/query-proofs.md).

``{"v":1, "kind":"index", "tenant":T, "covers":n, "map_root":<base64>,
"key":<base64 SHA-256 of the index key, domain-separated>}``, as RFC 8785 JSON: the
map over the log's first ``covers`` leaves has this root, under this index key.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from audit_trail.core.index.keys import index_key_hash
from audit_trail.core.integrity.canonical import canonical_json
from audit_trail.core.integrity.leaf import LEAF_VERSION, b64
from audit_trail.core.integrity.merkle import HASH_SIZE, ProofError

INDEX_KIND = "index"


@dataclass(frozen=True, slots=True)
class IndexLeaf:
    tenant: str
    covers: int
    map_root: bytes
    key_hash: bytes

    def as_json(self) -> dict[str, Any]:
        return {
            "v": LEAF_VERSION,
            "kind": INDEX_KIND,
            "tenant": self.tenant,
            "covers": self.covers,
            "map_root": b64(self.map_root),
            "key": b64(self.key_hash),
        }

    def to_bytes(self) -> bytes:
        return canonical_json(self.as_json())


def index_leaf(tenant: str, covers: int, map_root: bytes, index_key: bytes) -> IndexLeaf:
    return IndexLeaf(tenant, covers, map_root, index_key_hash(index_key))


def parse_index_leaf(leaf: Mapping[str, Any]) -> IndexLeaf:
    """The index leaf a leaf object states; ``ProofError`` when it is not one."""
    if set(leaf) != {"v", "kind", "tenant", "covers", "map_root", "key"}:
        raise ProofError(f"not an index leaf: fields {sorted(leaf)}")
    covers = leaf["covers"]
    if leaf["v"] != LEAF_VERSION or leaf["kind"] != INDEX_KIND:
        raise ProofError(f"not an index leaf: v {leaf['v']!r}, kind {leaf['kind']!r}")
    if not isinstance(leaf["tenant"], str) or type(covers) is not int or covers < 0:
        raise ProofError("an index leaf names a tenant and covers a leaf count")
    return IndexLeaf(leaf["tenant"], covers, _hash(leaf["map_root"]), _hash(leaf["key"]))


def _hash(text: object) -> bytes:
    if not isinstance(text, str):
        raise ProofError("hashes are base64 strings")
    try:
        value = binascii.a2b_base64(text, strict_mode=True)
    except binascii.Error as exc:
        raise ProofError(f"bad base64: {exc}") from None
    if len(value) != HASH_SIZE:
        raise ProofError(f"hashes are {HASH_SIZE} bytes, not {len(value)}")
    return value
