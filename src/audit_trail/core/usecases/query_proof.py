"""ProveQuery: a query's answer with what proves it complete (docs/query-proofs.md).

The answer holds the latest checkpoint, the index leaf it covers (with its inclusion
proof and the tenant's index key), a map proof and the whole posting log of each
bucket the query's plan names, and every entry current under those buckets as the
caller may see it, with the salts of what it sees as stored, the digests of what it
does not, and its ``prev``: all a verifier needs to rebuild each entry's leaf hash and
match it to its posting.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace

from audit_trail.core.errors import LogDamaged
from audit_trail.core.index.buckets import proof_plan
from audit_trail.core.index.integrate import IndexIntegrator, TenantMap
from audit_trail.core.index.keys import IndexKey
from audit_trail.core.index.leaf import IndexLeaf, parse_index_leaf
from audit_trail.core.index.map import MapProof, verify_map_proof
from audit_trail.core.index.map_update import MapDamaged, prove_many
from audit_trail.core.index.postings import CurrentEntries, Posting, unpack_posting
from audit_trail.core.index.ranges import RangeProof
from audit_trail.core.integrity.fields import committed_fields, field_digest
from audit_trail.core.integrity.leaf import sealed_leaf
from audit_trail.core.integrity.merkle import ProofError, leaf_hash
from audit_trail.core.ledger.checkpoints import Checkpoints
from audit_trail.core.ledger.tree import LogTree
from audit_trail.core.model import Entry
from audit_trail.core.ports import EntryProcessor, EntryRepository
from audit_trail.core.ports.index import IndexHead, QueryIndex
from audit_trail.core.ports.log import StoredCheckpoint, TenantLog
from audit_trail.core.principal import Principal, Scope
from audit_trail.core.query import EntryFilters

MAX_ATTEMPTS = 8  # reads that raced an integration, in a row


@dataclass(frozen=True, slots=True)
class QueryProofRequest:
    principal: Principal
    filters: EntryFilters


@dataclass(frozen=True, slots=True)
class BucketProof:
    key: IndexKey
    map_proof: MapProof
    range: RangeProof
    postings: tuple[Posting, ...]
    short: frozenset[int] = frozenset()  # log indices of adds given without h and t


@dataclass(frozen=True, slots=True)
class ProvenEntry:
    entry: Entry  # as the caller may see it
    salts: Mapping[str, bytes]  # of the fields it sees as committed
    digests: Mapping[str, bytes]  # of the committed fields it does not
    prev: bytes | None


@dataclass(frozen=True, slots=True)
class QueryProof:
    checkpoint: StoredCheckpoint
    index_leaf_index: int
    index_leaf: IndexLeaf
    inclusion: list[bytes]
    index_key: bytes
    buckets: list[BucketProof]
    entries: list[ProvenEntry]


class ProveQuery:
    def __init__(
        self,
        repository: EntryRepository,
        log_store: TenantLog,
        index: QueryIndex,
        *,
        tree: LogTree,
        checkpoints: Checkpoints,
        processor: EntryProcessor,
        integrator: IndexIntegrator | None = None,
    ) -> None:
        self._repository = repository
        self._log = log_store
        self._index = index
        self._integrator = integrator or IndexIntegrator(index, log_store)
        self._tree = tree
        self._checkpoints = checkpoints
        self._processor = processor

    async def execute(self, request: QueryProofRequest) -> QueryProof:
        principal = request.principal
        principal.require(Scope.READ)
        plan = proof_plan(request.filters)
        tenant = principal.tenant
        for _ in range(MAX_ATTEMPTS):
            # Up to the log's last leaf: a no-op when writes integrate as they commit.
            head = await self._integrator.integrate(tenant)
            proven = await self._buckets(tenant, head, plan.keys)
            if proven is not None:
                break
        else:
            raise LogDamaged("the query index does not match the root its index leaf commits")
        leaf, buckets = proven
        assert head.leaf_index is not None
        checkpoint = await self._checkpoints.latest(tenant)
        current_by_bucket = [_current(bucket) for bucket in buckets]
        current: dict[str, Posting] = {}
        for bucket_current in current_by_bucket:
            current.update(bucket_current)
        entries, rebuilt = await self._entries(principal, current)
        return QueryProof(
            checkpoint=checkpoint,
            index_leaf_index=head.leaf_index,
            index_leaf=leaf,
            inclusion=await self._tree.inclusion(tenant, head.leaf_index, checkpoint.size),
            index_key=await self._index.index_key(tenant),
            buckets=[
                _shortened(bucket, bucket_current, rebuilt)
                for bucket, bucket_current in zip(buckets, current_by_bucket, strict=True)
            ],
            entries=entries,
        )

    async def _buckets(
        self, tenant: str, head: IndexHead, keys: tuple[IndexKey, ...]
    ) -> tuple[IndexLeaf, list[BucketProof]] | None:
        """Each bucket's proof against the map root of ``head``; None when the map moved
        while it was read (another writer integrating), to be read again."""
        assert head.leaf_index is not None
        stored = await self._log.leaves(tenant, head.leaf_index, head.leaf_index + 1)
        if not stored:
            raise LogDamaged(f"the log lacks its index leaf {head.leaf_index}")
        leaf = parse_index_leaf(json.loads(stored[0].leaf))
        if leaf.map_root != head.map_root:
            return None
        index_key = await self._index.index_key(tenant)
        map_keys = {key: key.map_key(index_key) for key in keys}
        try:
            proofs = await prove_many(
                TenantMap(self._index, tenant), head.map_root, list(map_keys.values())
            )
        except MapDamaged:
            if await self._index.head(tenant) == head:
                raise
            return None  # read while a writer moved the map (a storage without snapshots)
        buckets: list[BucketProof] = []
        for key, map_key in map_keys.items():
            proof = proofs[map_key]
            try:
                value = verify_map_proof(head.map_root, map_key, proof)
            except ProofError:
                return None
            size = 0 if value is None else value.size
            raw = await self._index.postings(tenant, map_key, 0, size)
            postings = tuple(unpack_posting(item) for item in raw)
            buckets.append(BucketProof(key, proof, RangeProof(0, size, size, (), ()), postings))
        return leaf, buckets

    async def _entries(
        self, principal: Principal, current: Mapping[str, Posting]
    ) -> tuple[list[ProvenEntry], frozenset[int]]:
        """The entries to serve, and the log indices of the current postings whose
        served revision rebuilds their leaf hash (those postings may be given short)."""
        entries: list[ProvenEntry] = []
        rebuilt: set[int] = set()
        for entry_id, posting in sorted(current.items()):
            stored = await self._repository.revision(principal.tenant, entry_id, posting.revision)
            if stored is None or stored.evidence is None:
                continue  # the verifier names it missing
            visible = await self._processor.redact_for_reader(stored, principal)
            entries.append(_proven(stored, visible))
            if leaf_hash(sealed_leaf(stored)) == posting.leaf_hash:
                rebuilt.add(posting.index)
        return entries, frozenset(rebuilt)


def _current(bucket: BucketProof) -> dict[str, Posting]:
    state = CurrentEntries()
    state.apply(bucket.postings)
    return state.current


def _shortened(
    bucket: BucketProof, current: Mapping[str, Posting], rebuilt: frozenset[int]
) -> BucketProof:
    """``bucket`` with every current ``add`` (``current``, its own) whose served
    revision rebuilds its hash marked short. One the stored entry no longer rebuilds
    (edited in the database) stays whole, so that the reader can name the entry."""
    short = frozenset(p.index for p in current.values() if p.index in rebuilt)
    return replace(bucket, short=short)


def _proven(stored: Entry, visible: Entry) -> ProvenEntry:
    evidence = stored.evidence
    assert evidence is not None
    committed, shown = committed_fields(stored), committed_fields(visible)
    salts: dict[str, bytes] = {}
    digests: dict[str, bytes] = {}
    for path, value in committed.items():
        if path in shown and shown[path] == value:
            salts[path] = evidence.salts[path]
        else:
            digests[path] = field_digest(path, evidence.salts[path], value)
    return ProvenEntry(visible, salts, digests, evidence.prev)
