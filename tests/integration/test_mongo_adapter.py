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
from audit_trail.core.integrity.leaf import sealed_leaf
from audit_trail.core.model import Actor, Target
from audit_trail.core.query import EntryFilters, QuerySpec
from tests.contracts.builders import amended, make_entry, tombstone
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


async def test_big_amendments_never_outgrow_a_document_but_one_over_16_mib_is_too_large(
    repository: MongoEntryRepository,
) -> None:
    revisions = [make_entry(metadata={"blob": "x" * (3 * MIB)})]
    await repository.append(revisions[0])
    for _ in range(6):  # 21 MiB of revisions: one document each
        revisions.append(amended(revisions[-1]))
        await repository.amend(revisions[-1])

    with pytest.raises(EntryTooLarge):
        await repository.amend(amended(revisions[-1], metadata={"blob": "x" * (17 * MIB)}))

    assert list(await repository.history("t1", revisions[0].id)) == revisions
    await repository.delete(tombstone(revisions[-1]))
    assert await repository.get("t1", revisions[0].id) is None


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


async def test_each_revision_is_a_document_holding_its_leaf_at_its_position(
    repository: MongoEntryRepository,
) -> None:
    entry = make_entry(metadata={"n": 2**40})
    second = amended(entry, target=None)
    await repository.append(entry)
    await repository.amend(second)

    documents = [d async for d in repository_collection(repository).find({}).sort("_id")]

    assert [d["_id"] for d in documents] == [f"{entry.id}:00000001", f"{entry.id}:00000002"]
    assert [d["live"] for d in documents] == [False, True]
    assert [d["log_index"] for d in documents] == [0, 1]
    assert "target_type" not in documents[1]  # unset, not left over from revision 1
    assert documents[0]["target_id"] == "d-7"
    assert [d["leaf"] for d in documents] == [sealed_leaf(entry), sealed_leaf(second)]
    assert documents[1]["recorded_by"] == "u-admin"
    assert list(await repository.history("t1", entry.id)) == [entry, second]
    assert type((await repository.history("t1", entry.id))[0].metadata["n"]) is int
    assert [leaf.leaf for leaf in await repository.leaves("t1", 0, 10)] == [
        sealed_leaf(entry),
        sealed_leaf(second),
    ]
    assert await repository.leaf_index("t1", entry.id, 2) == 1


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

    assert indexes["tenant_log_index"]["unique"] is True
    assert indexes.pop("tenant_log_index")["key"] == [("tenant", 1), ("log_index", 1)]
    # the retention sweeper's: every current revision by when it was recorded
    retention = indexes.pop("tenant_recorded_at")
    assert retention["key"] == [("tenant", 1), ("recorded_at", 1), ("id", 1)]
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
            assert keys[-2:] == ["occurred_at", "id"]
            assert index["partialFilterExpression"] == {"live": True}
    await repository.ensure_indexes()  # again: idempotent
    again = await repository_collection(repository).index_information()
    again.pop("tenant_log_index")
    again.pop("tenant_recorded_at")
    assert again == indexes
