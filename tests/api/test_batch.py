"""POST /entries/batch: all of the entries, or none of them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.client import Api, entry, error_fields
from tests.api.conftest import MAX_BATCH_ENTRIES


async def test_a_batch_is_recorded_whole_and_returned_in_order(api: Api) -> None:
    actions = ["a.one", "a.two", "a.three"]
    body = {"entries": [entry(action=a) for a in actions]}
    response = await api.call("POST", "/entries/batch", json=body)
    assert response.status_code == 201
    items = response.json()["items"]
    assert [i["action"] for i in items] == actions
    assert len({i["id"] for i in items}) == 3
    for item in items:
        assert (await api.call("GET", f"/entries/{item['id']}")).json() == item


async def test_one_bad_entry_refuses_the_whole_batch_and_names_it(api: Api) -> None:
    entries = [entry(action=f"ok.{i}") for i in range(5)]
    entries[3] = entry(action="not ok")
    response = await api.call("POST", "/entries/batch", json={"entries": entries})
    assert error_fields(response) == {"entries[3].action"}
    assert await api.items("/entries") == []


async def test_errors_in_several_entries_are_all_named(api: Api) -> None:
    entries = [entry(), entry(actor={"name": "x"}), entry(), entry(tags=[1])]
    response = await api.call("POST", "/entries/batch", json={"entries": entries})
    assert error_fields(response) == {"entries[1].actor.id", "entries[3].tags[0]"}


BAD_BATCHES: list[tuple[str, Any, str]] = [
    ("too many", {"entries": [entry()] * (MAX_BATCH_ENTRIES + 1)}, "entries"),
    ("empty", {"entries": []}, "entries"),
    ("no entries", {}, "entries"),
    ("entries not a list", {"entries": entry()}, "entries"),
    ("unknown field", {"entries": [entry()], "atomic": False}, "atomic"),
    ("item not an object", {"entries": ["x"]}, "entries[0]"),
]


@pytest.mark.parametrize(
    ("body", "field"), [(b, f) for _, b, f in BAD_BATCHES], ids=[i for i, _, _ in BAD_BATCHES]
)
async def test_malformed_batches_are_422(api: Api, body: Any, field: str) -> None:
    response = await api.call("POST", "/entries/batch", json=body)
    assert field in error_fields(response)
    assert await api.items("/entries") == []


async def test_a_batch_at_the_limit_is_recorded(api: Api) -> None:
    body = {"entries": [entry(action=f"n.{i}") for i in range(MAX_BATCH_ENTRIES)]}
    response = await api.call("POST", "/entries/batch", json=body)
    assert response.status_code == 201
    assert len(response.json()["items"]) == MAX_BATCH_ENTRIES
