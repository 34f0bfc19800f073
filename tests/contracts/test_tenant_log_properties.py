"""TenantLog contract, as a property: any sequence of commits (bare leaves, new
entries, amendments, tombstones, duplicates, stale and skipping revisions, in groups
of any mix) leaves the log a plain-Python model predicts, with every complete subtree
stored under its RFC 9162 hash."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Protocol, cast

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit_trail.core.errors import DomainError, DuplicateEntry, EntryNotFound, RevisionConflict
from audit_trail.core.integrity.leaf import revision_record
from audit_trail.core.model import Entry
from audit_trail.core.ports import EntryRepository
from audit_trail.core.ports.log import LogRecord, TenantLog
from tests.contracts import rfc9162
from tests.contracts.builders import amended, make_entry, tombstone

_tenants = itertools.count()
_leaves = itertools.count()

Op = tuple[str, int]

ops = st.one_of(
    st.tuples(st.just("bare"), st.integers(0, 3)),
    st.tuples(st.just("new"), st.integers(1, 3)),
    st.tuples(st.sampled_from(["amend", "delete", "stale", "duplicate"]), st.integers(0, 99)),
    st.tuples(st.just("unknown"), st.just(0)),
)
commits = st.lists(st.lists(st.lists(ops, max_size=3), max_size=4), min_size=1, max_size=6)


class Storage(EntryRepository, TenantLog, Protocol):
    pass


@dataclass
class Model:
    """What the tenant's log and entries must hold: the revisions of each entry and
    the leaves, in order."""

    tenant: str
    history: dict[str, list[Entry]] = field(default_factory=dict)
    leaves: list[LogRecord] = field(default_factory=list)

    def copy(self) -> Model:
        history = {entry_id: list(revisions) for entry_id, revisions in self.history.items()}
        return Model(self.tenant, history, list(self.leaves))

    def pick(self, number: int) -> list[Entry] | None:
        if not self.history:
            return None
        return self.history[sorted(self.history)[number % len(self.history)]]

    def apply(self, op: Op) -> tuple[list[LogRecord], type[DomainError] | None]:
        """The records of ``op`` against this state, and the error they must meet
        (None: they go in, and this state takes them)."""
        kind, number = op
        if kind == "bare":
            leaves = [f"bare-{next(_leaves)}".encode() for _ in range(number)]
            records = [LogRecord(leaf, rfc9162.leaf_hash(leaf)) for leaf in leaves]
            self.leaves.extend(records)
            return records, None
        if kind == "unknown":
            return [revision_record(amended(make_entry(self.tenant)))], EntryNotFound
        revisions = self.pick(number)
        if kind == "new" or revisions is None:
            entries = [make_entry(self.tenant) for _ in range(max(number % 4, 1))]
            for entry in entries:
                self._store(entry)
            return [revision_record(e) for e in entries], None
        current = revisions[-1]
        if kind == "duplicate":
            return [revision_record(make_entry(self.tenant, id=current.id))], DuplicateEntry
        if kind == "stale":
            base = revisions[-2] if len(revisions) > 1 else amended(current)
            error = EntryNotFound if current.deleted else RevisionConflict
            return [revision_record(amended(base))], error
        following = tombstone(current) if kind == "delete" else amended(current)
        if current.deleted:
            return [revision_record(following)], EntryNotFound
        self._store(following)
        return [revision_record(following)], None

    def _store(self, revision: Entry) -> None:
        self.history.setdefault(revision.id, []).append(revision)
        self.leaves.append(revision_record(revision))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(script=commits)
async def test_any_sequence_of_commits_leaves_the_log_the_model_predicts(
    repository: EntryRepository, script: list[list[list[Op]]]
) -> None:
    log = cast(Storage, repository)
    model = Model(f"prop-{next(_tenants)}")  # hypothesis reuses the repository

    for commit in script:
        groups: list[list[LogRecord]] = []
        expected: list[int | set[type[DomainError]]] = []
        for group_ops in commit:
            attempt, records, errors = model.copy(), [], set()
            for op in group_ops:
                op_records, error = attempt.apply(op)
                records.extend(op_records)
                if error is not None:
                    errors.add(error)
            groups.append(records)
            expected.append(errors or len(model.leaves))
            if not errors:
                model = attempt

        results = await log.commit(model.tenant, groups)

        assert len(results) == len(expected)
        for result, wanted in zip(results, expected, strict=True):
            if isinstance(wanted, int):
                assert result == wanted
            else:
                assert isinstance(result, tuple(wanted)), (result, wanted)

    size = await log.size(model.tenant)
    stored = await log.leaves(model.tenant, 0, size)
    assert [leaf.leaf for leaf in stored] == [record.leaf for record in model.leaves]
    hashes = [rfc9162.leaf_hash(leaf.leaf) for leaf in stored]
    wanted_nodes = rfc9162.complete_subtrees(size)
    nodes = await log.node_hashes(model.tenant, wanted_nodes)
    assert dict(nodes) == {node: rfc9162.subtree_hash(hashes, node) for node in wanted_nodes}
    assert rfc9162.root_from(nodes, size) == rfc9162.tree_hash(hashes)
    for entry_id, revisions in model.history.items():
        assert list(await log.history(model.tenant, entry_id)) == revisions
        for revision in revisions:
            index = await log.leaf_index(model.tenant, entry_id, revision.revision)
            assert index is not None
            assert model.leaves[index].revision == revision
