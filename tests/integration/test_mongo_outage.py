"""While mongod is down, MongoEntryRepository fails fast; when it is back, it recovers.

Each test runs a mongod of its own, stops it, and measures: every operation raises
``StorageUnavailable`` within ``timeout_ms`` plus a small margin. After a restart on
the same port and data folder the very same repository object works again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from audit_trail.adapters.storage.mongo import MongoEntryRepository, open_mongo_repository
from audit_trail.core.errors import StorageUnavailable
from audit_trail.core.query import EntryFilters, QuerySpec
from tests.contracts.builders import amended, make_entry, tombstone
from tests.servers import HOST, MongodServer, free_port

T = TypeVar("T")

TIMEOUT_MS = 500
# PyMongo re-checks a server every 0.5 s while it selects one, so a dead server is
# reported up to half a second after timeoutMS; the rest is slack for a busy machine
MARGIN_SECONDS = 1.0
BOUND_SECONDS = TIMEOUT_MS / 1000 + MARGIN_SECONDS
RECOVERY_SECONDS = 20.0


@dataclass(frozen=True)
class Outage:
    """A mongod of the test's own, and how it goes down: a clean ``stop`` (SIGTERM)
    or a ``kill`` (SIGKILL)."""

    server: MongodServer
    how: str

    async def begin(self) -> None:
        await asyncio.to_thread(self.server.stop if self.how == "stop" else self.server.kill)

    async def end(self) -> None:
        await asyncio.to_thread(self.server.start)


@pytest.fixture(
    params=[(None, "stop"), ("rs0", "kill")], ids=["standalone-stopped", "replica-set-killed"]
)
def outage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outage]:
    """Standalone (batches compensated) or a one-node replica set (batches in
    transactions), stopped or killed."""
    replica_set, how = request.param
    with MongodServer(tmp_path / "mongod", replica_set=replica_set) as server:
        yield Outage(server, how)


async def elapsed_until_unavailable(operation: Callable[[], Awaitable[object]]) -> float:
    began = time.monotonic()
    with pytest.raises(StorageUnavailable):
        await operation()
    return time.monotonic() - began


async def eventually(operation: Callable[[], Awaitable[T]]) -> T:
    """The result of ``operation`` once it stops raising StorageUnavailable."""
    deadline = time.monotonic() + RECOVERY_SECONDS
    while True:
        try:
            return await operation()
        except StorageUnavailable:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def test_every_operation_fails_fast_while_down_and_the_same_repository_recovers(
    outage: Outage,
) -> None:
    async with open_mongo_repository(
        uri=outage.server.uri,
        database="outage",
        write_concern="majority",
        journal=True,
        timeout_ms=TIMEOUT_MS,
    ) as repository:
        kept = make_entry()
        await repository.append(kept)
        await outage.begin()

        operations: dict[str, Callable[[], Awaitable[object]]] = {
            "append": lambda: repository.append(make_entry()),
            "append_many": lambda: repository.append_many([make_entry(), make_entry()]),
            "get": lambda: repository.get("t1", kept.id),
            "query": lambda: repository.query("t1", QuerySpec(EntryFilters(actor_id="u-42"))),
            "amend": lambda: repository.amend(amended(kept)),
            "delete": lambda: repository.delete(tombstone(kept)),
            "history": lambda: repository.history("t1", kept.id),
        }
        # all at once: each is timed on its own, and the test waits a second, not seven
        timings = await asyncio.gather(*map(elapsed_until_unavailable, operations.values()))
        elapsed = dict(zip(operations, timings, strict=True))
        assert all(seconds < BOUND_SECONDS for seconds in elapsed.values()), elapsed

        await outage.end()

        assert await eventually(lambda: repository.get("t1", kept.id)) == kept
        again = make_entry()
        await repository.append(again)
        await repository.amend(amended(kept))
        assert await repository.get("t1", again.id) == again
        assert len(await repository.history("t1", kept.id)) == 2


async def test_opening_without_a_server_fails_fast() -> None:
    uri = f"mongodb://{HOST}:{free_port()}/?directConnection=true"

    async def open_repository() -> MongoEntryRepository:
        async with open_mongo_repository(
            uri=uri, database="none", write_concern="majority", journal=True, timeout_ms=TIMEOUT_MS
        ) as repository:
            return repository

    assert await elapsed_until_unavailable(open_repository) < BOUND_SECONDS
