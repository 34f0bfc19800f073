"""The JSON shape of an entry and of a cached page."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from audit_trail.core import Actor, Entry, Outcome, Source, Target
from audit_trail.core.serialization import dump_page, entry_from_json, entry_to_json, load_page
from tests.unit.strategies import entries

AT = datetime(2026, 11, 28, 9, 30, 0, 123000, tzinfo=UTC)


def minimal(**changes: object) -> Entry:
    fields: dict[str, object] = {
        "id": "01J",
        "tenant": "acme",
        "action": "login",
        "outcome": Outcome.SUCCESS,
        "actor": Actor(id="u-1"),
        "occurred_at": AT,
        "recorded_at": AT,
    }
    return Entry(**(fields | changes))  # type: ignore[arg-type]


def test_the_json_shape_of_an_entry() -> None:
    entry = minimal(
        actor=Actor(id="u-42", type="user", name="Ada"),
        target=Target(type="document", id="d-7", name="Q3 report"),
        revision=2,
        tags=("ui",),
        metadata={"field": "title"},
        source=Source(ip="10.0.0.1", user_agent="curl/8"),
        recorded_by="u-recorder",
    )
    assert entry_to_json(entry) == {
        "id": "01J",
        "tenant": "acme",
        "revision": 2,
        "action": "login",
        "outcome": "success",
        "actor": {"id": "u-42", "type": "user", "name": "Ada"},
        "target": {"type": "document", "id": "d-7", "name": "Q3 report"},
        "occurred_at": "2026-11-28T09:30:00.123Z",
        "recorded_at": "2026-11-28T09:30:00.123Z",
        "recorded_by": "u-recorder",
        "tags": ["ui"],
        "metadata": {"field": "title"},
        "source": {"ip": "10.0.0.1", "user_agent": "curl/8"},
    }


def test_unset_optional_fields_are_omitted_and_deleted_shows_only_on_tombstones() -> None:
    data = entry_to_json(minimal())
    assert "target" not in data
    assert "deleted" not in data
    assert data["actor"] == {"id": "u-1"}
    assert data["source"] == {}
    assert entry_to_json(minimal(deleted=True))["deleted"] is True


def test_times_before_year_1000_keep_four_digit_years() -> None:
    early = datetime(5, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)
    data = entry_to_json(minimal(occurred_at=early))
    assert data["occurred_at"] == "0005-01-02T03:04:05.006Z"
    assert entry_from_json(data).occurred_at == early


@given(entries)
def test_entries_round_trip_through_json_text(entry: Entry) -> None:
    text = json.dumps(entry_to_json(entry))
    assert entry_from_json(json.loads(text)) == entry


@given(st.lists(entries, max_size=4), st.none() | st.text(max_size=40))
def test_pages_round_trip(items: list[Entry], next_cursor: str | None) -> None:
    assert load_page(dump_page(items, next_cursor)) == (items, next_cursor)


def test_a_page_is_compact_json() -> None:
    raw = dump_page([minimal()], "c")
    page = json.loads(raw)
    assert page["next_cursor"] == "c"
    assert page["items"] == [entry_to_json(minimal())]
    assert b": " not in raw
