"""MongoEntryRepository specifics on a real mongod that the contract suite does not reach.

The contract suite runs PyMongo on the replica set and Motor on the standalone
server; here the other two pairings check ``append_many``'s all-or-nothing, and
oversized entries, operator-looking values and the stored layout are checked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from audit_trail.adapters.storage.mongo import MongoEntryRepository, parse_write_concern
from audit_trail.core.errors import DuplicateEntry, EntryTooLarge
from audit_trail.core.model import Actor, Target
from audit_trail.core.query import EntryFilters, QuerySpec
from tests.contracts.builders import amended, make_entry
from tests.mongo import motor_database, pymongo_database
from tests.servers import MongodServer

MIB = 1024 * 1024
DatabaseOpener = Callable[[str], AbstractAsyncContextManager[Any]]


@pytest.fixture(
    params=[
        ("pymongo", "mongod_server", False),
        ("motor", "mongod_replset", True),
    ],
    ids=["pymongo-standalone", "motor-replset"],
)
async def other_pairing(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[MongoEntryRepository, bool]]:
    """The client/server pairings the contract suite does not run, and whether the
    server has transactions."""
    library, server_fixture, transactions = request.param
    server: MongodServer = request.getfixturevalue(server_fixture)
    opener: DatabaseOpener = pymongo_database if library == "pymongo" else motor_database
    async with opener(server.uri) as database:
        yield await MongoEntryRepository.open(database), transactions


@pytest.fixture
async def repository(mongod_server: MongodServer) -> AsyncIterator[MongoEntryRepository]:
    async with pymongo_database(mongod_server.uri) as database:
        yield await MongoEntryRepository.open(database)


async def test_batches_are_all_or_nothing_on_every_pairing(
    other_pairing: tuple[MongoEntryRepository, bool],
) -> None:
    repository, transactions = other_pairing
    assert repository.uses_transactions is transactions
    existing = make_entry()
    await repository.append(existing)
    refused = [make_entry(), make_entry(), make_entry(id=existing.id), make_entry()]
    accepted = [make_entry() for _ in range(3)]

    with pytest.raises(DuplicateEntry) as raised:
        await repository.append_many(refused)
    await repository.append_many(accepted)

    assert raised.value.entry_id == existing.id
    for entry in refused:
        if entry.id != existing.id:
            assert list(await repository.history("t1", entry.id)) == []
    page = await repository.query("t1", QuerySpec(limit=100))
    assert sorted(e.id for e in page.items) == sorted(e.id for e in [existing, *accepted])


async def test_an_entry_over_16_mib_is_too_large(repository: MongoEntryRepository) -> None:
    huge = make_entry(metadata={"blob": "x" * (17 * MIB)})

    with pytest.raises(EntryTooLarge):
        await repository.append(huge)

    assert await repository.get("t1", huge.id) is None


async def test_a_batch_with_one_entry_over_16_mib_stores_none(
    repository: MongoEntryRepository,
) -> None:
    batch = [make_entry(), make_entry(metadata={"blob": "x" * (17 * MIB)}), make_entry()]

    with pytest.raises(EntryTooLarge):
        await repository.append_many(batch)

    assert list((await repository.query("t1", QuerySpec())).items) == []


@pytest.mark.parametrize(
    ("size", "amendments"),
    [(9 * MIB, 1), (3 * MIB, 5)],
    ids=["one-big-amendment", "many-amendments"],
)
async def test_an_amendment_that_would_outgrow_the_document_is_too_large(
    repository: MongoEntryRepository, size: int, amendments: int
) -> None:
    revisions = [make_entry(metadata={"blob": "x" * size})]
    await repository.append(revisions[0])
    for _ in range(amendments - 1):
        revisions.append(amended(revisions[-1]))
        await repository.amend(revisions[-1])

    with pytest.raises(EntryTooLarge):
        await repository.amend(amended(revisions[-1]))

    assert list(await repository.history("t1", revisions[0].id)) == revisions


@pytest.mark.parametrize(
    "hostile",
    ['{"$gt": ""}', "$where", "$ne", ".*", "^", "a\x00b", "this.actor_id"],
)
async def test_filter_values_that_look_like_operators_are_plain_data(
    repository: MongoEntryRepository, hostile: str
) -> None:
    plain = make_entry(actor=Actor(id="u-1"), target=Target(type="doc", id="d-1"), tags=("t",))
    literal = make_entry(
        action="svc.op",
        actor=Actor(id=hostile, type=hostile),
        target=Target(type=hostile, id=hostile),
        tags=(hostile,),
    )
    await repository.append_many([plain, literal])

    for filters in (
        EntryFilters(actor_id=hostile),
        EntryFilters(actor_type=hostile),
        EntryFilters(target_type=hostile),
        EntryFilters(target_id=hostile),
        EntryFilters(tag=hostile),
    ):
        page = await repository.query("t1", QuerySpec(filters=filters))
        assert [e.id for e in page.items] == [literal.id], filters


async def test_an_entry_is_one_document_with_its_revisions_inside(
    repository: MongoEntryRepository, mongod_server: MongodServer
) -> None:
    entry = make_entry(metadata={"n": 2**40})
    second = amended(entry, target=None)
    await repository.append(entry)
    await repository.amend(second)

    documents = [d async for d in repository_collection(repository).find({})]

    assert len(documents) == 1
    document = documents[0]
    assert document["_id"] == entry.id
    assert document["revision"] == 2
    assert "target_type" not in document  # unset, not left over from revision 1
    assert [past["revision"] for past in document["past"]] == [1]
    assert document["past"][0]["target_id"] == "d-7"
    assert list(await repository.history("t1", entry.id)) == [entry, second]
    assert type((await repository.history("t1", entry.id))[0].metadata["n"]) is int


def repository_collection(repository: MongoEntryRepository) -> Any:
    return repository._entries  # the test reads the stored layout itself


@pytest.mark.parametrize(
    ("raw", "journal", "expected"),
    [("majority", True, {"w": "majority", "j": True}), ("2", False, {"w": 2, "j": False})],
)
def test_write_concern_settings(raw: str, journal: bool, expected: dict[str, Any]) -> None:
    assert parse_write_concern(raw, journal=journal).document == expected


@pytest.mark.parametrize("raw", ["0", "", "-1", "many", "\uff11"])
def test_unacknowledged_or_unknown_write_concerns_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="write concern"):
        parse_write_concern(raw, journal=True)


async def test_open_creates_one_index_per_filter_led_by_tenant(
    repository: MongoEntryRepository,
) -> None:
    indexes = await repository_collection(repository).index_information()

    assert set(indexes) == {
        "_id_",
        "tenant_occurred_at",
        "tenant_actor_id",
        "tenant_actor_type",
        "tenant_action",
        "tenant_target_type",
        "tenant_target_id",
        "tenant_outcome",
        "tenant_tags",
    }
    for name, index in indexes.items():
        if name != "_id_":
            keys = [key for key, _ in index["key"]]
            assert keys[0] == "tenant"
            assert keys[-2:] == ["occurred_at", "_id"]
            assert index["partialFilterExpression"] == {"deleted": False}
    await repository.ensure_indexes()  # again: idempotent
    assert await repository_collection(repository).index_information() == indexes
