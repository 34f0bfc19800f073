"""Checking a query proof (``GET /entries?…&proof=1``, docs/query-proofs.md).

From the signed checkpoint down: the index leaf is in the signed tree and commits the
index key it came with; each bucket the query's plan names (``index.buckets``, the
same rule the service follows) is proven by the map, and its postings by their
posting log's root; the postings say which entries are current; each of those must
be served, and its leaf, rebuilt from the entry as served, its salts, digests and
``prev``, must hash to what its posting says. What is left, filtered by every filter
of the query, sorted, is the verified answer. Each failure names its entry or bucket.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TextIO

from audit_trail.core.errors import ValidationFailed
from audit_trail.core.index.buckets import proof_plan
from audit_trail.core.index.keys import IndexKey, index_key_hash, revision_keys
from audit_trail.core.index.leaf import IndexLeaf, parse_index_leaf
from audit_trail.core.index.map import proof_from_json, verify_map_proof
from audit_trail.core.index.postings import (
    CurrentEntries,
    Posting,
    is_short_posting,
    parse_posting,
    with_served,
)
from audit_trail.core.index.ranges import RangeProof, range_root
from audit_trail.core.integrity import Checkpoint, ProofError, leaf_hash, verify_inclusion
from audit_trail.core.integrity.fields import field_digest
from audit_trail.core.integrity.leaf import b64, leaf_bytes
from audit_trail.core.query import EntryFilters, SortOrder, parse_query
from audit_trail.core.serialization import entry_from_json
from audit_trail.verify.evidence import (
    check_consistency,
    rebuilt_leaf,
    rendered_fields,
    signed_checkpoint,
)
from audit_trail.verify.results import Failed, Failure, fail
from audit_trail.verify.service import (
    ServiceClient,
    ServiceError,
    decode_b64,
    decode_hash,
    hashes,
)


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


def check_query_proof(
    body: Mapping[str, Any],
    vkey: str,
    filters: EntryFilters,
    sort: SortOrder = SortOrder.NEWEST_FIRST,
) -> QueryResult:
    """Verify one ``proof=1`` answer to a query with ``filters``, against ``vkey``."""
    try:
        checkpoint = signed_checkpoint(_text(body, "checkpoint"), vkey)
        leaf, index_key = _index_leaf(body, checkpoint)
    except Failed as failed:
        return QueryResult(None, 0, (), (failed.failure,))
    failures: list[Failure] = []
    entries = _served_entries(body, failures)
    rebuilt = _rebuilt_leaves(entries, leaf.tenant)
    current: dict[str, tuple[Posting, IndexKey]] = {}
    served_buckets = body.get("buckets")
    plan = proof_plan(filters)
    if not isinstance(served_buckets, list) or len(served_buckets) != len(plan.keys):
        failures.append(Failure("buckets", f"the plan names {len(plan.keys)} buckets"))
        served_buckets = []
    unproven: set[str] = set()  # named by a bucket that failed: neither kept nor extra
    for key, served in zip(plan.keys, served_buckets, strict=False):
        try:
            for posting in _bucket(key, served, leaf, index_key, rebuilt):
                current[posting.entry_id] = (posting, key)
        except Failed as failed:
            failures.append(failed.failure)
            unproven.update(_named(served))
    verified: list[dict[str, Any]] = []
    for entry_id, (posting, key) in sorted(current.items()):
        served = entries.pop(entry_id, None)
        subject = f"entry {entry_id}"
        if served is None:
            failures.append(Failure(subject, f"missing: revision {posting.revision} is current"))
            continue
        try:
            verified.append(_entry(served, rebuilt[entry_id], posting, key, subject))
        except Failed as failed:
            failures.append(failed.failure)
    failures.extend(
        Failure(f"entry {extra}", "extra: no posting makes it current")
        for extra in entries
        if extra not in unproven
    )
    matching = [item for item in verified if filters.matches(entry_from_json(item))]
    newest_first = sort is SortOrder.NEWEST_FIRST
    matching.sort(key=lambda e: (e["occurred_at"], e["id"]), reverse=newest_first)
    return QueryResult(checkpoint, leaf.covers, tuple(matching), tuple(failures), index_key)


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


def _bucket(
    key: IndexKey,
    served: object,
    leaf: IndexLeaf,
    index_key: bytes,
    rebuilt: Mapping[str, Rebuilt],
) -> Sequence[Posting]:
    """The current postings of one bucket, once its map proof and postings verify
    (short ones made whole from the entries served)."""
    subject = f"bucket {key.kind.value} {key.value!r} {key.bucket}"
    if not isinstance(served, dict):
        raise fail(subject, "not an object")
    if (served.get("kind"), served.get("value"), served.get("bucket")) != (
        key.kind.value,
        key.value,
        key.bucket,
    ):
        raise fail(subject, "the answer proves another bucket in its place")
    try:
        value = verify_map_proof(
            leaf.map_root, key.map_key(index_key), proof_from_json(served.get("map"))
        )
        raw_postings = served.get("postings")
        if not isinstance(raw_postings, list):
            raise ServiceError("postings is not a list")
        postings = [_posting(item, rebuilt) for item in raw_postings]
        start, end = served.get("start"), served.get("end")
        if type(start) is not int or type(end) is not int:
            raise ServiceError("start and end are integers")
        size = 0 if value is None else value.size
        if (start, end) != (0, size):
            raise ServiceError(f"postings [{start}, {end}) are not the whole log of {size}")
        proof = RangeProof(
            start,
            end,
            size,
            tuple(hashes(served.get("left"), "left")),
            tuple(hashes(served.get("right"), "right")),
        )
        if value is not None and range_root(proof, [p.hash() for p in postings]) != value.root:
            short = sum(is_short_posting(item) for item in raw_postings)
            raise ProofError(
                "the postings do not make the root the map proves"
                + (f" ({short} of them rebuilt from the entries served)" if short else "")
            )
        if value is None and postings:
            raise ProofError("postings served for a bucket the map proves empty")
    except (ServiceError, ProofError, ValueError) as exc:
        raise fail(subject, str(exc)) from None
    if any(posting.index >= leaf.covers for posting in postings):
        raise fail(subject, f"a posting beyond the {leaf.covers} leaves the index covers")
    state = CurrentEntries()
    try:
        state.apply(postings)
    except ValueError as exc:
        raise fail(subject, str(exc)) from None
    return list(state.current.values())


def _served_entries(body: Mapping[str, Any], failures: list[Failure]) -> dict[str, dict[str, Any]]:
    served = body.get("entries")
    out: dict[str, dict[str, Any]] = {}
    if not isinstance(served, list):
        failures.append(Failure("entries", "not a list"))
        return out
    for item in served:
        entry = item.get("entry") if isinstance(item, dict) else None
        entry_id = entry.get("id") if isinstance(entry, dict) else None
        if not isinstance(entry_id, str) or entry_id in out:
            failures.append(Failure("entries", f"an item without an entry, or twice: {entry_id!r}"))
            continue
        out[entry_id] = item
    return out


@dataclass(frozen=True, slots=True)
class Rebuilt:
    """A served entry's leaf hash as rebuilt from what was served, or why it cannot
    be."""

    revision: object
    occurred_at: object
    leaf_hash: bytes | None
    failure: Failure | None = None


def _rebuilt_leaves(entries: Mapping[str, dict[str, Any]], tenant: str) -> dict[str, Rebuilt]:
    out: dict[str, Rebuilt] = {}
    for entry_id, item in entries.items():
        entry = item["entry"]
        try:
            digest = _rebuilt_hash(item, tenant, f"entry {entry_id}")
        except Failed as failed:
            out[entry_id] = Rebuilt(entry.get("revision"), None, None, failed.failure)
        else:
            out[entry_id] = Rebuilt(entry.get("revision"), entry.get("occurred_at"), digest)
    return out


def _named(served: object) -> set[str]:
    """The entry ids the postings of a served bucket name."""
    postings = served.get("postings") if isinstance(served, dict) else None
    if not isinstance(postings, list):
        return set()
    return {p["id"] for p in postings if isinstance(p, dict) and isinstance(p.get("id"), str)}


def _posting(item: object, rebuilt: Mapping[str, Rebuilt]) -> Posting:
    """A posting as served: whole, or short (an ``add`` of a revision ``entries``
    serves, whose ``h`` and ``t`` come from that revision)."""
    if not is_short_posting(item):
        return parse_posting(item)
    assert isinstance(item, dict)
    served = rebuilt.get(item["id"]) if isinstance(item["id"], str) else None
    subject, revision = f"entry {item['id']}", item["r"]
    if served is None:
        raise fail(subject, f"missing: revision {revision!r} is current")
    if served.revision != revision:
        older = isinstance(served.revision, int) and isinstance(revision, int)
        if older and served.revision < revision:
            stale = f"stale: revision {served.revision} served, {revision} is current"
            raise fail(subject, stale)
        raise fail(subject, f"forged: revision {served.revision!r} served, {revision!r} is current")
    if served.leaf_hash is None or not isinstance(served.occurred_at, str):
        assert served.failure is not None
        raise Failed(served.failure)
    return parse_posting(with_served(item, served.leaf_hash, served.occurred_at))


def _rebuilt_hash(item: dict[str, Any], tenant: str, subject: str) -> bytes:
    """The leaf hash of the served entry, rebuilt from it, its salts, digests and
    ``prev``."""
    entry = item["entry"]
    try:
        salts = {str(p): decode_b64(s, f"salt of {p}") for p, s in _dict(item, "salts").items()}
        digests = {
            str(p): decode_hash(d, f"digest of {p}") for p, d in _dict(item, "digests").items()
        }
        prev = item.get("prev")
        if prev is not None:
            decode_hash(prev, "prev")
        values = rendered_fields(entry)
        fields = {
            path: field_digest(path, salts[path], v) for path, v in values.items() if path in salts
        }
    except (ServiceError, KeyError, TypeError, ValueError) as exc:
        raise fail(subject, f"malformed: {exc}") from None
    unproven = sorted(p for p in values if p not in salts and p not in digests)
    if unproven:
        raise fail(subject, f"shows field(s) it gives no salt or digest for: {', '.join(unproven)}")
    rebuilt = rebuilt_leaf(entry, prev, {p: b64(d) for p, d in (digests | fields).items()})
    if entry.get("tenant") != tenant:
        raise fail(subject, f"of tenant {entry.get('tenant')!r}, not {tenant!r}")
    try:
        return leaf_hash(leaf_bytes(rebuilt))
    except (TypeError, ValueError) as exc:
        raise fail(subject, f"has no canonical form: {exc}") from None


def _entry(
    item: dict[str, Any], rebuilt: Rebuilt, posting: Posting, key: IndexKey, subject: str
) -> dict[str, Any]:
    """The served entry, once its rebuilt leaf hashes to its posting's and it belongs
    under the bucket that posting is in."""
    entry = item["entry"]
    if rebuilt.failure is not None:
        raise Failed(rebuilt.failure)
    if rebuilt.leaf_hash != posting.leaf_hash:
        if isinstance(entry.get("revision"), int) and entry["revision"] < posting.revision:
            raise fail(
                subject,
                f"stale: revision {entry['revision']} served, {posting.revision} is current",
            )
        raise fail(subject, f"forged: its leaf does not hash to revision {posting.revision}'s")
    if key not in revision_keys(entry_from_json(entry)):
        raise fail(subject, f"does not belong under bucket {key.kind.value} {key.bucket}")
    return entry  # type: ignore[no-any-return]


def _dict(item: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = item.get(name, {})
    if not isinstance(value, dict):
        raise TypeError(f"{name} is not an object")
    return value


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise fail(name, "missing from the answer")
    return value


async def verify_query(
    service: ServiceClient, vkey: str, trusted: Checkpoint, params: dict[str, str]
) -> QueryResult:
    """Fetch the answer to the query of ``params`` with its proof and verify it; the
    proof's checkpoint must extend ``trusted`` (the latest one verified)."""
    try:
        request = parse_query({name: [value] for name, value in params.items()})
        proof_plan(request.filters)  # refused here, before asking the service
    except ValidationFailed as failed:
        return QueryResult(None, 0, (), tuple(Failure(e.field, e.message) for e in failed.errors))
    try:
        body = await service.query_proof(params)
    except ServiceError as exc:
        return QueryResult(None, 0, (), (Failure("query", str(exc)),))
    result = check_query_proof(body, vkey, request.filters, request.sort)
    if result.checkpoint is None or result.checkpoint.size == trusted.size:
        return result
    try:
        first, second = sorted((trusted, result.checkpoint), key=lambda c: c.size)
        check_consistency(first, second, await service.consistency(first.size, second.size))
    except ServiceError as exc:
        return replace(result, failures=(*result.failures, Failure("checkpoint", str(exc))))
    except Failed as failed:
        return replace(result, failures=(*result.failures, failed.failure))
    return result


def print_entries(entries: Sequence[Mapping[str, Any]], style: str, out: TextIO) -> None:
    """The verified entries: one JSON object per line, or a table."""
    if style == "ndjson":
        for entry in entries:
            out.write(json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n")
        return
    rows = [
        (
            str(e.get("occurred_at", "")),
            str(e.get("id", "")),
            str(e.get("actor", {}).get("id", "")),
            str(e.get("action", "")),
            "/".join(str(e["target"].get(k, "")) for k in ("type", "id"))
            if e.get("target")
            else "",
        )
        for e in entries
    ]
    header = ("occurred_at", "id", "actor", "action", "target")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        out.write(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            + "\n"
        )
