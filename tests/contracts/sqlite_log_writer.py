"""A process that appends to one tenant's log in a SQLite file, for the tests of
several writers and of a writer killed mid-stream.

``python -m tests.contracts.sqlite_log_writer DB NAME COMMITS GO PAUSE_MS``: prints
``ready``, waits for the file GO to exist, then makes COMMITS commits
(0: until killed) to tenant ``shared``, each of two groups (bare leaves, then a new
entry and, every other commit, an amendment of the previous one), and prints a line
``<first index> <leaf bytes as hex>...`` per group once ``commit`` has returned,
pausing PAUSE_MS between commits (SQLite's busy handler is not fair: a writer that
commits back to back can keep a waiting one out for a long while).
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
from pathlib import Path

from audit_trail.adapters.storage.sqlite import SqliteEntryRepository
from audit_trail.core.integrity.leaf import revision_record
from audit_trail.core.model import Entry
from audit_trail.core.ports.log import LogRecord
from tests.contracts import rfc9162
from tests.contracts.builders import amended, make_entry

TENANT = "shared"


def bare(name: str, number: int, part: int) -> LogRecord:
    leaf = f"{name}-{number}-{part}".encode()
    return LogRecord(leaf=leaf, leaf_hash=rfc9162.leaf_hash(leaf))


def wait_for(go: Path) -> None:
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.01)


async def main(database: Path, name: str, commits: int, pause_ms: int) -> None:
    async with await SqliteEntryRepository.open(database, busy_timeout_ms=30_000) as log:
        previous: Entry | None = None
        for number in itertools.count() if commits == 0 else range(commits):
            leaves = [bare(name, number, part) for part in range(1 + number % 3)]
            entry = make_entry(TENANT)
            revisions = [entry] if previous is None or number % 2 else [entry, amended(previous)]
            changes = [revision_record(revision) for revision in revisions]
            results = await log.commit(TENANT, [leaves, changes])
            for result, group in zip(results, [leaves, changes], strict=True):
                assert isinstance(result, int), result
                print(result, *(record.leaf.hex() for record in group), flush=True)
            previous = entry
            await asyncio.sleep(pause_ms / 1000)


if __name__ == "__main__":
    wait_for(Path(sys.argv[4]))
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[5])))
