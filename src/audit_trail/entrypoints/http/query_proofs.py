"""The JSON of a query proof (``GET /entries?…&proof=1``; docs/query-proofs.md)."""

from __future__ import annotations

from typing import Any

from audit_trail.core.index.map import proof_to_json
from audit_trail.core.integrity.leaf import b64
from audit_trail.core.serialization import entry_to_json
from audit_trail.core.usecases.query_proof import BucketProof, ProvenEntry, QueryProof


def query_proof_json(proof: QueryProof) -> dict[str, Any]:
    return {
        "checkpoint": proof.checkpoint.note,
        "tree_size": proof.checkpoint.size,
        "covers": proof.index_leaf.covers,
        "index": {
            "leaf_index": proof.index_leaf_index,
            "leaf": proof.index_leaf.as_json(),
            "inclusion": [b64(h) for h in proof.inclusion],
            "key": b64(proof.index_key),
        },
        "buckets": [_bucket(bucket) for bucket in proof.buckets],
        "entries": [_entry(entry) for entry in proof.entries],
        "next_cursor": proof.next_cursor,
    }


def _bucket(bucket: BucketProof) -> dict[str, Any]:
    part: dict[str, Any] = {
        "kind": bucket.key.kind.value,
        "value": bucket.key.value,
        "bucket": bucket.key.bucket,
    }
    if bucket.map_proof is not None:  # page 1's
        part["map"] = proof_to_json(bucket.map_proof)
    part["start"], part["end"] = bucket.start, bucket.end
    part["postings"] = [
        posting.as_short_json() if posting.index in bucket.short else posting.as_json()
        for posting in bucket.postings
    ]
    return part


def _entry(proven: ProvenEntry) -> dict[str, Any]:
    return {
        "entry": entry_to_json(proven.entry),
        "salts": {path: b64(salt) for path, salt in proven.salts.items()},
        "digests": {path: b64(digest) for path, digest in proven.digests.items()},
        "prev": None if proven.prev is None else b64(proven.prev),
    }
