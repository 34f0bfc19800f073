"""Every entry MongoEntryRepository acknowledged survives a SIGKILL of mongod.

The server is a one-node replica set of this test alone, written to with the
production defaults (w=majority, j=true): a write is acknowledged once it is in the
journal. Writers record entries (single and in batches) until mongod is killed in the
middle of their work; after a restart on the same data folder every acknowledged id
must be there.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit_trail.adapters.storage.mongo import open_mongo_repository
from audit_trail.adapters.storage.mongo_documents import ENTRIES_COLLECTION
from audit_trail.core.errors import StorageUnavailable
from tests.contracts.builders import make_entry
from tests.servers import MongodServer

DATABASE = "durability"
KILL_AFTER = 400  # acknowledged entries


@pytest.fixture
def own_replset(tmp_path: Path) -> Iterator[MongodServer]:
    """A replica set of this test alone, free to be killed and restarted."""
    with MongodServer(tmp_path / "mongod", replica_set="rs0") as server:
        yield server


async def test_every_acknowledged_entry_survives_sigkill(own_replset: MongodServer) -> None:
    acknowledged: list[str] = []
    refused: list[int] = []
    killed = asyncio.Event()
    enough = asyncio.Event()

    def acknowledge(ids: list[str]) -> None:
        acknowledged.extend(ids)
        if len(acknowledged) >= KILL_AFTER:
            enough.set()

    async with open_mongo_repository(
        uri=own_replset.uri,
        database=DATABASE,
        write_concern="majority",
        journal=True,
        timeout_ms=1000,
    ) as repository:

        async def write_one_at_a_time() -> None:
            while True:
                entry = make_entry()
                try:
                    await repository.append(entry)
                except StorageUnavailable:
                    refused.append(1)
                    return
                acknowledge([entry.id])

        async def write_batches() -> None:
            while True:
                batch = [make_entry() for _ in range(10)]
                try:
                    await repository.append_many(batch)
                except StorageUnavailable:
                    refused.append(len(batch))
                    return
                acknowledge([entry.id for entry in batch])

        async def kill_mid_run() -> None:
            await enough.wait()
            # in a thread, so the writers keep writing while mongod dies under them
            await asyncio.to_thread(own_replset.kill)
            killed.set()

        await asyncio.wait_for(
            asyncio.gather(
                *(write_one_at_a_time() for _ in range(4)), write_batches(), kill_mid_run()
            ),
            timeout=60,
        )

    assert killed.is_set()
    assert own_replset.returncode == -signal.SIGKILL
    assert len(refused) == 5  # every writer was cut off by the kill
    assert len(acknowledged) >= KILL_AFTER

    await asyncio.to_thread(own_replset.start)

    with own_replset.client() as client:
        stored = {
            document["id"]
            for document in client[DATABASE][ENTRIES_COLLECTION].find(
                {"id": {"$in": acknowledged}}, {"id": 1}
            )
        }
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged entries were lost"
