"""EntryRepository contract: what is stored comes back exactly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from audit_trail.core.model import Actor, Outcome, Source, Target
from audit_trail.core.ports import EntryRepository
from tests.contracts.builders import make_entry

INT64_MAX = 2**53 - 1  # the largest integer metadata may hold
INT64_MIN = -(2**53 - 1)


async def test_a_complete_entry_comes_back_exactly(repository: EntryRepository) -> None:
    entry = make_entry(
        occurred_at=datetime(2026, 11, 28, 9, 30, 0, 123_000, tzinfo=UTC),
        recorded_at=datetime(2026, 11, 28, 9, 30, 1, 7_000, tzinfo=UTC),
        tags=("ui", "bulk"),
    )
    await repository.append(entry)

    assert await repository.get("t1", entry.id) == entry


async def test_unicode_comes_back_exactly(repository: EntryRepository) -> None:
    entry = make_entry(
        actor=Actor(id="用户-7", type="user", name="عائشة 👩‍💻"),
        target=Target(type="document", id="מסמך-1", name="דוח רבעוני 📊"),
        tags=("ταυτότητα", "🏷️", "e\u0301"),
        metadata={
            "emoji": "🚀👨‍👩‍👧‍👦🇪🇺",
            "rtl": "مرحبا بالعالم",
            "hebrew": "שלום עולם",
            "mixed": "abc אבג 123",
            "ключ": "значение",
            "漢字": ["かな", "한국어"],
        },
        source=Source(ip="::1", user_agent="Mozilla/5.0 (测试) 🦊"),
    )
    await repository.append(entry)

    assert await repository.get("t1", entry.id) == entry


async def test_an_entry_without_optional_fields_comes_back_exactly(
    repository: EntryRepository,
) -> None:
    entry = make_entry(actor=Actor(id="u-1"), target=None, tags=(), metadata={}, source=Source())
    await repository.append(entry)

    stored = await repository.get("t1", entry.id)

    assert stored == entry
    assert stored is not None
    assert stored.target is None
    assert stored.actor.type is None
    assert stored.actor.name is None


async def test_a_target_without_name_comes_back_exactly(repository: EntryRepository) -> None:
    entry = make_entry(target=Target(type="folder", id="f-1"))
    await repository.append(entry)

    assert await repository.get("t1", entry.id) == entry


async def test_empty_strings_come_back_as_empty_strings(repository: EntryRepository) -> None:
    entry = make_entry(
        actor=Actor(id="u-1", type="", name=""),
        target=Target(type="doc", id="d", name=""),
        metadata={"": "", "empty": ""},
        source=Source(ip="", user_agent=""),
    )
    await repository.append(entry)

    assert await repository.get("t1", entry.id) == entry


@pytest.mark.parametrize(
    "occurred_at",
    [
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC),
        datetime(2026, 11, 28, 9, 30, 0, 1_000, tzinfo=UTC),
        datetime(2026, 11, 28, 9, 30, 0, 999_000, tzinfo=UTC),
        datetime(2099, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC),
    ],
    ids=["epoch", "before-epoch", "first-ms", "last-ms", "far-future"],
)
async def test_times_come_back_to_the_millisecond(
    repository: EntryRepository, occurred_at: datetime
) -> None:
    entry = make_entry(occurred_at=occurred_at, recorded_at=occurred_at)
    await repository.append(entry)

    stored = await repository.get("t1", entry.id)

    assert stored is not None
    assert stored.occurred_at == occurred_at
    assert stored.recorded_at == occurred_at
    assert stored.occurred_at.utcoffset() is not None
    assert stored.occurred_at.utcoffset() == UTC.utcoffset(None)


async def test_nested_metadata_comes_back_exactly(repository: EntryRepository) -> None:
    deep: dict[str, object] = {"leaf": [1, {"x": None}]}
    for level in range(6):
        deep = {f"level{level}": deep}
    metadata = {
        "deep": deep,
        "numbers": [0, -1, INT64_MAX, INT64_MIN, 0.1, 1e-300, 6.02e23, -2.5],
        "flags": [True, False, None],
        "empty_object": {},
        "empty_list": [],
        "text": 'quotes " and \\ backslashes\nnew lines\ttabs and \u0000 nul',
        "list_of_objects": [{"a": 1}, {"b": [2, 3]}],
    }
    entry = make_entry(metadata=metadata)
    await repository.append(entry)

    stored = await repository.get("t1", entry.id)

    assert stored is not None
    assert stored.metadata == metadata
    assert [type(v) for v in stored.metadata["numbers"]] == [type(v) for v in metadata["numbers"]]


@pytest.mark.parametrize("outcome", list(Outcome))
async def test_every_outcome_comes_back(repository: EntryRepository, outcome: Outcome) -> None:
    entry = make_entry(outcome=outcome)
    await repository.append(entry)

    stored = await repository.get("t1", entry.id)

    assert stored is not None
    assert stored.outcome is outcome


async def test_tags_keep_their_order(repository: EntryRepository) -> None:
    entry = make_entry(tags=("zeta", "alpha", "mu"))
    await repository.append(entry)

    stored = await repository.get("t1", entry.id)

    assert stored is not None
    assert stored.tags == ("zeta", "alpha", "mu")


async def test_get_of_an_unknown_id_is_none(repository: EntryRepository) -> None:
    await repository.append(make_entry())

    assert await repository.get("t1", "no-such-id") is None


async def test_changing_what_was_appended_does_not_change_what_is_stored(
    repository: EntryRepository,
) -> None:
    metadata: dict[str, object] = {"list": [1, 2], "nested": {"a": "b"}}
    entry = make_entry(metadata=metadata)
    await repository.append(entry)

    metadata["list"] = "changed"
    metadata["added"] = True

    stored = await repository.get("t1", entry.id)
    assert stored is not None
    assert stored.metadata == {"list": [1, 2], "nested": {"a": "b"}}


async def test_changing_what_was_read_does_not_change_what_is_stored(
    repository: EntryRepository,
) -> None:
    entry = make_entry(metadata={"nested": {"a": "b"}})
    await repository.append(entry)
    first = await repository.get("t1", entry.id)
    assert first is not None

    first.metadata["nested"]["a"] = "changed"

    assert await repository.get("t1", entry.id) == entry
