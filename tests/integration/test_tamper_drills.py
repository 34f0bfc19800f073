"""Tamper drills: history changed behind the API's back, in the database itself, is
caught by ``audit-trail verify`` (docs/integrity.md, "Threat model").

For each store (a real SQLite file; a real mongod) a real ``audit-trail serve``
process runs for the module; each test takes a fresh tenant, records a handful of
entries through HTTP (some amended, one deleted), runs ``audit-trail verify --full``
once (it passes and saves its state file), then tampers directly in the database
(sqlite3, pymongo) and runs ``verify`` again: it must exit 1 with a FAIL line naming
what failed (the entry and its revision, or the tree size).

The drills: (1) one field of a stored revision edited (the current one's action, an
older one's metadata value); (2) an entry's revisions deleted with its leaves kept
(on MongoDB, where a revision's document is its leaf too, each becomes a document that
commits no revision), with its leaves too (a hole in the log), or the last one with
its leaf, checkpoint and subtree hashes (a truncated log); (3) two entries swapped, by
their values or by their log positions; (4) the tenant's log rewritten from scratch:
with the service stopped everything of the tenant is dropped, then other entries are
recorded through the API (fewer, as many, more): on its own the new log verifies, and
the checkpoint in the saved state file is what catches it; (5) a query's answer
changed under ``verify query``; (6) an index leaf appended to the log in the database,
claiming the map for fewer leaves than it covers: the service signs it into its next
checkpoint, and ``verify --full``, deriving the map from the log, names it. Drills 1 to
3, 5 and 6 tamper while the service runs; it keeps nothing of entries in memory
(``AUDIT_CACHE=none``).
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
from bson import ObjectId
from pymongo.database import Database

from audit_trail.adapters.auth.minting import mint_token
from audit_trail.adapters.storage.mongo_documents import revision_id
from audit_trail.adapters.storage.sqlite_log import edge_nodes
from audit_trail.core.integrity import CompactRange, leaf_hash
from audit_trail.core.integrity.canonical import canonical_json
from tests.integration.test_cli_serve import API, ENTRY, Service, cli, environment, serving
from tests.servers import MongodServer

pytestmark = pytest.mark.timeout(120)

SECRET = "a-tamper-drill-secret-of-32-bytes-or-more"
SOURCE = Path(__file__).resolve().parents[2] / "src"  # this checkout's code, not the venv's


class Tamperer(Protocol):
    """Direct database access to one store, bypassing the service."""

    def leaf_index(self, tenant: str, entry_id: str, revision: int) -> int: ...

    def edit_field(self, tenant: str, entry_id: str, revision: int, path: str, value: Any) -> None:
        """Set ``path`` (``action`` or ``metadata.<key>``) of one stored revision."""

    def delete_entry(self, tenant: str, entry_id: str, *, leaves: bool) -> None:
        """Remove every revision of an entry, and its leaves too when ``leaves``."""

    def roll_back(self, tenant: str, entry_id: str) -> None:
        """Remove an entry's latest revision (its leaf stays) and make the one before
        it current again."""

    def swap_values(self, tenant: str, one: str, other: str) -> None:
        """Swap everything two entries' current revisions hold, but their ids."""

    def swap_positions(self, tenant: str, first: int, second: int) -> None:
        """Swap two leaves of the tenant's log (with what points at them)."""

    def forget_beyond(self, tenant: str, size: int) -> None:
        """Drop the checkpoints of trees larger than ``size`` and the subtree hashes
        that cover a leaf at ``size`` or later: what a careful truncation does too."""

    def wipe(self, tenant: str) -> None:
        """Drop everything the store holds of the tenant: entries, log, tree, checkpoints."""

    def append_leaf(self, tenant: str, leaf: bytes) -> int:
        """Append a leaf that holds no revision to the tenant's log (its subtree hashes
        too, or left for the service to integrate); its index."""


class Store:
    """One ``audit-trail serve`` process on one store, and direct access to the store."""

    def __init__(self, kind: str, env: dict[str, str], workdir: Path, tamper: Tamperer) -> None:
        self.kind, self.env, self.workdir, self.tamper = kind, env, workdir, tamper
        self._running = ExitStack()
        self.service = self._start()
        key = cli(workdir, env, "log-key")
        assert key.returncode == 0, key.stderr
        self.vkey = key.stdout.strip()

    def _start(self) -> Service:
        self._running = ExitStack()
        return self._running.enter_context(serving("litestar", self.workdir, self.env))

    def stop(self) -> None:
        self._running.close()

    @contextmanager
    def stopped(self) -> Iterator[None]:
        """The service stopped for the duration, then started afresh (another port)."""
        self.stop()
        yield
        self.service = self._start()


@dataclass
class Verdict:
    code: int
    out: str
    err: str

    def __str__(self) -> str:
        return f"exit {self.code}\nstdout:\n{self.out}\nstderr:\n{self.err}"

    def failures(self) -> list[str]:
        return [line for line in self.out.splitlines() if line.startswith("FAIL ")]


@dataclass
class Tenant:
    """A fresh tenant with a small history, verified once (its state file saved)."""

    store: Store
    name: str
    token: str
    state: Path
    ids: list[str] = field(default_factory=list)

    @property
    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.store.service.url + API,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )

    def record(self, n: int, action: str = "document.update") -> str:
        with self.client as client:
            body = {**ENTRY, "action": action, "metadata": {"n": n, "field": "title"}}
            response = client.post("/entries", json=body)
        assert response.status_code == 201, response.text
        entry_id: str = response.json()["id"]
        return entry_id

    def amend(self, entry_id: str, n: int) -> None:
        with self.client as client:
            body = {**ENTRY, "action": "document.rename", "metadata": {"n": n, "field": "name"}}
            response = client.put(f"/entries/{entry_id}", json=body)
        assert response.status_code == 200, response.text

    def delete(self, entry_id: str) -> None:
        with self.client as client:
            response = client.delete(f"/entries/{entry_id}")
        assert response.status_code in (200, 204), response.text

    def verify(self, *args: str) -> Verdict:
        store = self.store
        done = cli(store.workdir, store.env, "verify", "--url", store.service.url,
                   "--token", self.token, "--vkey", store.vkey, "--state", str(self.state),
                   *args)  # fmt: skip
        return Verdict(done.returncode, done.stdout, done.stderr)


# --- the stores ---


class SqliteTamperer:
    # what a revision holds besides its identity (tenant, id, revision) and liveness
    CONTENT = (
        "action", "outcome", "actor_id", "actor_type", "actor_name", "target_type",
        "target_id", "target_name", "occurred_at", "recorded_at", "tags", "metadata",
        "source_ip", "source_user_agent", "recorded_by", "salts", "prev", "leaf_hash",
    )  # fmt: skip

    def __init__(self, path: Path) -> None:
        self.path = path

    def _run(self, *statements: tuple[str, tuple[Any, ...]]) -> list[list[Any]]:
        with closing(sqlite3.connect(self.path, timeout=10)) as db, db:
            return [db.execute(sql, parameters).fetchall() for sql, parameters in statements]

    def leaf_index(self, tenant: str, entry_id: str, revision: int) -> int:
        [rows] = self._run(
            (
                "SELECT idx FROM log WHERE tenant = ? AND entry_id = ? AND revision = ?",
                (tenant, entry_id, revision),
            )
        )
        return int(rows[0][0])

    def edit_field(self, tenant: str, entry_id: str, revision: int, path: str, value: Any) -> None:
        where = "WHERE tenant = ? AND id = ? AND revision = ?"
        key = (tenant, entry_id, revision)
        if path.startswith("metadata."):
            sql = f"UPDATE revisions SET metadata = json_set(metadata, ?, json(?)) {where}"  # noqa: S608
            parameters: tuple[Any, ...] = (f"$.{path.removeprefix('metadata.')}", json.dumps(value))
        else:
            sql, parameters = f"UPDATE revisions SET {path} = ? {where}", (value,)  # noqa: S608
        [changed] = self._run((sql + " RETURNING id", parameters + key))
        assert len(changed) == 1

    def delete_entry(self, tenant: str, entry_id: str, *, leaves: bool) -> None:
        statements = [
            ("DELETE FROM revisions WHERE tenant = ? AND id = ? RETURNING id", (tenant, entry_id)),
            ("DELETE FROM entry_tags WHERE tenant = ? AND id = ?", (tenant, entry_id)),
        ]
        if leaves:
            leaf = "DELETE FROM log WHERE tenant = ? AND entry_id = ? RETURNING idx"
            statements.append((leaf, (tenant, entry_id)))
        results = self._run(*statements)
        assert results[0], f"no revisions of {entry_id!r}"
        assert not leaves or results[2], f"no leaves of {entry_id!r}"

    def roll_back(self, tenant: str, entry_id: str) -> None:
        key = "tenant = ? AND id = ?"
        latest = f"(SELECT MAX(revision) FROM revisions WHERE {key})"  # noqa: S608
        [gone, back] = self._run(
            (f"DELETE FROM revisions WHERE {key} AND revision = {latest} RETURNING revision",  # noqa: S608
             (tenant, entry_id, tenant, entry_id)),
            (f"UPDATE revisions SET live = 1 WHERE {key} AND revision = {latest} RETURNING id",  # noqa: S608
             (tenant, entry_id, tenant, entry_id)),
        )  # fmt: skip
        assert gone
        assert back

    def swap_values(self, tenant: str, one: str, other: str) -> None:
        names = ", ".join(self.CONTENT)
        select = f"SELECT {names} FROM revisions WHERE tenant = ? AND id = ? AND live = 1"  # noqa: S608
        [[first], [second]] = self._run((select, (tenant, one)), (select, (tenant, other)))
        assignments = ", ".join(f"{name} = ?" for name in self.CONTENT)
        update = f"UPDATE revisions SET {assignments} WHERE tenant = ? AND id = ? AND live = 1"  # noqa: S608
        self._run((update, (*second, tenant, one)), (update, (*first, tenant, other)))

    def swap_positions(self, tenant: str, first: int, second: int) -> None:
        move = "UPDATE log SET idx = ? WHERE tenant = ? AND idx = ? RETURNING idx"
        results = self._run(
            (move, (-1, tenant, first)),
            (move, (first, tenant, second)),
            (move, (second, tenant, -1)),
        )
        assert all(results)

    def forget_beyond(self, tenant: str, size: int) -> None:
        self._run(
            ("DELETE FROM checkpoints WHERE tenant = ? AND size > ?", (tenant, size)),
            ("DELETE FROM nodes WHERE tenant = ? AND ((idx + 1) << level) > ?", (tenant, size)),
        )

    def wipe(self, tenant: str) -> None:
        tables = ("revisions", "entry_tags", "log", "nodes", "checkpoints")
        self._run(*((f"DELETE FROM {table} WHERE tenant = ?", (tenant,)) for table in tables))  # noqa: S608

    def append_leaf(self, tenant: str, leaf: bytes) -> int:
        [[(size,)]] = self._run(("SELECT COUNT(*) FROM log WHERE tenant = ?", (tenant,)))
        edge = []
        for level, index in edge_nodes(size):
            parameters: tuple[Any, ...] = (tenant, index)
            sql = "SELECT leaf_hash FROM log WHERE tenant = ? AND idx = ?"
            if level > 0:
                sql = "SELECT hash FROM nodes WHERE tenant = ? AND level = ? AND idx = ?"
                parameters = (tenant, level, index)
            [[(digest,)]] = self._run((sql, parameters))
            edge.append(bytes(digest))
        completed = CompactRange(size, edge).append([leaf_hash(leaf)])
        insert = "INSERT INTO log (tenant, idx, leaf_hash, leaf) VALUES (?, ?, ?, ?)"
        node = "INSERT INTO nodes (tenant, level, idx, hash) VALUES (?, ?, ?, ?)"
        self._run(
            (insert, (tenant, size, leaf_hash(leaf), leaf)),
            *((node, (tenant, level, index, digest)) for (level, index), digest in completed),
        )
        return int(size)


class MongoTamperer:
    """On MongoDB each document of ``entries`` is a revision AND its leaf (``log_index``,
    ``leaf``, ``leaf_hash``); ``tree`` holds the subtree hashes and each tenant's head."""

    # what a revision document holds besides its identity, liveness and leaf
    CONTENT = (
        "action", "outcome", "actor_id", "actor_type", "actor_name", "target_type",
        "target_id", "target_name", "occurred_at", "recorded_at", "tags", "metadata",
        "source_ip", "source_user_agent", "recorded_by", "salts", "prev",
    )  # fmt: skip

    def __init__(self, database: Database[dict[str, Any]]) -> None:
        self.db = database

    def leaf_index(self, tenant: str, entry_id: str, revision: int) -> int:
        document = self.db.entries.find_one({"_id": revision_id(entry_id, revision)})
        assert document is not None
        assert document["tenant"] == tenant
        return int(document["log_index"])

    def edit_field(self, tenant: str, entry_id: str, revision: int, path: str, value: Any) -> None:
        key = {"_id": revision_id(entry_id, revision), "tenant": tenant}
        assert self.db.entries.update_one(key, {"$set": {path: value}}).modified_count == 1

    def delete_entry(self, tenant: str, entry_id: str, *, leaves: bool) -> None:
        revisions = {"tenant": tenant, "id": entry_id}
        if leaves:
            assert self.db.entries.delete_many(revisions).deleted_count > 0
            return
        # the revisions go; each leaf stays, as a document that commits no revision
        documents = list(self.db.entries.find(revisions))
        assert documents
        for document in documents:
            self.db.entries.delete_one({"_id": document["_id"]})
            bare = {k: document[k] for k in ("tenant", "log_index", "leaf", "leaf_hash")}
            self.db.entries.insert_one({"_id": ObjectId(), **bare})

    def roll_back(self, tenant: str, entry_id: str) -> None:
        [latest, before] = self.db.entries.find(
            {"tenant": tenant, "id": entry_id}, sort=[("revision", -1)], limit=2
        )
        self.db.entries.delete_one({"_id": latest["_id"]})
        bare = {k: latest[k] for k in ("tenant", "log_index", "leaf", "leaf_hash")}
        self.db.entries.insert_one({"_id": ObjectId(), **bare})
        self.db.entries.update_one({"_id": before["_id"]}, {"$set": {"live": True}})

    def _current(self, tenant: str, entry_id: str) -> dict[str, Any]:
        document = self.db.entries.find_one({"tenant": tenant, "id": entry_id, "live": True})
        assert document is not None
        return document

    def swap_values(self, tenant: str, one: str, other: str) -> None:
        first, second = self._current(tenant, one), self._current(tenant, other)
        for mine, theirs in ((first, second), (second, first)):
            content = {k: theirs[k] for k in self.CONTENT if k in theirs}
            missing = {k: "" for k in self.CONTENT if k in mine and k not in theirs}
            update: dict[str, Any] = {"$set": content}
            if missing:
                update["$unset"] = missing
            self.db.entries.update_one({"_id": mine["_id"]}, update)

    def swap_positions(self, tenant: str, first: int, second: int) -> None:
        def move(source: int, target: int) -> None:
            key = {"tenant": tenant, "log_index": source}
            assert self.db.entries.update_one(key, {"$set": {"log_index": target}}).matched_count

        move(first, -1)
        move(second, first)
        move(-1, second)

    def forget_beyond(self, tenant: str, size: int) -> None:
        self.db.checkpoints.delete_many({"tenant": tenant, "size": {"$gt": size}})
        for node in self.db.tree.find({"_id": {"$regex": f"^{tenant}:[0-9]+:[0-9]+$"}}):
            level, index = map(int, node["_id"].split(":")[1:])
            if (index + 1) << level > size:
                self.db.tree.delete_one({"_id": node["_id"]})
        hashes = []  # the head: the right edge of the tree of ``size`` leaves
        for level, index in edge_nodes(size):
            if level == 0:
                leaf = self.db.entries.find_one({"tenant": tenant, "log_index": index})
                assert leaf is not None
                hashes.append(leaf["leaf_hash"])
            else:
                stored = self.db.tree.find_one({"_id": f"{tenant}:{level}:{index}"})
                assert stored is not None
                hashes.append(stored["h"])
        self.db.tree.update_one(
            {"_id": f"{tenant}:head"}, {"$set": {"size": size, "hashes": hashes}}
        )

    def wipe(self, tenant: str) -> None:
        self.db.entries.delete_many({"tenant": tenant})
        self.db.tree.delete_many({"_id": {"$regex": f"^{tenant}:"}})
        self.db.checkpoints.delete_many({"tenant": tenant})

    def append_leaf(self, tenant: str, leaf: bytes) -> int:
        # stored as a writer that died before integrating it leaves it: the service's
        # next commit takes it into the tree
        last = self.db.entries.find_one({"tenant": tenant}, sort=[("log_index", -1)])
        size = 0 if last is None else int(last["log_index"]) + 1
        bare = {"tenant": tenant, "log_index": size, "leaf": leaf, "leaf_hash": leaf_hash(leaf)}
        self.db.entries.insert_one({"_id": ObjectId(), **bare})
        return size


Settings = tuple[dict[str, str], Callable[[], Tamperer]]


def _sqlite_store(request: pytest.FixtureRequest, stack: ExitStack, workdir: Path) -> Settings:
    path = workdir / "tamper.db"
    settings = {"AUDIT_STORAGE": "sqlite", "AUDIT_SQLITE_PATH": str(path)}
    return settings, lambda: SqliteTamperer(path)


def _mongo_store(request: pytest.FixtureRequest, stack: ExitStack, workdir: Path) -> Settings:
    server: MongodServer = request.getfixturevalue("mongod_server")
    name = f"tamper_{uuid.uuid4().hex}"
    client = stack.enter_context(server.client())
    stack.callback(client.drop_database, name)
    settings = {"AUDIT_STORAGE": "mongo", "AUDIT_MONGO_URI": server.uri,
                "AUDIT_MONGO_DATABASE": name}  # fmt: skip
    return settings, lambda: MongoTamperer(client[name])


STORES = {"sqlite": _sqlite_store, "mongo": _mongo_store}


@pytest.fixture(scope="module", params=sorted(STORES))
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    kind: str = request.param
    home = tmp_path_factory.mktemp(f"tamper-{kind}")
    workdir = home / "work"
    workdir.mkdir()
    stack = ExitStack()
    settings, tamperer = STORES[kind](request, stack, workdir)
    env = environment(
        home,
        PYTHONPATH=str(SOURCE),
        AUDIT_JWT_SECRET=SECRET,
        AUDIT_LOG_SIGNING_KEY_FILE=str(home / "log-key.pem"),
        AUDIT_LOG_ORIGIN="tamper.example/log",
        AUDIT_CACHE="none",
        # the drills tamper with leaves by position: no index leaf may land in between
        AUDIT_QUERY_INDEX_DELAY_SECONDS="0",
        **settings,
    )
    with stack:
        store = Store(kind, env, workdir, tamperer())
        try:
            yield store
        finally:
            store.stop()


@pytest.fixture
def tenant(store: Store, tmp_path: Path) -> Tenant:
    """Five entries: 0 and 4 as recorded, 1 amended once, 2 amended twice, 3 deleted
    (nine leaves), and a first ``verify --full`` that passes and saves its state."""
    name = f"t{uuid.uuid4().hex[:12]}"
    scopes = ["audit:read", "audit:write", "audit:admin"]
    token = mint_token(key=SECRET, subject="drill", tenant=name, scopes=scopes, ttl_seconds=3600)
    tenant = Tenant(store, name, token, tmp_path / "verify-state.json")
    tenant.ids = [tenant.record(n) for n in range(5)]
    tenant.amend(tenant.ids[1], 10)
    tenant.amend(tenant.ids[2], 20)
    tenant.amend(tenant.ids[2], 21)
    tenant.delete(tenant.ids[3])
    first = tenant.verify("--full")
    assert first.code == 0, first
    assert "tree size 9" in first.out, first
    assert "4 live entries" in first.out, first
    assert tenant.state.exists()
    return tenant


def _caught(verdict: Verdict, *names: str) -> list[str]:
    """The FAIL lines of a failed verify, which name each of ``names`` somewhere."""
    print(verdict)  # shown with -s, and on failure
    assert verdict.code == 1, verdict
    failures = verdict.failures()
    assert failures, verdict
    for name in names:
        assert any(name in line for line in failures), f"no FAIL line names {name!r}:\n{verdict}"
    return failures


# --- (1) one field of a stored entry changed ---


def test_an_edited_action_is_caught(tenant: Tenant) -> None:
    amended = tenant.ids[1]
    tenant.store.tamper.edit_field(tenant.name, amended, 2, "action", "document.read")
    subject = f"entry {amended} revision 2"
    _caught(tenant.verify("--entry", amended), subject, "action")
    _caught(tenant.verify("--full"), subject, "action")


def test_an_edited_metadata_value_of_an_old_revision_is_caught(tenant: Tenant) -> None:
    amended = tenant.ids[2]
    tenant.store.tamper.edit_field(tenant.name, amended, 1, "metadata.n", 99)
    _caught(tenant.verify("--entry", amended), f"entry {amended} revision 1", "metadata.n")


# --- (2) an entry deleted ---


def test_a_deleted_entry_is_caught(tenant: Tenant) -> None:
    gone = tenant.ids[1]  # amended: both revisions go, its leaves stay
    tenant.store.tamper.delete_entry(tenant.name, gone, leaves=False)
    _caught(tenant.verify("--full"), f"entry {gone}")
    _caught(tenant.verify("--entry", gone), f"entry {gone}")


def test_a_deleted_entry_with_its_leaves_is_caught(tenant: Tenant) -> None:
    gone = tenant.ids[0]  # leaf 0: the log keeps its size, with a hole at its start
    tenant.store.tamper.delete_entry(tenant.name, gone, leaves=True)
    _caught(tenant.verify("--full"), "tree size 9")
    _caught(tenant.verify("--entry", gone), f"entry {gone}")


def test_a_deleted_last_entry_with_its_leaf_is_caught(tenant: Tenant) -> None:
    gone = tenant.record(5)  # leaf 9, the last: the log shrinks back to 9 leaves
    verified = tenant.verify("--full")
    assert verified.code == 0, verified
    tamper = tenant.store.tamper
    tamper.delete_entry(tenant.name, gone, leaves=True)
    # the service still serves the kept checkpoint of 10 leaves, and 9 leaves
    _caught(tenant.verify("--full"), "tree size 10")
    # and without the checkpoints and subtree hashes that cover leaf 9
    tamper.forget_beyond(tenant.name, 9)
    _caught(tenant.verify("--full"), "tree size 9", "shrank")
    _caught(tenant.verify("--entry", tenant.ids[0]), "tree size 9", "shrank")


# --- (3) two entries swapped ---


def test_two_entries_with_swapped_values_are_caught(tenant: Tenant) -> None:
    one, other = tenant.ids[0], tenant.ids[4]
    tenant.store.tamper.swap_values(tenant.name, one, other)
    _caught(tenant.verify("--full"), f"entry {one} revision 1", f"entry {other} revision 1")
    _caught(tenant.verify("--entry", one), f"entry {one} revision 1")


def test_two_entries_with_swapped_log_positions_are_caught(tenant: Tenant) -> None:
    one, other = tenant.ids[0], tenant.ids[4]
    tamper = tenant.store.tamper
    first, second = (tamper.leaf_index(tenant.name, i, 1) for i in (one, other))
    tamper.swap_positions(tenant.name, first, second)
    _caught(tenant.verify("--full"), "tree size 9")
    _caught(tenant.verify("--entry", one), f"entry {one} revision 1")


# --- (4) the whole tenant log rewritten from scratch ---


@pytest.mark.parametrize("entries", [5, 9, 12], ids=["smaller", "same-size", "larger"])
def test_a_log_rewritten_from_scratch_is_caught(tenant: Tenant, entries: int) -> None:
    with tenant.store.stopped():  # a fresh process: nothing of the old log in its memory
        tenant.store.tamper.wipe(tenant.name)
    rewritten = [tenant.record(n, action="document.forged") for n in range(entries)]
    # on its own the new log verifies: only the saved checkpoint tells it from the old
    fresh = tenant.verify("--full", "--state", str(tenant.state.with_name("fresh.json")))
    assert fresh.code == 0, fresh
    failures = _caught(tenant.verify("--full"), f"tree size {entries}")
    assert any("9" in line for line in failures), failures
    _caught(tenant.verify("--entry", rewritten[0]), f"tree size {entries}")


# --- (5) a query's answer, proven complete (docs/query-proofs.md) ---


def _query(tenant: Tenant) -> Verdict:
    return tenant.verify("query", "--actor-id", ENTRY["actor"]["id"])  # type: ignore[index]


def test_a_matching_entry_deleted_is_named_by_verify_query(tenant: Tenant) -> None:
    honest = _query(tenant)
    assert honest.code == 0, honest
    assert "query: 4 entries" in honest.out, honest
    tenant.store.tamper.delete_entry(tenant.name, tenant.ids[4], leaves=False)
    _caught(_query(tenant), f"entry {tenant.ids[4]}: missing")


def test_a_matching_entrys_actor_changed_is_named_by_verify_query(tenant: Tenant) -> None:
    assert _query(tenant).code == 0
    tenant.store.tamper.edit_field(tenant.name, tenant.ids[0], 1, "actor_id", "u-someone-else")
    _caught(_query(tenant), f"entry {tenant.ids[0]}")


def test_an_entry_rolled_back_to_an_older_revision_is_named_by_verify_query(
    tenant: Tenant,
) -> None:
    assert _query(tenant).code == 0
    tenant.store.tamper.roll_back(tenant.name, tenant.ids[2])
    _caught(_query(tenant), f"entry {tenant.ids[2]}")


# --- (6) the query index's derivation (docs/query-proofs.md, "What is proven") ---


def test_a_forged_index_leaf_is_named_by_verify_full(tenant: Tenant) -> None:
    assert _query(tenant).code == 0  # the first proof=1 query: index leaf 9 covers 9
    honest = tenant.verify("--full")
    assert honest.code == 0, honest
    assert "1 of 1 index leaves derived" in honest.out, honest
    with tenant.client as client:
        [item] = client.get("/log/leaves", params={"start": 9, "end": 10}).json()["leaves"]
    # the honest map, claimed for the log's first 5 leaves: the index key is right, and
    # the service signs the next checkpoint over the leaf like any other
    forged = tenant.store.tamper.append_leaf(
        tenant.name, canonical_json({**item["leaf"], "covers": 5})
    )
    tenant.record(9)  # a write: the service carries on after the leaf
    failures = _caught(tenant.verify("--full"), f"index leaf {forged}")
    assert all(f"index leaf {forged}:" in line for line in failures), failures
