"""ProveQuery: a page of a query's answer with what proves it (docs/query-proofs.md).

Every page holds the checkpoint and the index leaf the walk is pinned to (with its
inclusion proof and the tenant's index key), the postings of its range of the plan's
posting logs (at most ``limit``, the logs read one after another in the plan's order),
and the entries whose current ``add`` is among them, as the caller may see them, with
the salts of what it sees as stored, the digests of what it does not, and their
``prev``: all a verifier needs to rebuild each entry's leaf hash and match it to its
posting. Page 1 pins the latest checkpoint and index leaf and carries the map proof
(so the posting-log sizes) of every bucket of the plan; its cursor carries the pin to
the next page, and so on until ``next_cursor`` is None.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from audit_trail.core.cursor import CursorCodec
from audit_trail.core.errors import LogDamaged, LogRangeError, ValidationFailed
from audit_trail.core.index.buckets import proof_plan
from audit_trail.core.index.integrate import IndexIntegrator, TenantMap
from audit_trail.core.index.keys import IndexKey
from audit_trail.core.index.leaf import IndexLeaf, parse_index_leaf
from audit_trail.core.index.map import MapProof, verify_map_proof
from audit_trail.core.index.map_update import MapDamaged, prove_many
from audit_trail.core.index.page_cursor import PageCursor, PageCursors, query_digest
from audit_trail.core.index.pages import PageReader, Part, current_adds
from audit_trail.core.index.postings import Posting
from audit_trail.core.integrity.fields import committed_fields, field_digest, hidden_paths
from audit_trail.core.integrity.leaf import sealed_leaf
from audit_trail.core.integrity.merkle import ProofError, leaf_hash
from audit_trail.core.ledger.checkpoints import Checkpoints
from audit_trail.core.ledger.tree import LogTree
from audit_trail.core.model import Entry
from audit_trail.core.ports import EntryProcessor, EntryRepository
from audit_trail.core.ports.index import IndexHead, QueryIndex
from audit_trail.core.ports.log import StoredCheckpoint, TenantLog
from audit_trail.core.principal import Principal, Scope
from audit_trail.core.query import DEFAULT_LIMIT, EntryFilters

MAX_ATTEMPTS = 8  # reads that raced an integration, in a row


@dataclass(frozen=True, slots=True)
class QueryProofRequest:
    principal: Principal
    filters: EntryFilters
    limit: int = DEFAULT_LIMIT  # postings per page
    cursor: str | None = None  # next_cursor of the page before; None for page 1


@dataclass(frozen=True, slots=True)
class BucketProof:
    """Postings ``[start, end)`` of a bucket's posting log; ``map_proof`` on page 1."""

    key: IndexKey
    map_proof: MapProof | None
    start: int
    end: int
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
    next_cursor: str | None = None


def _restricted(principal: Principal, filters: EntryFilters) -> EntryFilters:
    """The filters a restricted caller's proof answers: its query narrowed to the
    restriction, proven from the restriction's own buckets (a bucket of another actor
    or target would show the postings of entries it may not see)."""
    restriction = principal.restriction
    narrowed = restriction.narrow(filters)
    if narrowed is None:
        raise ValidationFailed.single("proof", "the query is outside the token's restriction")
    if restriction.target_type is not None and narrowed.actor_id is not None:
        raise ValidationFailed.single(
            "actor_id", "a token restricted to a target proves queries without actor_id"
        )
    return narrowed


@dataclass(frozen=True, slots=True)
class _Pin:
    """What every page of a walk proves against."""

    leaf_index: int
    leaf: IndexLeaf
    checkpoint: StoredCheckpoint


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
        cursors: CursorCodec,
        integrator: IndexIntegrator | None = None,
    ) -> None:
        self._repository = repository
        self._log = log_store
        self._index = index
        self._integrator = integrator or IndexIntegrator(index, log_store)
        self._tree = tree
        self._checkpoints = checkpoints
        self._processor = processor
        self._cursors = PageCursors(cursors)

    async def execute(self, request: QueryProofRequest) -> QueryProof:
        principal = request.principal
        principal.require(Scope.READ)
        filters = _restricted(principal, request.filters)
        plan = proof_plan(filters)
        tenant = principal.tenant
        index_key = await self._index.index_key(tenant)
        map_keys = [key.map_key(index_key) for key in plan.keys]
        map_proofs: list[MapProof] | None = None
        if request.cursor is None:
            pin, map_proofs, sizes = await self._first(tenant, map_keys)
            bucket, position = 0, 0
        else:
            cursor = self._cursors.decode(
                request.cursor, tenant=tenant, filters=filters, buckets=len(map_keys)
            )
            pin = await self._pinned(tenant, cursor)
            sizes = {cursor.bucket: cursor.size}
            bucket, position = cursor.bucket, cursor.position
        covers = pin.leaf.covers
        reader = PageReader(self._index, tenant, map_keys, covers, sizes)
        page = await reader.page(bucket, position, request.limit)
        current = await current_adds(self._log, tenant, page.parts, covers)
        entries, rebuilt = await self._entries(principal, current)
        next_cursor = None
        if page.next is not None:
            at_bucket, at_position = page.next
            next_cursor = self._cursors.encode(
                PageCursor(
                    pin.leaf_index,
                    pin.checkpoint.size,
                    at_bucket,
                    at_position,
                    reader.size(at_bucket),
                    query_digest(filters),
                ),
                tenant=tenant,
            )
        return QueryProof(
            checkpoint=pin.checkpoint,
            index_leaf_index=pin.leaf_index,
            index_leaf=pin.leaf,
            inclusion=await self._tree.inclusion(tenant, pin.leaf_index, pin.checkpoint.size),
            index_key=index_key,
            buckets=_bucket_proofs(plan.keys, map_proofs, page.parts, current, rebuilt),
            entries=entries,
            next_cursor=next_cursor,
        )

    async def _first(
        self, tenant: str, map_keys: list[bytes]
    ) -> tuple[_Pin, list[MapProof], dict[int, int]]:
        """Page 1's pin (the latest index leaf, after integrating the log, and the
        latest checkpoint), every bucket's map proof and its posting log's size."""
        for _ in range(MAX_ATTEMPTS):
            # Up to the log's last leaf: a no-op when writes integrate as they commit.
            head = await self._integrator.integrate(tenant)
            proven = await self._map_proofs(tenant, head, map_keys)
            if proven is not None:
                break
        else:
            raise LogDamaged("the query index does not match the root its index leaf commits")
        leaf, proofs, sizes = proven
        assert head.leaf_index is not None
        checkpoint = await self._checkpoints.latest(tenant)
        return _Pin(head.leaf_index, leaf, checkpoint), proofs, sizes

    async def _pinned(self, tenant: str, cursor: PageCursor) -> _Pin:
        """The pin a later page's cursor names: its index leaf and checkpoint."""
        stored = await self._log.leaves(tenant, cursor.leaf_index, cursor.leaf_index + 1)
        try:
            if not stored:
                raise ProofError("no such leaf")
            leaf = parse_index_leaf(json.loads(stored[0].leaf))
            if leaf.tenant != tenant:
                raise ProofError("the index leaf of another tenant")
            checkpoint = await self._checkpoints.at(tenant, cursor.tree_size)
        except (ProofError, LogRangeError, ValueError):
            raise ValidationFailed.single(
                "cursor", "pins an index leaf or a checkpoint this tenant's log does not hold"
            ) from None
        return _Pin(cursor.leaf_index, leaf, checkpoint)

    async def _map_proofs(
        self, tenant: str, head: IndexHead, map_keys: list[bytes]
    ) -> tuple[IndexLeaf, list[MapProof], dict[int, int]] | None:
        """Each bucket's map proof against the map root of ``head``, and its posting
        log's size; None when the map moved while it was read (another writer
        integrating), to be read again."""
        assert head.leaf_index is not None
        stored = await self._log.leaves(tenant, head.leaf_index, head.leaf_index + 1)
        if not stored:
            raise LogDamaged(f"the log lacks its index leaf {head.leaf_index}")
        leaf = parse_index_leaf(json.loads(stored[0].leaf))
        if leaf.map_root != head.map_root:
            return None
        try:
            proofs = await prove_many(TenantMap(self._index, tenant), head.map_root, map_keys)
        except MapDamaged:
            if await self._index.head(tenant) == head:
                raise
            return None  # read while a writer moved the map (a storage without snapshots)
        sizes: dict[int, int] = {}
        for bucket, map_key in enumerate(map_keys):
            try:
                value = verify_map_proof(head.map_root, map_key, proofs[map_key])
            except ProofError:
                return None
            sizes[bucket] = 0 if value is None else value.size
        return leaf, [proofs[map_key] for map_key in map_keys], sizes

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


def _bucket_proofs(
    keys: tuple[IndexKey, ...],
    map_proofs: list[MapProof] | None,
    parts: list[Part],
    current: Mapping[str, Posting],
    rebuilt: frozenset[int],
) -> list[BucketProof]:
    """The page's buckets: on page 1 (``map_proofs`` given) every bucket of the plan,
    those the page does not reach with no postings; later, the buckets of its parts.
    Every current ``add`` whose served revision rebuilds its hash (``rebuilt``) is
    marked short; one the stored entry no longer rebuilds (edited in the database)
    stays whole, so that the reader can name the entry."""
    by_bucket = {part.bucket: part for part in parts}
    chosen = range(len(keys)) if map_proofs is not None else sorted(by_bucket)
    proofs: list[BucketProof] = []
    for bucket in chosen:
        part = by_bucket.get(bucket, Part(bucket, 0, 0, ()))
        short = frozenset(
            p.index for p in part.postings if p.index in rebuilt and current.get(p.entry_id) == p
        )
        map_proof = None if map_proofs is None else map_proofs[bucket]
        proofs.append(
            BucketProof(keys[bucket], map_proof, part.start, part.end, part.postings, short)
        )
    return proofs


def _proven(stored: Entry, visible: Entry) -> ProvenEntry:
    evidence = stored.evidence
    assert evidence is not None
    hidden = hidden_paths(stored, visible)
    salts: dict[str, bytes] = {}
    digests: dict[str, bytes] = {}
    for path, value in committed_fields(stored).items():
        if path in hidden:
            digests[path] = field_digest(path, evidence.salts[path], value)
        else:
            salts[path] = evidence.salts[path]
    digests.update(evidence.erased)  # nobody sees an erased field: its digest is all there is
    return ProvenEntry(visible, salts, digests, evidence.prev)
