"""Index keys, postings and posting-log range proofs (docs/query-proofs.md)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit_trail.core import Actor, Entry, Outcome, Target
from audit_trail.core.index.keys import (
    IndexKey,
    IndexKind,
    bucket_name,
    buckets_between,
    index_key_hash,
    revision_keys,
)
from audit_trail.core.index.postings import (
    CurrentEntries,
    Posting,
    PostingOp,
    change_postings,
    parse_posting,
    unpack_posting,
)
from audit_trail.core.index.ranges import RangeProof, aligned_nodes, range_root
from audit_trail.core.integrity import merkle
from audit_trail.core.integrity.canonical import canonical_json
from audit_trail.core.integrity.merkle import ProofError

from .strategies import utc_millis

AT = datetime(2024, 3, 5, 14, 7, 9, 250_000, tzinfo=UTC)
H = bytes(range(32))


def entry(**changes: object) -> Entry:
    base = Entry(
        id="01J0",
        tenant="acme",
        action="invoice.approve",
        outcome=Outcome.SUCCESS,
        actor=Actor(id="u-42"),
        occurred_at=AT,
        recorded_at=AT,
        target=Target(type="invoice", id="inv-7"),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_revision_is_filed_under_its_hour_action_hour_actor_day_and_target_day() -> None:
    assert revision_keys(entry()) == [
        IndexKey(IndexKind.TIME, "", "2024-03-05T14"),
        IndexKey(IndexKind.ACTION, "invoice.approve", "2024-03-05T14"),
        IndexKey(IndexKind.ACTION, "invoice.approve", "all"),
        IndexKey(IndexKind.ACTOR, "u-42", "2024-03-05"),
        IndexKey(IndexKind.ACTOR, "u-42", "all"),
        IndexKey(IndexKind.TARGET, "invoice\x00inv-7", "2024-03-05"),
        IndexKey(IndexKind.TARGET, "invoice\x00inv-7", "all"),
    ]
    assert {key.kind for key in revision_keys(entry(target=None))} == {
        IndexKind.TIME,
        IndexKind.ACTION,
        IndexKind.ACTOR,
    }
    assert revision_keys(entry(deleted=True)) == []


@given(utc_millis)
def test_a_revision_s_buckets_are_those_bucket_name_gives_its_instant(at: datetime) -> None:
    keys = revision_keys(entry(occurred_at=at))
    assert {key.bucket for key in keys if key.bucket != "all"} == {
        bucket_name(key.kind, at) for key in keys
    }
    assert keys[0].bucket == bucket_name(IndexKind.TIME, at)


def test_buckets_are_named_in_utc_with_four_digit_years() -> None:
    early = datetime(987, 1, 2, 3, tzinfo=UTC)
    assert bucket_name(IndexKind.TIME, early) == "0987-01-02T03"
    assert bucket_name(IndexKind.ACTOR, early) == "0987-01-02"
    behind = AT.astimezone(UTC).replace(hour=23, minute=30)
    assert bucket_name(IndexKind.ACTOR, behind + timedelta(hours=1)) == "2024-03-06"


@given(utc_millis, st.integers(0, 80 * 3600 * 1000))
def test_buckets_between_hold_every_instant_of_the_range_and_no_bucket_outside_it(
    since: datetime, span_ms: int
) -> None:
    until = since + timedelta(milliseconds=span_ms)
    for kind in (IndexKind.TIME, IndexKind.ACTOR):
        names = list(buckets_between(kind, since, until))
        if span_ms == 0:
            assert names == []
            continue
        assert names[0] == bucket_name(kind, since)
        assert names[-1] == bucket_name(kind, until - timedelta(milliseconds=1))
        assert names == sorted(set(names))
        assert len(names) <= span_ms // (kind.span // timedelta(milliseconds=1)) + 2


def test_the_map_key_is_the_hmac_of_kind_value_and_bucket() -> None:
    secret = b"k" * 32
    key = IndexKey(IndexKind.TARGET, "invoice\x00inv-7", "2024-03-05")
    expected = hmac.new(secret, b"target\x00invoice\x00inv-7\x002024-03-05", hashlib.sha256)
    assert key.map_key(secret) == expected.digest()
    assert (
        index_key_hash(secret) == hashlib.sha256(b"audit-trail:index-key:v1\x00" + secret).digest()
    )


def test_a_posting_is_rfc8785_json_hashed_as_an_rfc9162_leaf() -> None:
    posting = Posting(7, PostingOp.ADD, "01J0", 2, "2024-03-05T14:07:09.250Z", H)
    raw = (
        b'{"h":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=","i":7,"id":"01J0",'
        b'"op":"add","r":2,"t":"2024-03-05T14:07:09.250Z"}'
    )
    assert posting.to_bytes() == raw
    assert posting.hash() == hashlib.sha256(b"\x00" + raw).digest()
    assert json.loads(raw) == posting.as_json()


def test_a_record_adds_to_each_of_its_buckets() -> None:
    postings = change_postings(None, entry(), 3, H)
    assert [key for key, _ in postings] == revision_keys(entry())
    assert {posting.op for _, posting in postings} == {PostingOp.ADD}
    assert {(p.index, p.entry_id, p.revision, p.leaf_hash) for _, p in postings} == {
        (3, "01J0", 1, H)
    }


def test_an_amendment_supersedes_in_the_buckets_it_left_and_adds_to_its_own() -> None:
    before = entry()
    after = entry(revision=2, actor=Actor(id="u-43"))
    postings = dict(change_postings(before, after, 9, H))
    assert postings[IndexKey(IndexKind.ACTOR, "u-42", "2024-03-05")].op is PostingOp.SUPERSEDE
    assert postings[IndexKey(IndexKind.ACTOR, "u-43", "2024-03-05")].op is PostingOp.ADD
    assert postings[IndexKey(IndexKind.TIME, "", "2024-03-05T14")].op is PostingOp.ADD
    assert postings[IndexKey(IndexKind.ACTOR, "u-42", "all")].op is PostingOp.SUPERSEDE
    assert len(postings) == 9


def test_a_deletion_tombstones_every_bucket_of_the_revision_it_ends() -> None:
    postings = change_postings(entry(), entry(revision=2, deleted=True), 11, H)
    assert [key for key, _ in postings] == revision_keys(entry())
    assert {posting.op for _, posting in postings} == {PostingOp.TOMBSTONE}


def test_current_entries_keeps_the_last_add_unless_ended_after_it() -> None:
    def p(index: int, op: PostingOp, entry_id: str, revision: int = 1) -> Posting:
        return Posting(index, op, entry_id, revision, "2024-03-05T14:00:00.000Z", H)

    state = CurrentEntries()
    state.apply([p(1, PostingOp.ADD, "a"), p(2, PostingOp.ADD, "b"), p(3, PostingOp.ADD, "a", 2)])
    state.apply([p(4, PostingOp.SUPERSEDE, "b", 2), p(5, PostingOp.ADD, "c")])
    state.apply([p(6, PostingOp.TOMBSTONE, "c", 2)])
    assert {key: posting.revision for key, posting in state.current.items()} == {"a": 2}
    with pytest.raises(ValueError, match="log order"):
        state.apply([p(2, PostingOp.ADD, "d")])


def _subtree(hashes: list[bytes], level: int, index: int) -> bytes:
    return merkle.root(hashes[index << level : (index + 1) << level])


def _proof(hashes: list[bytes], start: int, end: int) -> RangeProof:
    size = len(hashes)
    left = tuple(_subtree(hashes, *node) for node in merkle.range_nodes(0, start))
    right = tuple(_subtree(hashes, *node) for node in aligned_nodes(end, size))
    return RangeProof(start, end, size, left, right)


ranges = st.integers(0, 70).flatmap(
    lambda size: st.tuples(st.just(size), st.integers(0, size)).flatmap(
        lambda sa: st.tuples(st.just(sa[0]), st.just(sa[1]), st.integers(sa[1], sa[0]))
    )
)


@settings(max_examples=200)
@given(ranges)
def test_any_run_of_postings_proves_against_the_root_of_its_log(r: tuple[int, int, int]) -> None:
    size, start, end = r
    hashes = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(size)]
    assert range_root(_proof(hashes, start, end), hashes[start:end]) == merkle.root(hashes)


@settings(max_examples=200)
@given(ranges.filter(lambda r: r[2] > r[1]), st.data())
def test_a_dropped_changed_or_reordered_posting_does_not_prove(
    r: tuple[int, int, int], data: st.DataObject
) -> None:
    size, start, end = r
    hashes = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(size)]
    proof = _proof(hashes, start, end)
    run = hashes[start:end]
    at = data.draw(st.integers(0, len(run) - 1))
    changed = [*run[:at], hashlib.sha256(b"forged").digest(), *run[at + 1 :]]
    assert range_root(proof, changed) != merkle.root(hashes)
    with pytest.raises(ProofError):
        range_root(proof, run[:at] + run[at + 1 :])
    if len(run) > 1:
        swapped = [*run]
        swapped[0], swapped[-1] = swapped[-1], swapped[0]
        assert range_root(proof, swapped) != merkle.root(hashes)
    shorter = RangeProof(start, end - 1, size, proof.left, proof.right)
    with contextlib.suppress(ProofError):  # or the hashes beside it no longer fit
        assert range_root(shorter, run[:-1]) != merkle.root(hashes)


def test_aligned_nodes_cover_a_range_with_the_fewest_complete_subtrees() -> None:
    assert aligned_nodes(0, 8) == [(3, 0)]
    assert aligned_nodes(3, 13) == [(0, 3), (2, 1), (2, 2), (0, 12)]
    assert aligned_nodes(5, 5) == []
    for start in range(40):
        for end in range(start, 41):
            covered = [
                i
                for level, index in aligned_nodes(start, end)
                for i in range(index << level, (index + 1) << level)
            ]
            assert covered == list(range(start, end))


postings = st.builds(
    Posting,
    st.integers(0, 2**53 - 1),
    st.sampled_from(list(PostingOp)),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=30),
    st.integers(1, 2**31),
    st.text(st.characters(codec="utf-8"), max_size=30),
    st.binary(min_size=32, max_size=32),
)


@given(postings)
def test_a_postings_bytes_are_its_canonical_json(posting: Posting) -> None:
    assert posting.to_bytes() == canonical_json(posting.as_json())
    assert parse_posting(json.loads(posting.to_bytes())) == posting


postings = st.builds(
    Posting,
    index=st.integers(0, 2**63 - 1),
    op=st.sampled_from(list(PostingOp)),
    entry_id=st.text(min_size=1, max_size=200),
    revision=st.integers(1, 2**31),
    occurred_at=st.text(max_size=40),
    leaf_hash=st.binary(min_size=32, max_size=32),
)


@given(postings)
def test_a_stored_posting_unpacks_to_the_posting_it_was(posting: Posting) -> None:
    assert unpack_posting(posting.pack()) == posting
    assert len(posting.pack()) < len(posting.to_bytes())


def test_bytes_that_are_no_stored_posting_are_refused() -> None:
    with pytest.raises(ValueError, match="not a stored posting"):
        unpack_posting(b'{"h":"x"}')
