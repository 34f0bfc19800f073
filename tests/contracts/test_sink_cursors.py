"""The SinkCursors contract, on every storage adapter (memory, SQLite, MongoDB)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest

from audit_trail.core.ports.sinks import NO_CURSOR, SinkCursors
from audit_trail.core.ports.storage import Storage
from tests.contracts.conftest import REPOSITORY_FACTORIES

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(seconds=30)


@pytest.fixture(params=sorted(REPOSITORY_FACTORIES))
async def cursors(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SinkCursors]:
    async with REPOSITORY_FACTORIES[request.param](request, tmp_path) as repository:
        yield cast("Storage", repository).sink_cursors()


async def test_a_new_sink_has_forwarded_nothing(cursors: SinkCursors) -> None:
    assert await cursors.cursor("syslog", "t1") == NO_CURSOR


async def test_the_lease_holder_advances_the_cursor_compare_and_set(cursors: SinkCursors) -> None:
    assert await cursors.lease("syslog", "t1", "a", LATER, NOW)
    assert await cursors.advance("syslog", "t1", "a", NO_CURSOR, 4)
    assert await cursors.cursor("syslog", "t1") == 4
    assert not await cursors.advance("syslog", "t1", "a", NO_CURSOR, 9)  # not 4 any more
    assert await cursors.advance("syslog", "t1", "a", 4, 9)
    assert await cursors.cursor("syslog", "t1") == 9


async def test_of_two_owners_one_holds_the_lease_until_it_expires_or_is_given_up(
    cursors: SinkCursors,
) -> None:
    assert await cursors.lease("syslog", "t1", "a", LATER, NOW)
    assert not await cursors.lease("syslog", "t1", "b", LATER, NOW + timedelta(seconds=1))
    assert not await cursors.advance("syslog", "t1", "b", NO_CURSOR, 3)
    assert await cursors.lease("syslog", "t1", "a", LATER, NOW + timedelta(seconds=1))  # renewed
    assert await cursors.lease(
        "syslog", "t1", "b", LATER + timedelta(seconds=30), LATER + timedelta(seconds=1)
    )
    assert not await cursors.advance("syslog", "t1", "a", NO_CURSOR, 3)  # a lost it
    await cursors.release("syslog", "t1", "a")  # not a's: changes nothing
    assert not await cursors.lease("syslog", "t1", "a", LATER, LATER + timedelta(seconds=2))
    await cursors.release("syslog", "t1", "b")
    assert await cursors.lease("syslog", "t1", "a", LATER, LATER + timedelta(seconds=2))


async def test_cursors_are_kept_per_sink_and_tenant(cursors: SinkCursors) -> None:
    for sink, tenant, value in (("syslog", "t1", 1), ("syslog", "t2", 2), ("siem", "t1", 3)):
        assert await cursors.lease(sink, tenant, "a", LATER, NOW)
        assert await cursors.advance(sink, tenant, "a", NO_CURSOR, value)
    assert await cursors.cursor("syslog", "t1") == 1
    assert await cursors.cursor("syslog", "t2") == 2
    assert await cursors.cursor("siem", "t1") == 3
    assert await cursors.cursor("siem", "t2") == NO_CURSOR
    # one lease per (sink, tenant): b takes another tenant's while a holds t1's
    assert await cursors.lease("syslog", "t3", "b", LATER, NOW)
