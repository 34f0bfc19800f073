"""SqliteEntryRepository as a tenant log beyond the contract: several writers on one
file, a writer killed mid-stream, proofs served by index lookups, and the migration
of a file written before the logs existed."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path

import pytest

from audit_trail.adapters.storage.sqlite import SqliteEntryRepository
from audit_trail.adapters.storage.sqlite_log import SELECT_NODES, nodes_parameter
from audit_trail.adapters.storage.sqlite_schema import SCHEMA_VERSION
from audit_trail.core.errors import StorageUnavailable
from audit_trail.core.index.integrate import IndexIntegrator
from audit_trail.core.integrity.erasure import erased_revision
from audit_trail.core.integrity.leaf import sealed_leaf, sealed_record
from audit_trail.core.model import Entry
from audit_trail.core.timestamps import to_epoch_millis
from tests.contracts import rfc9162
from tests.contracts.builders import amended, make_entry, moment, tombstone
from tests.contracts.test_tenant_log import assert_tree_matches_leaves, bare, record

ROOT = Path(__file__).resolve().parents[2]
TENANT = "shared"  # the writer script's tenant
WRITER = [sys.executable, "-m", "tests.contracts.sqlite_log_writer"]
V1_INSERT = f"INSERT INTO revisions VALUES ({', '.join('?' * 19)})"  # noqa: S608


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "audit.db"


def start_writer(
    database: Path, name: str, commits: int, go: Path, pause_ms: int = 0
) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    process = subprocess.Popen(
        [*WRITER, str(database), name, str(commits), str(go), str(pause_ms)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "ready\n"
    return process


def acknowledged(lines: Iterator[str]) -> dict[int, list[bytes]]:
    """The groups a writer printed once their commit returned: first index -> leaves."""
    groups: dict[int, list[bytes]] = {}
    for line in lines:
        first, *leaves = line.split()
        groups[int(first)] = [bytes.fromhex(leaf) for leaf in leaves]
    return groups


async def assert_log_holds(
    log: SqliteEntryRepository, groups: dict[int, list[bytes]]
) -> list[bytes]:
    """Every acknowledged group sits where its commit said; returns every leaf."""
    size = await log.size(TENANT)
    stored = [leaf.leaf for leaf in await log.leaves(TENANT, 0, size)]
    for first, leaves in groups.items():
        assert stored[first : first + len(leaves)] == leaves
    await assert_tree_matches_leaves(log, TENANT)
    return stored


async def test_two_processes_appending_to_one_tenant_keep_one_log(
    database: Path, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    writers = [start_writer(database, name, 150, go, pause_ms=1) for name in ("a", "b")]
    go.touch()
    # both pipes at once, so neither writer waits on a full pipe; through their text
    # buffers (``communicate`` with a timeout would bypass them)
    with ThreadPoolExecutor(2) as readers:
        outputs = list(readers.map(lambda p: p.stdout.read() if p.stdout else "", writers))
    assert [process.wait(timeout=120) for process in writers] == [0, 0]
    groups = [acknowledged(iter(output.splitlines())) for output in outputs]

    async with await SqliteEntryRepository.open(database) as log:
        stored = await assert_log_holds(log, {**groups[0], **groups[1]})

    claimed = sorted(
        first + offset
        for g in groups
        for first, leaves in g.items()
        for offset in range(len(leaves))
    )
    assert claimed == list(range(len(stored)))  # every index exactly once, sizes add up
    firsts = {name: set(g) for name, g in zip("ab", groups, strict=True)}
    ordered = sorted(firsts["a"] | firsts["b"])
    switches = sum((x in firsts["a"]) != (y in firsts["a"]) for x, y in pairwise(ordered))
    assert switches > 2, "the writers did not interleave"  # so the edges were stale


async def test_a_writer_killed_mid_stream_leaves_a_log_that_verifies(
    database: Path, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    go.touch()
    everything: dict[int, list[bytes]] = {}
    for round_number in range(3):
        writer = start_writer(database, f"w{round_number}", 0, go)
        assert writer.stdout is not None
        lines = [writer.stdout.readline() for _ in range(40 + 17 * round_number)]
        writer.send_signal(signal.SIGKILL)
        rest = writer.stdout.read()  # printed before the kill: returned too
        assert writer.wait(timeout=30) == -signal.SIGKILL
        whole = [line for line in rest.splitlines(keepends=True) if line.endswith("\n")]
        everything.update(acknowledged(iter(lines + whole)))  # not a line cut by the kill

        async with await SqliteEntryRepository.open(database) as log:
            await assert_log_holds(log, everything)
            size = await log.size(TENANT)
            assert await log.commit(TENANT, [[bare()]]) == [size]  # and it grows on
            await assert_tree_matches_leaves(log, TENANT)


async def test_repositories_taking_turns_on_one_file_read_each_others_edges(
    database: Path,
) -> None:
    async with (
        await SqliteEntryRepository.open(database) as first,
        await SqliteEntryRepository.open(database) as second,
    ):
        for turn in range(12):
            log = first if turn % 3 else second  # each one's cached edge goes stale
            size = await log.size(TENANT)
            assert await log.commit(TENANT, [[bare() for _ in range(turn % 4 + 1)]]) == [size]
        await assert_tree_matches_leaves(first, TENANT)


async def test_node_hashes_are_index_lookups_in_one_statement(database: Path) -> None:
    async with await SqliteEntryRepository.open(database) as log:
        await log.commit(TENANT, [[bare() for _ in range(1000)]])
        proof_like = [(0, 999), (1, 498), (2, 248), (3, 123), (5, 30), (9, 0)]
        assert len(await log.node_hashes(TENANT, proof_like)) == len(proof_like)

    with sqlite3.connect(database) as db:
        parameters = (nodes_parameter(proof_like), TENANT)
        plan = [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {SELECT_NODES}", parameters)]
    touching = [step for step in plan if " n " in f" {step} " or " l " in f" {step} "]
    assert touching, plan
    assert all(step.startswith("SEARCH") for step in touching), plan


async def test_a_refused_group_leaves_no_row_anywhere(database: Path) -> None:
    async with await SqliteEntryRepository.open(database) as log:
        entry = make_entry(TENANT)
        await log.commit(TENANT, [[record(entry)]])
        results = await log.commit(TENANT, [[bare(), record(make_entry(TENANT, id=entry.id))]])
        assert not isinstance(results[0], int)

    with sqlite3.connect(database) as db:
        counts = {
            table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
            for table in ("revisions", "entry_tags", "log", "nodes")
        }
    assert counts == {"revisions": 1, "entry_tags": 1, "log": 1, "nodes": 0}


V1_SCHEMA = [
    """CREATE TABLE revisions (
        tenant TEXT NOT NULL, id TEXT NOT NULL, revision INTEGER NOT NULL,
        action TEXT NOT NULL, outcome TEXT NOT NULL, actor_id TEXT NOT NULL,
        actor_type TEXT, actor_name TEXT, target_type TEXT, target_id TEXT,
        target_name TEXT, occurred_at INTEGER NOT NULL, recorded_at INTEGER NOT NULL,
        tags TEXT NOT NULL, metadata TEXT NOT NULL, source_ip TEXT,
        source_user_agent TEXT, deleted INTEGER NOT NULL, live INTEGER NOT NULL,
        PRIMARY KEY (tenant, id, revision)) WITHOUT ROWID""",
    "CREATE INDEX revisions_by_time ON revisions (tenant, occurred_at, id) WHERE live = 1",
    """CREATE TABLE entry_tags (tenant TEXT NOT NULL, tag TEXT NOT NULL,
        occurred_at INTEGER NOT NULL, id TEXT NOT NULL,
        PRIMARY KEY (tenant, tag, occurred_at, id)) WITHOUT ROWID""",
    "CREATE UNIQUE INDEX revisions_by_id ON revisions (id, revision)",
    "PRAGMA user_version = 1",
]


def v1_row(entry: Entry, live: bool) -> tuple[object, ...]:
    """A revision as version 1 stored it (no target, no source, tags ["ui"])."""
    return (
        entry.tenant, entry.id, entry.revision, entry.action, entry.outcome.value,
        entry.actor.id, entry.actor.type, entry.actor.name, None, None, None,
        to_epoch_millis(entry.occurred_at), to_epoch_millis(entry.recorded_at),
        '["ui"]', '{"k":1}', None, None, int(entry.deleted), int(live),
    )  # fmt: skip


async def test_a_version_1_file_is_migrated_into_logs_that_verify(database: Path) -> None:
    kept = make_entry("t1", recorded_at=moment(5000), tags=("ui",), metadata={"k": 1})
    changed = make_entry("t1", recorded_at=moment(1000), tags=("ui",), metadata={"k": 1})
    changed_2 = amended(changed)
    gone = make_entry("t2", recorded_at=moment(2000), tags=("ui",), metadata={"k": 1})
    gone_2 = tombstone(gone)
    rows = [
        v1_row(kept, True),
        v1_row(changed, False),
        v1_row(changed_2, True),
        v1_row(gone, False),
        v1_row(gone_2, False),
    ]
    with sqlite3.connect(database) as db:
        for statement in V1_SCHEMA:
            db.execute(statement)
        db.executemany(V1_INSERT, rows)
        db.execute("INSERT INTO entry_tags VALUES (?, 'ui', ?, ?)", ("t1", 0, kept.id))
    db.close()

    async with await SqliteEntryRepository.open(database) as log:
        current = await log.get("t1", kept.id)
        assert current is not None
        assert (current.action, current.recorded_by, current.tags) == (kept.action, "", ("ui",))
        assert (await log.size("t1"), await log.size("t2")) == (3, 2)
        # in the order they were recorded, each revision's evidence naming its leaf
        in_order = [*await log.history("t1", changed.id), *await log.history("t1", kept.id)]
        t1 = [leaf.leaf for leaf in await log.leaves("t1", 0, 3)]
        evidence = [e.evidence for e in in_order]
        assert [rfc9162.leaf_hash(leaf) for leaf in t1] == [e.leaf_hash for e in evidence if e]
        assert [e.prev for e in evidence if e] == [None, rfc9162.leaf_hash(t1[0]), None]
        assert await log.leaf_index("t2", gone.id, 2) == 1
        assert await log.get("t2", gone.id) is None
        await assert_tree_matches_leaves(log, "t1")
        await assert_tree_matches_leaves(log, "t2")
        await log.amend(amended(current))  # the migrated entries take new revisions

    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


async def test_a_file_of_a_later_schema_is_refused(database: Path) -> None:
    with sqlite3.connect(database) as db:
        db.execute("PRAGMA user_version = 99")
    db.close()

    with pytest.raises(StorageUnavailable, match="version 99"):
        await SqliteEntryRepository.open(database)


async def test_a_version_4_file_gains_the_erased_column_and_its_entries_can_be_erased(
    database: Path,
) -> None:
    entry = make_entry("t1", metadata={"email": "ada@example.org", "n": 1})
    async with await SqliteEntryRepository.open(database) as log:
        await log.commit("t1", [[sealed_record(entry, None)]])
    with sqlite3.connect(database) as db:  # the file as version 4 kept it
        db.execute("ALTER TABLE revisions DROP COLUMN erased")
        db.execute("PRAGMA user_version = 4")
    db.close()

    async with await SqliteEntryRepository.open(database) as log:
        [stored] = await log.history("t1", entry.id)
        assert stored.erased == ()
        erased = erased_revision(stored, ["metadata.email"])
        assert erased is not None
        await log.rewrite([erased])
        [after] = await log.history("t1", entry.id)
        assert after.metadata == {"n": 1}
        assert after.erased == ("metadata.email",)
        assert sealed_leaf(after) == sealed_leaf(stored)  # the leaf the log holds
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert not [row for row in db.execute("SELECT * FROM revisions") if "ada@" in str(row)]
    db.close()


async def test_a_version_3_file_rebuilds_its_query_index_in_runs_under_the_same_key(
    database: Path,
) -> None:
    async with await SqliteEntryRepository.open(database) as log:
        entries = [make_entry("t1", recorded_at=moment(n)) for n in range(5)]
        await log.commit("t1", [[sealed_record(entry, None)] for entry in entries])
        before = await IndexIntegrator(log.query_index(), log).integrate("t1")
        index_key = await log.query_index().index_key("t1")
    with sqlite3.connect(database) as db:  # the file as version 3 kept it: a row a posting
        runs = db.execute("SELECT tenant, map_key, position, postings FROM posting_runs").fetchall()
        db.execute(
            "CREATE TABLE postings (tenant TEXT NOT NULL, map_key BLOB NOT NULL,"
            " position INTEGER NOT NULL, posting BLOB NOT NULL,"
            " PRIMARY KEY (tenant, map_key, position)) WITHOUT ROWID"
        )
        for tenant, map_key, position, run in runs:
            for offset, posting in enumerate(unframed(run)):
                db.execute(
                    "INSERT INTO postings VALUES (?, ?, ?, ?)",
                    (tenant, map_key, position + offset, posting),
                )
        db.execute("DROP TABLE posting_runs")
        db.execute("ALTER TABLE revisions DROP COLUMN erased")  # version 5's
        db.execute("PRAGMA user_version = 3")
    db.close()

    async with await SqliteEntryRepository.open(database) as log:
        index = log.query_index()
        assert await index.head("t1") is None  # emptied, to be built again
        assert await index.index_key("t1") == index_key
        after = await IndexIntegrator(index, log).integrate("t1")
        assert after.map_root == before.map_root  # the map its index leaf committed
        assert after.leaf_index is not None
        assert after.leaf_index > (before.leaf_index or 0)
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
        assert "postings" not in tables
        assert db.execute("SELECT COUNT(*) FROM posting_runs").fetchone()[0] > 0
    db.close()


def unframed(run: bytes) -> list[bytes]:
    """The postings of one row of ``posting_runs``, each after its 2-byte length."""
    postings, at = [], 0
    while at < len(run):
        length = int.from_bytes(run[at : at + 2], "big")
        postings.append(run[at + 2 : at + 2 + length])
        at += 2 + length
    return postings
