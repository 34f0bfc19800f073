"""IdempotentRecording and the Idempotency-Key header, with the in-memory storage as
the fake of both ports it uses."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit_trail.adapters.clock import FixedClock
from audit_trail.adapters.processing import PassThroughEntryProcessor
from audit_trail.adapters.storage.memory import InMemoryEntryRepository
from audit_trail.core import Entry, IdempotencyKeyInUse, IdempotencyKeyReused, Principal
from audit_trail.core.errors import StorageUnavailable
from audit_trail.core.ports.idempotency import IdempotencyRecord, StoredResponse
from audit_trail.core.usecases.idempotent import (
    IdempotentCommand,
    IdempotentRecording,
    request_fingerprint,
)
from audit_trail.entrypoints.http.idempotency import MAX_KEY_LENGTH, idempotency_key
from audit_trail.entrypoints.http.messages import HttpRequest
from audit_trail.entrypoints.http.problems import HttpProblem
from tests.contracts.builders import make_entry
from tests.unit.fakes import FixedIdFactory

CALLER = Principal("u-1", "t1", frozenset({"audit:write"}))
START = datetime(2026, 11, 28, tzinfo=UTC)


class Recorder:
    """A request's work: stores one entry under the id it is given (or fails)."""

    def __init__(self, storage: InMemoryEntryRepository) -> None:
        self.storage = storage
        self.calls = 0
        self.failure: Exception | None = None

    async def perform(self, ids: Sequence[str]) -> StoredResponse:
        self.calls += 1
        await self.storage.append(sealed(ids[0]))
        if self.failure is not None:
            raise self.failure
        return StoredResponse(201, (), ids[0].encode())

    @staticmethod
    def render(entries: Sequence[Entry]) -> StoredResponse:
        return StoredResponse(201, (), entries[0].id.encode())


def sealed(entry_id: str) -> Entry:
    return make_entry(tenant="t1", id=entry_id)


@pytest.fixture
def storage() -> InMemoryEntryRepository:
    return InMemoryEntryRepository()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


def recording(
    storage: InMemoryEntryRepository, clock: FixedClock, *ids: str
) -> IdempotentRecording:
    return IdempotentRecording(
        storage.idempotency(),
        storage,
        PassThroughEntryProcessor(),
        clock,
        FixedIdFactory(*ids),
        ttl_seconds=60,
        lease_seconds=10,
    )


COMMAND = IdempotentCommand(CALLER, "k", "f-1", 1)


async def test_the_first_outcome_is_replayed_without_doing_the_work_again(
    storage: InMemoryEntryRepository, clock: FixedClock
) -> None:
    work = Recorder(storage)
    use_case = recording(storage, clock, "e-1", "e-2")
    first = await use_case.execute(COMMAND, work.perform, work.render)
    again = await use_case.execute(COMMAND, work.perform, work.render)
    assert (first.replayed, again.replayed) == (False, True)
    assert again.response == first.response
    assert work.calls == 1


async def test_another_fingerprint_is_refused(
    storage: InMemoryEntryRepository, clock: FixedClock
) -> None:
    work = Recorder(storage)
    use_case = recording(storage, clock, "e-1", "e-2")
    await use_case.execute(COMMAND, work.perform, work.render)
    with pytest.raises(IdempotencyKeyReused):
        await use_case.execute(IdempotentCommand(CALLER, "k", "f-2", 1), work.perform, work.render)


async def test_a_failure_after_storing_is_answered_from_the_entries_on_retry(
    storage: InMemoryEntryRepository, clock: FixedClock
) -> None:
    work = Recorder(storage)
    work.failure = StorageUnavailable("the answer was lost")
    use_case = recording(storage, clock, "e-1", "e-2")
    with pytest.raises(StorageUnavailable):
        await use_case.execute(COMMAND, work.perform, work.render)
    work.failure = None
    retry = await use_case.execute(COMMAND, work.perform, work.render)
    assert retry == type(retry)(StoredResponse(201, (), b"e-1"), replayed=True)
    assert work.calls == 1


async def test_a_lease_holds_until_it_ends_then_the_ids_are_reused(
    storage: InMemoryEntryRepository, clock: FixedClock
) -> None:
    now = int(START.timestamp() * 1000)
    dead = IdempotencyRecord("t1", "k", "f-1", ("e-dead",), "dead", now + 10_000, now + 60_000)
    await storage.idempotency().claim(dead, now)
    work = Recorder(storage)
    use_case = recording(storage, clock, "e-1", "e-2")
    with pytest.raises(IdempotencyKeyInUse) as in_use:
        await use_case.execute(COMMAND, work.perform, work.render)
    assert in_use.value.retry_after == 10
    clock.advance(timedelta(seconds=10))
    taken = await use_case.execute(COMMAND, work.perform, work.render)
    assert taken.response.body == b"e-dead"


async def test_an_earlier_owner_that_stored_after_all_is_answered_for(
    storage: InMemoryEntryRepository, clock: FixedClock
) -> None:
    """The lease ran out while the first request's write was still on its way; it
    landed before the second one's: storage refuses the id, the answer is the first's."""
    now = int(START.timestamp() * 1000)
    slow = IdempotencyRecord("t1", "k", "f-1", ("e-slow",), "slow", now, now + 60_000)
    await storage.idempotency().claim(slow, now)
    work = Recorder(storage)

    async def lands_first(ids: Sequence[str]) -> StoredResponse:
        await storage.append(sealed("e-slow"))  # the slow one, just now
        return await work.perform(ids)

    use_case = recording(storage, clock, "e-1")
    outcome = await use_case.execute(COMMAND, lands_first, work.render)
    assert outcome.replayed
    assert outcome.response.body == b"e-slow"


def header(value: str) -> HttpRequest:
    return HttpRequest("POST", headers={"idempotency-key": value})


@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=255))
def test_every_printable_key_survives_as_a_quoted_string(key: str) -> None:
    quoted = '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
    assert idempotency_key(header(quoted)) == key


def test_a_key_over_the_limit_is_refused() -> None:
    assert idempotency_key(header("k" * MAX_KEY_LENGTH)) == "k" * MAX_KEY_LENGTH
    with pytest.raises(HttpProblem):
        idempotency_key(header("k" * (MAX_KEY_LENGTH + 1)))


def test_the_fingerprint_is_the_bodys_meaning_and_operation() -> None:
    one = request_fingerprint("recordEntry", {"a": 1, "b": [1.0, "x"]})
    assert one == request_fingerprint("recordEntry", {"b": [1, "x"], "a": 1})
    assert one != request_fingerprint("recordEntries", {"a": 1, "b": [1, "x"]})
    assert one != request_fingerprint("recordEntry", {"a": 2, "b": [1, "x"]})
    huge = request_fingerprint("recordEntry", {"a": 2**64})  # beyond JCS: still stable
    assert huge == request_fingerprint("recordEntry", {"a": 2**64})
