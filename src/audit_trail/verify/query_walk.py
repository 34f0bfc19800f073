"""Verifying a walk: every page of one paged query proof, in order (docs/query-proofs.md).

Page 1 is checked from the signed checkpoint down (the index leaf is in the signed tree
and commits the index key given) and proves, by the map, the size and root of every
bucket's posting log. Every later page must be pinned to the same checkpoint and index
leaf. The pages' parts of each posting log must follow one another, in the plan's
order, with no range skipped or given twice: the walk keeps each bucket's compact range
and, when the bucket's last part arrives, checks its root against the map's. When the
last page has come, every bucket must have reached its size; then the postings say which
entries are current, and the union of the pages' entries must be exactly those,
each as committed. Each failure names its entry, bucket or page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from audit_trail.core.index.buckets import proof_plan
from audit_trail.core.index.keys import IndexKey, index_key_hash
from audit_trail.core.index.leaf import IndexLeaf, parse_index_leaf
from audit_trail.core.index.map import proof_from_json, verify_map_proof
from audit_trail.core.index.postings import CurrentEntries, Posting, is_short_posting
from audit_trail.core.integrity import Checkpoint, ProofError, leaf_hash, verify_inclusion
from audit_trail.core.integrity.leaf import leaf_bytes
from audit_trail.core.integrity.merkle import EMPTY_ROOT, CompactRange
from audit_trail.core.query import EntryFilters, SortOrder
from audit_trail.core.serialization import entry_from_json
from audit_trail.verify.evidence import signed_checkpoint
from audit_trail.verify.query_entries import (
    Rebuilt,
    checked_entry,
    rebuilt_leaves,
    served_entries,
    served_posting,
)
from audit_trail.verify.results import Failed, Failure, fail
from audit_trail.verify.service import ServiceError, decode_b64, hashes


@dataclass(frozen=True, slots=True)
class QueryResult:
    """The verified answer to one query: its entries (as served, filtered and sorted),
    the checkpoint and the log size they are complete for, every failure, and the
    tenant's index key the answer handed out (once its index leaf commits it)."""

    checkpoint: Checkpoint | None
    covers: int
    entries: tuple[dict[str, Any], ...]
    failures: tuple[Failure, ...]
    index_key: bytes | None = None

    @property
    def ok(self) -> bool:
        return self.checkpoint is not None and not self.failures


@dataclass(slots=True)
class _Bucket:
    """One bucket of the plan as the walk has read it so far."""

    key: IndexKey
    size: int = 0  # of its posting log, as the map proves it
    root: bytes = EMPTY_ROOT
    at: int = 0  # the postings read so far: [0, at)
    edge: CompactRange = field(default_factory=CompactRange.empty)
    state: CurrentEntries = field(default_factory=CurrentEntries)
    short: int = 0  # postings made whole from the entries served
    failed: bool = False
    named: set[str] = field(default_factory=set)  # entry ids its postings name

    @property
    def subject(self) -> str:
        return f"bucket {self.key.kind.value} {self.key.value!r} {self.key.bucket}"

    @property
    def done(self) -> bool:
        return self.failed or self.at == self.size


class QueryWalk:
    """Feed it the pages of one answer in order (``add``), following ``next_cursor``
    while it is not None; then ``result``."""

    def __init__(
        self, vkey: str, filters: EntryFilters, sort: SortOrder = SortOrder.NEWEST_FIRST
    ) -> None:
        self._vkey = vkey
        self._filters = filters
        self._sort = sort
        self._keys = proof_plan(filters).keys
        self._buckets = [_Bucket(key) for key in self._keys]
        self._places: dict[tuple[object, ...], int] = {
            (k.kind.value, k.value, k.bucket): n for n, k in enumerate(self._keys)
        }
        self._failures: list[Failure] = []
        self._pages = 0
        self._broken = False  # a failure after which no page can be read
        self._next: object = None
        self._checkpoint: Checkpoint | None = None
        self._leaf: IndexLeaf | None = None
        self._index_key: bytes | None = None
        self._pin: tuple[object, ...] = ()
        self._served: dict[str, dict[str, Any]] = {}
        self._rebuilt: dict[str, Rebuilt] = {}
        self._page_of: dict[str, int] = {}

    @property
    def next_cursor(self) -> str | None:
        """The cursor of the page to fetch next; None when the walk is over (its last
        page came, or it failed in a way no further page can mend)."""
        if self._broken or not isinstance(self._next, str):
            return None
        return self._next

    def add(self, body: Mapping[str, Any]) -> None:
        """Read the walk's next page."""
        if self._broken:
            return
        self._pages += 1
        page = self._pages
        try:
            if page == 1:
                self._first(body)
            elif self._next is None:
                raise fail(f"page {page}", f"follows page {page - 1}, whose next_cursor is null")
            elif self._pin != _pin(body):
                raise fail(f"page {page}", "is pinned to another checkpoint or index leaf")
            parts = body.get("buckets")
            if not isinstance(parts, list):
                raise fail(f"page {page}", "has no list of buckets")
            rebuilt = self._entries(body, page)
            progress = sum(self._part(page, part, rebuilt) for part in parts)
            self._next = body.get("next_cursor")
            if self._next is not None and not isinstance(self._next, str):
                raise fail(f"page {page}", "next_cursor is neither a cursor nor null")
            if self._next is not None and progress == 0:
                raise fail(f"page {page}", "names a next page but gives no postings")
        except Failed as failed:
            self._failures.append(failed.failure)
            self._broken = True

    def _first(self, body: Mapping[str, Any]) -> None:
        text = body.get("checkpoint")
        if not isinstance(text, str):
            raise fail("checkpoint", "missing from the answer")
        self._checkpoint = signed_checkpoint(text, self._vkey)
        self._leaf, self._index_key = _index_leaf(body, self._checkpoint)
        self._pin = _pin(body)
        parts = body.get("buckets")
        if not isinstance(parts, list) or len(parts) != len(self._keys):
            raise fail("buckets", f"the plan names {len(self._keys)} buckets")
        for bucket, part in zip(self._buckets, parts, strict=True):
            try:
                self._map(bucket, part)
            except Failed as failed:
                self._fail(bucket, failed.failure)

    def _map(self, bucket: _Bucket, part: object) -> None:
        """A bucket's size and root, from page 1's map proof."""
        assert self._leaf is not None
        assert self._index_key is not None
        key = bucket.key
        if not isinstance(part, dict):
            raise fail(bucket.subject, "not an object")
        if (part.get("kind"), part.get("value"), part.get("bucket")) != (
            key.kind.value,
            key.value,
            key.bucket,
        ):
            raise fail(bucket.subject, "the answer proves another bucket in its place")
        if "map" not in part:
            raise fail(bucket.subject, "page 1 gives no map proof of it")
        try:
            value = verify_map_proof(
                self._leaf.map_root, key.map_key(self._index_key), proof_from_json(part.get("map"))
            )
        except (ProofError, ValueError) as exc:
            raise fail(bucket.subject, str(exc)) from None
        if value is not None:
            bucket.size, bucket.root = value.size, value.root
        if bucket.size == 0 and bucket.root != EMPTY_ROOT:
            raise fail(bucket.subject, "the map proves an empty posting log with a root")

    def _entries(self, body: Mapping[str, Any], page: int) -> dict[str, Rebuilt]:
        """The page's entries, rebuilt (its short postings are made whole from them)."""
        assert self._leaf is not None
        entries = served_entries(body, self._failures)
        rebuilt = rebuilt_leaves(entries, self._leaf.tenant)
        for entry_id, item in entries.items():
            if entry_id in self._served:
                self._failures.append(
                    Failure(
                        f"entry {entry_id}",
                        f"served on page {self._page_of[entry_id]} and again on page {page}",
                    )
                )
                continue
            self._served[entry_id] = item
            self._rebuilt[entry_id] = rebuilt[entry_id]
            self._page_of[entry_id] = page
        return rebuilt

    def _part(self, page: int, part: object, rebuilt: Mapping[str, Rebuilt]) -> int:
        """Read one part of a page; the postings it added to the walk."""
        if not isinstance(part, dict):
            raise fail(f"page {page}", "gives a bucket that is not an object")
        place = (part.get("kind"), part.get("value"), part.get("bucket"))
        number = self._places.get(place)
        if number is None:
            raise fail(f"page {page}", f"gives a bucket the plan does not name: {place}")
        bucket = self._buckets[number]
        raw = part.get("postings")
        if isinstance(raw, list):
            bucket.named.update(
                p["id"] for p in raw if isinstance(p, dict) and isinstance(p.get("id"), str)
            )
        if bucket.failed:
            return 0
        try:
            return self._read(page, number, bucket, part, rebuilt)
        except Failed as failed:
            self._fail(bucket, failed.failure)
            return 0

    def _read(
        self,
        page: int,
        number: int,
        bucket: _Bucket,
        part: dict[str, Any],
        rebuilt: Mapping[str, Rebuilt],
    ) -> int:
        assert self._leaf is not None
        start, end, raw = part.get("start"), part.get("end"), part.get("postings")
        if type(start) is not int or type(end) is not int or not isinstance(raw, list):
            raise fail(bucket.subject, f"page {page}: start and end are integers, postings a list")
        if start != bucket.at:
            raise fail(
                bucket.subject,
                f"page {page} gives postings [{start}, {end}) where the walk is at {bucket.at}: "
                "a range skipped or given twice",
            )
        if not start <= end <= bucket.size:
            raise fail(
                bucket.subject,
                f"page {page} gives postings [{start}, {end}) of a posting log of {bucket.size}",
            )
        if end == start:
            return 0
        for earlier in self._buckets[:number]:
            if not earlier.done:
                raise fail(
                    bucket.subject,
                    f"page {page} gives its postings before {earlier.subject} is complete",
                )
        if len(raw) != end - start:
            raise fail(bucket.subject, f"page {page}: {len(raw)} postings for [{start}, {end})")
        try:
            postings = [served_posting(item, rebuilt) for item in raw]
        except ValueError as exc:
            raise fail(bucket.subject, f"page {page}: {exc}") from None
        if any(posting.index >= self._leaf.covers for posting in postings):
            raise fail(bucket.subject, f"a posting beyond the {self._leaf.covers} leaves covered")
        try:
            bucket.state.apply(postings)
        except ValueError as exc:
            raise fail(bucket.subject, str(exc)) from None
        bucket.edge.append([posting.hash() for posting in postings])
        bucket.short += sum(is_short_posting(item) for item in raw)
        bucket.at = end
        if end == bucket.size and bucket.edge.root() != bucket.root:
            short = f" ({bucket.short} of them rebuilt from the entries served)"
            raise fail(
                bucket.subject,
                "the postings do not make the root the map proves"
                + (short if bucket.short else ""),
            )
        return end - start

    def _fail(self, bucket: _Bucket, failure: Failure) -> None:
        bucket.failed = True
        self._failures.append(failure)

    def result(self) -> QueryResult:
        """What the pages read so far prove: the verified answer, or why not."""
        failures = list(self._failures)
        if self._checkpoint is None or self._leaf is None or self._broken:
            covers = 0 if self._leaf is None else self._leaf.covers
            return QueryResult(self._checkpoint, covers, (), tuple(failures), None)
        if isinstance(self._next, str):
            failures.append(
                Failure("walk", f"page {self._pages} names a next page, which is missing")
            )
        current: dict[str, tuple[Posting, IndexKey]] = {}
        unproven: set[str] = set()  # named by a bucket that failed: neither kept nor extra
        for bucket in self._buckets:
            if not bucket.failed and bucket.at < bucket.size:
                failures.append(
                    Failure(
                        bucket.subject,
                        f"the walk ends at {bucket.at} of its {bucket.size} postings",
                    )
                )
            if bucket.failed or bucket.at < bucket.size:
                unproven.update(bucket.named)
                continue
            for posting in bucket.state.current.values():
                current[posting.entry_id] = (posting, bucket.key)
        served = dict(self._served)
        verified: list[dict[str, Any]] = []
        for entry_id, (posting, key) in sorted(current.items()):
            item = served.pop(entry_id, None)
            subject = f"entry {entry_id}"
            if item is None:
                failures.append(
                    Failure(subject, f"missing: revision {posting.revision} is current")
                )
                continue
            try:
                verified.append(checked_entry(item, self._rebuilt[entry_id], posting, key, subject))
            except Failed as failed:
                failures.append(failed.failure)
        failures.extend(
            Failure(f"entry {extra}", "extra: no posting makes it current")
            for extra in served
            if extra not in unproven
        )
        matching = [item for item in verified if self._filters.matches(entry_from_json(item))]
        newest_first = self._sort is SortOrder.NEWEST_FIRST
        matching.sort(key=lambda e: (e["occurred_at"], e["id"]), reverse=newest_first)
        return QueryResult(
            self._checkpoint, self._leaf.covers, tuple(matching), tuple(failures), self._index_key
        )


def _pin(body: Mapping[str, Any]) -> tuple[object, ...]:
    """What every page of a walk must repeat from page 1."""
    return (body.get("checkpoint"), body.get("tree_size"), body.get("covers"), body.get("index"))


def _index_leaf(body: Mapping[str, Any], checkpoint: Checkpoint) -> tuple[IndexLeaf, bytes]:
    index = body.get("index")
    if not isinstance(index, dict) or not isinstance(index.get("leaf"), dict):
        raise fail("index leaf", "the answer has no index leaf")
    position = index.get("leaf_index")
    try:
        key = decode_b64(index.get("key"), "index key")
        inclusion = hashes(index.get("inclusion"), "index leaf inclusion")
        leaf = parse_index_leaf(index["leaf"])
        digest = leaf_hash(leaf_bytes(index["leaf"]))
        if type(position) is not int:
            raise ServiceError("leaf_index is not an integer")
        verify_inclusion(digest, position, checkpoint.size, inclusion, checkpoint.root)
    except (ServiceError, ProofError, TypeError, ValueError) as exc:
        raise fail("index leaf", str(exc)) from None
    if not checkpoint.origin.endswith(f"/{leaf.tenant}"):
        raise fail("index leaf", f"tenant {leaf.tenant!r} does not own {checkpoint.origin!r}")
    if index_key_hash(key) != leaf.key_hash or position < leaf.covers:
        raise fail("index leaf", "does not commit the index key served, or covers itself")
    return leaf, key
