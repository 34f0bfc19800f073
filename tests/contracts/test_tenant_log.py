"""TenantLog contract: commits of groups, sizes, leaves, stored subtree hashes that
agree with RFC 9162 recomputed from the leaves, checkpoints, one log per tenant.

Every storage adapter is the tenant log too, so this runs on the ``repository``
fixture; the hashes are recomputed with hashlib alone (``tests.contracts.rfc9162``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Protocol, cast

import pytest

from audit_trail.core.errors import DomainError, DuplicateEntry, EntryNotFound, RevisionConflict
from audit_trail.core.integrity.leaf import revision_record
from audit_trail.core.model import Entry
from audit_trail.core.ports import EntryRepository
from audit_trail.core.ports.log import LogRecord, StoredCheckpoint, StoredLeaf, TenantLog
from tests.contracts import rfc9162
from tests.contracts.builders import amended, make_entry, tombstone


class Storage(EntryRepository, TenantLog, Protocol):
    """What every storage adapter is: both ports on one store."""


@pytest.fixture
def log(repository: EntryRepository) -> Storage:
    return cast(Storage, repository)


_leaf_numbers = itertools.count()


def bare(text: str | None = None) -> LogRecord:
    """A leaf that commits no revision (as a retention purge's would)."""
    leaf = (text if text is not None else f"bare-{next(_leaf_numbers)}").encode()
    return LogRecord(leaf=leaf, leaf_hash=rfc9162.leaf_hash(leaf))


def record(entry: Entry) -> LogRecord:
    return revision_record(entry)


async def all_leaves(log: TenantLog, tenant: str) -> list[bytes]:
    size = await log.size(tenant)
    stored = await log.leaves(tenant, 0, size)
    assert [leaf.index for leaf in stored] == list(range(size))
    return [leaf.leaf for leaf in stored]


async def assert_tree_matches_leaves(log: TenantLog, tenant: str) -> None:
    """Every complete subtree is stored with the hash RFC 9162 gives it, and the root
    of the decomposition is the tree's root."""
    leaves = await all_leaves(log, tenant)
    hashes = [rfc9162.leaf_hash(leaf) for leaf in leaves]
    wanted = rfc9162.complete_subtrees(len(leaves))
    stored = await log.node_hashes(tenant, wanted)
    assert dict(stored) == {node: rfc9162.subtree_hash(hashes, node) for node in wanted}
    assert rfc9162.root_from(stored, len(leaves)) == rfc9162.tree_hash(hashes)


async def test_an_empty_log(log: Storage) -> None:
    assert await log.size("t1") == 0
    assert list(await log.leaves("t1", 0, 10)) == []
    assert dict(await log.node_hashes("t1", [(0, 0), (1, 0)])) == {}
    assert await log.leaf_index("t1", "no-such-id", 1) is None
    assert await log.latest_checkpoint("t1") is None


async def test_a_single_leaf(log: Storage) -> None:
    leaf = bare("hello")

    assert await log.commit("t1", [[leaf]]) == [0]

    assert await log.size("t1") == 1
    assert list(await log.leaves("t1", 0, 1)) == [StoredLeaf(0, b"hello")]
    assert dict(await log.node_hashes("t1", [(0, 0)])) == {(0, 0): rfc9162.leaf_hash(b"hello")}


async def test_each_group_gets_the_index_of_its_first_leaf(log: Storage) -> None:
    first, second, third = [bare(), bare()], [bare()], [bare(), bare(), bare()]

    assert await log.commit("t1", [first, second, third]) == [0, 2, 3]
    assert await log.commit("t1", [[bare()]]) == [6]
    assert await log.commit("t1", []) == []

    assert await log.size("t1") == 7
    expected = [r.leaf for r in [*first, *second, *third]]
    assert (await all_leaves(log, "t1"))[:6] == expected


async def test_revisions_are_stored_with_their_evidence(log: Storage) -> None:
    entry, other = make_entry(), make_entry()
    second = amended(entry, action="document.rename")
    gone = tombstone(other)
    between = bare()

    results = await log.commit(
        "t1", [[record(entry), record(other)], [record(second), between, record(gone)]]
    )

    assert results == [0, 2]
    assert await log.get("t1", entry.id) == second
    assert await log.get("t1", other.id) is None
    assert list(await log.history("t1", entry.id)) == [entry, second]
    assert list(await log.history("t1", other.id)) == [other, gone]
    assert [e.evidence for e in await log.history("t1", entry.id)] == [
        entry.evidence,
        second.evidence,
    ]
    assert await all_leaves(log, "t1") == [
        record(entry).leaf,
        record(other).leaf,
        record(second).leaf,
        between.leaf,
        record(gone).leaf,
    ]


async def test_leaf_index_of_each_revision(log: Storage) -> None:
    entry, other = make_entry(), make_entry()
    second = amended(entry)
    third = tombstone(second)
    await log.commit("t1", [[bare()], [record(entry), record(other)]])
    await log.commit("t1", [[record(second)], [bare(), record(third)]])

    positions = {
        (e.id, e.revision): await log.leaf_index("t1", e.id, e.revision)
        for e in (entry, other, second, third)
    }

    assert positions == {
        (entry.id, 1): 1,
        (other.id, 1): 2,
        (entry.id, 2): 3,
        (entry.id, 3): 5,
    }
    assert await log.leaf_index("t1", entry.id, 4) is None
    asked = [*positions, (entry.id, 4), (other.id, 2), ("no-such-id", 1)]
    assert dict(await log.leaf_indices("t1", asked)) == positions
    assert dict(await log.leaf_indices("t2", asked)) == {}
    assert dict(await log.leaf_indices("t1", [])) == {}
    for index, revision in [(1, entry), (3, second), (5, third)]:
        [stored] = await log.leaves("t1", index, index + 1)
        assert stored.leaf == record(revision).leaf


def refused(results: Sequence[int | DomainError], kind: type[DomainError]) -> bool:
    return any(isinstance(result, kind) for result in results)


async def test_a_refused_group_stores_nothing_and_the_others_go_in(log: Storage) -> None:
    existing = make_entry()
    deleted = make_entry()
    await log.commit("t1", [[record(existing), record(deleted)], [record(tombstone(deleted))]])
    before = await log.size("t1")
    stranger = make_entry()  # in a refused group with a duplicate: must not be stored
    newcomer = make_entry()  # in a refused group with an amendment of nothing
    accepted = [bare(), bare()]

    results = await log.commit(
        "t1",
        [
            [bare()],
            [record(stranger), record(make_entry(id=existing.id))],
            accepted,
            [record(newcomer), record(amended(make_entry()))],  # amends one never stored
            [record(amended(tombstone(deleted)))],  # amends a deleted entry
            [record(amended(amended(existing)))],  # skips revision 2
            [bare()],
        ],
    )

    assert results[0] == before
    assert isinstance(results[1], DuplicateEntry)
    assert results[2] == before + 1
    assert isinstance(results[3], EntryNotFound)
    assert isinstance(results[4], EntryNotFound)
    assert isinstance(results[5], RevisionConflict)
    assert results[6] == before + 3
    assert await log.size("t1") == before + 4
    assert await log.get("t1", stranger.id) is None
    assert await log.leaf_index("t1", stranger.id, 1) is None
    assert await log.get("t1", newcomer.id) is None
    assert list(await log.history("t1", newcomer.id)) == []
    assert await log.get("t1", existing.id) == existing
    await assert_tree_matches_leaves(log, "t1")
    assert await log.commit("t1", [[record(stranger)]]) == [before + 4]


async def test_a_stale_revision_is_a_conflict(log: Storage) -> None:
    entry = make_entry()
    await log.commit("t1", [[record(entry)], [record(amended(entry, action="a.first"))]])

    results = await log.commit("t1", [[record(amended(entry, action="a.second"))]])

    assert refused(results, RevisionConflict)
    assert await log.size("t1") == 2


async def test_a_group_may_record_and_then_amend_an_entry(log: Storage) -> None:
    entry = make_entry()
    second = amended(entry)

    assert await log.commit("t1", [[record(entry), record(second)]]) == [0]

    assert list(await log.history("t1", entry.id)) == [entry, second]


async def test_an_id_twice_in_one_group_or_in_another_tenant_is_a_duplicate(
    log: Storage,
) -> None:
    entry = make_entry()
    foreign = make_entry("t2")
    await log.commit("t2", [[record(foreign)]])

    results = await log.commit(
        "t1",
        [
            [record(entry), record(make_entry(id=entry.id))],
            [record(make_entry(id=foreign.id))],
        ],
    )

    assert isinstance(results[0], DuplicateEntry)
    assert isinstance(results[1], DuplicateEntry)
    assert await log.size("t1") == 0
    assert await log.get("t1", entry.id) is None


async def test_a_later_group_sees_what_an_earlier_one_of_the_same_commit_stored(
    log: Storage,
) -> None:
    entry = make_entry()
    second = amended(entry)

    results = await log.commit(
        "t1", [[record(entry)], [record(second)], [record(make_entry(id=entry.id))]]
    )

    assert results[:2] == [0, 1]
    assert isinstance(results[2], DuplicateEntry)
    assert await log.get("t1", entry.id) == second


async def test_leaves_by_range_are_clipped_to_the_log(log: Storage) -> None:
    records = [bare() for _ in range(5)]
    await log.commit("t1", [records])
    everything = [StoredLeaf(i, r.leaf) for i, r in enumerate(records)]

    assert list(await log.leaves("t1", 0, 5)) == everything
    assert list(await log.leaves("t1", -3, 100)) == everything
    assert list(await log.leaves("t1", 1, 3)) == everything[1:3]
    assert list(await log.leaves("t1", 3, 3)) == []
    assert list(await log.leaves("t1", 4, 2)) == []
    assert list(await log.leaves("t1", 5, 10)) == []


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 13, 16, 33])
async def test_every_complete_subtree_is_stored_with_its_rfc9162_hash(
    log: Storage, size: int
) -> None:
    # in commits of 1, 2, 3... leaves, so nodes span commits
    records = [bare() for _ in range(size)]
    start, step = 0, 1
    while start < size:
        await log.commit("t1", [records[start : start + step]])
        start, step = start + step, step + 1

    await assert_tree_matches_leaves(log, "t1")


async def test_nodes_beyond_the_complete_subtrees_are_absent(log: Storage) -> None:
    await log.commit("t1", [[bare() for _ in range(13)]])

    found = await log.node_hashes("t1", [(0, 12), (0, 13), (1, 6), (2, 3), (3, 1), (4, 0)])

    assert sorted(found) == [(0, 12)]


async def test_the_root_of_each_size_as_the_log_grows(log: Storage) -> None:
    hashes: list[bytes] = []
    for size in range(1, 18):
        leaf = bare()
        await log.commit("t1", [[leaf]])
        hashes.append(leaf.leaf_hash)
        nodes = await log.node_hashes("t1", rfc9162.decomposition(size))
        assert rfc9162.root_from(nodes, size) == rfc9162.tree_hash(hashes)


async def test_checkpoints(log: Storage) -> None:
    await log.commit("t1", [[bare() for _ in range(5)]])
    two, five = StoredCheckpoint(2, "note of 2\n"), StoredCheckpoint(5, "note of 5\n")

    await log.save_checkpoint("t1", five)
    await log.save_checkpoint("t1", two)
    await log.save_checkpoint("t1", five)  # idempotent

    assert await log.latest_checkpoint("t1") == five
    assert await log.checkpoint_at("t1", 2) == two
    assert await log.checkpoint_at("t1", 5) == five
    assert await log.checkpoint_at("t1", 3) is None


async def test_each_tenant_has_its_own_log(log: Storage) -> None:
    mine, theirs = make_entry("t1"), make_entry("t2")
    await log.commit("t1", [[bare("a"), record(mine)]])
    assert await log.commit("t2", [[record(theirs)]]) == [0]
    await log.save_checkpoint("t1", StoredCheckpoint(2, "t1 at 2\n"))

    assert (await log.size("t1"), await log.size("t2"), await log.size("t3")) == (2, 1, 0)
    assert await all_leaves(log, "t2") == [record(theirs).leaf]
    assert await log.leaf_index("t2", mine.id, 1) is None
    assert await log.leaf_index("t1", mine.id, 1) == 1
    assert await log.latest_checkpoint("t2") is None
    assert await log.checkpoint_at("t2", 2) is None
    assert dict(await log.node_hashes("t2", [(1, 0)])) == {}
    assert dict(await log.node_hashes("t3", [(0, 0)])) == {}
    await assert_tree_matches_leaves(log, "t1")
    await assert_tree_matches_leaves(log, "t2")
    for lookalike in ("T1", "t1 ", "t", "%", ""):
        assert await log.size(lookalike) == 0


async def test_a_group_refused_for_its_last_record_stores_none_of_the_ones_before(
    log: Storage,
) -> None:
    taken = make_entry()
    await log.append(taken)
    results = await log.commit("t1", [[bare(), record(taken)]])
    assert isinstance(results[0], DuplicateEntry)
    assert await log.size("t1") == 1


async def test_a_refused_group_does_not_count_for_the_groups_after_it(log: Storage) -> None:
    first, second = make_entry(), make_entry()
    await log.append(first)
    await log.append(second)
    fix = amended(first, action="fix.one")
    same_fix = amended(first, action="fix.two")  # revision 2 as well: it follows revision 1
    results = await log.commit("t1", [[record(fix), record(second)], [record(same_fix)]])
    assert isinstance(results[0], DuplicateEntry)
    assert results[1] == 2
    assert await log.get("t1", first.id) == same_fix


async def test_a_refused_lone_duplicate_does_not_count_for_the_groups_after_it(
    log: Storage,
) -> None:
    # Found by hypothesis: a duplicate revision 1 alone in its group, followed in the
    # same commit by an amendment of the entry whose id it reuses.
    entry = make_entry()
    second = amended(entry)
    await log.commit("t1", [[record(entry), record(second)]])
    third = amended(second)
    results = await log.commit("t1", [[record(make_entry(id=entry.id))], [record(third)]])
    assert isinstance(results[0], DuplicateEntry)
    assert results[1] == 2
    assert await log.get("t1", entry.id) == third
