"""The tenant log on a real mongod: long histories, several writer processes, crashes.

- an entry amended 1,100 times with 16 KiB of metadata is one document per revision:
  it can still be amended and deleted, and its history is read a page at a time;
- two writer processes appending to one tenant (standalone and replica set) make one
  log: every position once, the stored tree that of the leaves;
- a writer process SIGKILLed mid-stream, and mongod SIGKILLed mid-stream and started
  again on its data folder, leave a log that is whole and holds every change whose
  commit returned.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from audit_trail.adapters.storage.mongo import MongoEntryRepository, open_mongo_repository
from audit_trail.core.errors import StorageUnavailable
from audit_trail.core.integrity.leaf import revision_record
from audit_trail.core.model import Entry
from audit_trail.entrypoints.resources import open_repository
from audit_trail.entrypoints.settings import Settings, SettingsError
from tests.contracts.builders import amended, make_entry, tombstone
from tests.integration.mongo_log_support import acknowledged, check_log
from tests.mongo import lease_database, pymongo_database
from tests.servers import MongodServer

ROOT = Path(__file__).resolve().parents[2]
TENANT = "t1"
KIB = 1024


@pytest.fixture
async def repository(mongod_server: MongodServer) -> AsyncIterator[MongoEntryRepository]:
    async with pymongo_database(mongod_server.uri) as database:
        yield await MongoEntryRepository.open(database)


@pytest.fixture(params=["mongod_server", "mongod_replset"], ids=["standalone", "replica-set"])
def server(request: pytest.FixtureRequest) -> MongodServer:
    found: MongodServer = request.getfixturevalue(request.param)
    return found


@pytest.fixture(params=[None, "rs0"], ids=["standalone", "replica-set"])
def own_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MongodServer]:
    """A mongod of this test alone, free to be killed and restarted."""
    with MongodServer(tmp_path / "mongod", replica_set=request.param) as started:
        yield started


async def test_an_entry_amended_1100_times_with_16_kib_metadata_can_be_amended_and_deleted(
    repository: MongoEntryRepository, mongod_server: MongodServer
) -> None:
    metadata = {f"k{i}": "x" * 1000 for i in range(16)}  # about 16 KiB
    revisions = [make_entry(metadata=metadata)]
    await repository.append(revisions[0])
    while len(revisions) < 1101:
        # 100 amendments a commit, each a group of its own after the one before it
        following: list[Entry] = []
        for _ in range(100):
            following.append(amended((following or revisions)[-1]))
        results = await repository.commit(TENANT, [[revision_record(e)] for e in following])
        assert all(isinstance(result, int) for result in results)
        revisions += following

    await repository.amend(last := amended(revisions[-1]))
    await repository.delete(tombstone(last))

    assert await repository.get(TENANT, last.id) is None
    page = await repository.history(TENANT, last.id, after=1095, limit=10)
    assert [e.revision for e in page] == [1096, 1097, 1098, 1099, 1100, 1101, 1102, 1103]
    assert page[-1].deleted
    assert page[-2] == last
    database: Any = repository._entries.database  # the test reads the stored log itself
    with mongod_server.client() as client:
        assert check_log(client, database.name, TENANT) == 1103


def start_writer(uri: str, database: str, seconds: float) -> Any:
    return asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.mongo_log_support",
        uri,
        database,
        TENANT,
        str(seconds),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"},
        stdout=asyncio.subprocess.PIPE,
    )


async def read_lines(process: Any, enough: int | None = None) -> list[str]:
    """The complete lines ``process`` prints until it ends, or (with ``enough``) until
    it has printed that many."""
    lines: list[str] = []
    while enough is None or len(lines) < enough:
        line = await process.stdout.readline()
        if not line.endswith(b"\n"):
            break
        lines.append(line.decode())
    return lines


async def test_two_writer_processes_append_to_one_consistent_log(
    server: MongodServer, request: pytest.FixtureRequest
) -> None:
    database = lease_database(request, server.uri)
    writers = [await start_writer(server.uri, database, 3.0) for _ in range(2)]
    outputs = await asyncio.wait_for(asyncio.gather(*map(read_lines, writers)), 60)
    assert [await writer.wait() for writer in writers] == [0, 0]

    with server.client() as client:
        size = check_log(client, database, TENANT)
        in_order = [
            (d["id"], d["revision"])
            for d in client[database]["entries"]
            .find({"id": {"$exists": True}})
            .sort("log_index", 1)
        ]
    acks = [acknowledged(output) for output in outputs]
    assert all(len(a) > 50 for a in acks), [len(a) for a in acks]  # both really wrote
    assert acks[0] | acks[1] == set(in_order)
    assert size == len(in_order)
    writer_of = [0 if revision in acks[0] else 1 for revision in in_order]
    turns = sum(a != b for a, b in itertools.pairwise(writer_of))
    assert turns > 10, "the writers did not append at the same time"


async def test_a_writer_killed_mid_stream_leaves_a_whole_log_with_every_acknowledged_change(
    request: pytest.FixtureRequest, mongod_server: MongodServer
) -> None:
    database = lease_database(request, mongod_server.uri)
    writer = await start_writer(mongod_server.uri, database, 60.0)
    lines = await asyncio.wait_for(read_lines(writer, enough=300), 60)
    writer.send_signal(signal.SIGKILL)  # by its own pid, mid-stream
    lines += await read_lines(writer)
    assert await writer.wait() == -signal.SIGKILL

    async with open_mongo_repository(
        uri=mongod_server.uri,
        database=database,
        write_concern="majority",
        journal=True,
        timeout_ms=10_000,
    ) as repository:
        size = await repository.integrate(TENANT)  # what the next writer would do first
        for entry_id, revision in acknowledged(lines):
            index = await repository.leaf_index(TENANT, entry_id, revision)
            assert index is not None, (entry_id, revision)
            assert index < size, (entry_id, revision)
    with mongod_server.client() as client:
        assert check_log(client, database, TENANT) == size


async def test_mongod_killed_mid_stream_leaves_a_whole_log_with_every_acknowledged_change(
    own_server: MongodServer,
) -> None:
    acks: list[tuple[str, int]] = []
    enough = asyncio.Event()

    async with open_mongo_repository(
        uri=own_server.uri,
        database="log",
        write_concern="majority",
        journal=True,
        timeout_ms=1000,
    ) as repository:

        async def write(batch: int) -> None:
            written: list[Entry] = []
            while True:
                groups = [[make_entry(TENANT) for _ in range(batch)] for _ in range(3)]
                if written:
                    groups.append([amended(written.pop())])
                try:
                    results = await repository.commit(
                        TENANT, [[revision_record(e) for e in g] for g in groups]
                    )
                except StorageUnavailable:
                    return
                for group, result in zip(groups, results, strict=True):
                    assert isinstance(result, int), result
                    acks.extend((e.id, e.revision) for e in group)
                    written.extend(e for e in group if e.revision == 1)
                if len(acks) >= 600:
                    enough.set()

        async def kill() -> None:
            await enough.wait()
            await asyncio.to_thread(own_server.kill)

        await asyncio.wait_for(asyncio.gather(write(1), write(10), kill()), 60)
        assert own_server.returncode == -signal.SIGKILL
        await asyncio.to_thread(own_server.start)

        size = await repository.integrate(TENANT)
        for entry_id, revision in acks:
            index = await repository.leaf_index(TENANT, entry_id, revision)
            assert index is not None, (entry_id, revision)
            assert index < size, (entry_id, revision)
    with own_server.client() as client:
        assert check_log(client, "log", TENANT) == size


async def test_the_next_commit_integrates_what_a_writer_stored_before_it_died(
    mongod_server: MongodServer, request: pytest.FixtureRequest
) -> None:
    database = lease_database(request, mongod_server.uri)
    entry = make_entry(TENANT)
    second = amended(entry)

    async def crash(*_: object) -> None:
        raise RuntimeError("the writer dies here")

    async with open_mongo_repository(
        uri=mongod_server.uri,
        database=database,
        write_concern="majority",
        journal=True,
        timeout_ms=10_000,
    ) as dying:
        await dying.append(entry)
        # standalone: the insert is stored, the live flag and the tree are not
        dying._replace = crash  # type: ignore[method-assign,assignment]
        with pytest.raises(RuntimeError):
            await dying.amend(second)
    with mongod_server.client() as client:
        live = client[database]["entries"].count_documents({"id": entry.id, "live": True})
        assert live == 2  # what the dead writer left

    async with open_mongo_repository(
        uri=mongod_server.uri,
        database=database,
        write_concern="majority",
        journal=True,
        timeout_ms=10_000,
    ) as next_writer:
        assert await next_writer.size(TENANT) == 1
        later = make_entry(TENANT)
        [index] = await next_writer.commit(TENANT, [[revision_record(later)]])
        assert index == 2  # after the dead writer's leaf, which is in the log now
        assert await next_writer.size(TENANT) == 3
        assert await next_writer.get(TENANT, entry.id) == second
    with mongod_server.client() as client:
        assert check_log(client, database, TENANT) == 3


async def test_a_database_of_the_layout_before_the_logs_is_refused_by_name(
    mongod_server: MongodServer,
) -> None:
    database = f"older_{uuid.uuid4().hex}"
    with mongod_server.client() as client:
        client[database]["entries"].insert_one(
            {"_id": "01J", "tenant": "acme", "revision": 2, "past": [{"revision": 1}]}
        )
    settings = Settings(storage="mongo", mongo_uri=mongod_server.uri, mongo_database=database)
    opening = open_repository(settings)  # the container's resource: opened at start-up
    with pytest.raises(SettingsError, match=r"AUDIT_MONGO_DATABASE: .*before the tenant logs"):
        await anext(opening)
