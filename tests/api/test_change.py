"""PUT (a new revision, the old one kept) and DELETE (a tombstone), with If-Match."""

from __future__ import annotations

import asyncio

import pytest

from tests.api.client import Api, entry, error_fields, problem


async def test_get_returns_the_entry_with_its_etag(api: Api) -> None:
    stored = await api.record()
    response = await api.call("GET", f"/entries/{stored['id']}")
    assert response.status_code == 200
    assert response.json() == stored
    assert response.headers["etag"] == '"1"'


async def test_an_unknown_id_is_404(api: Api) -> None:
    problem(await api.call("GET", "/entries/01ARZ3NDEKTSV4RRFFQ69G5FAV"), 404)


async def test_put_stores_a_new_revision_and_keeps_the_old_one(api: Api) -> None:
    stored = await api.record()
    path = f"/entries/{stored['id']}"
    response = await api.call("PUT", path, json=entry(action="document.rename", tags=[]))
    assert response.status_code == 200
    assert response.headers["etag"] == '"2"'
    amended = response.json()
    assert amended["id"] == stored["id"]
    assert amended["revision"] == 2
    assert amended["action"] == "document.rename"
    assert amended["tags"] == []
    assert (await api.call("GET", path)).json() == amended
    history = await api.items(f"{path}/history")
    assert [(r["revision"], r["action"]) for r in history] == [
        (1, "document.update"),
        (2, "document.rename"),
    ]


async def test_put_validates_like_post(api: Api) -> None:
    stored = await api.record()
    response = await api.call("PUT", f"/entries/{stored['id']}", json=entry(extra=True))
    assert error_fields(response) == {"extra"}
    assert (await api.call("GET", f"/entries/{stored['id']}")).json() == stored


async def test_put_on_an_unknown_id_is_404(api: Api) -> None:
    problem(await api.call("PUT", "/entries/nope", json=entry()), 404)


@pytest.mark.parametrize("if_match", ['"1"', "*", '"7", "1"', ' "1" '])
async def test_put_with_a_matching_if_match_applies(api: Api, if_match: str) -> None:
    stored = await api.record()
    response = await api.call(
        "PUT", f"/entries/{stored['id']}", json=entry(), headers={"if-match": if_match}
    )
    assert response.status_code == 200
    assert response.json()["revision"] == 2


@pytest.mark.parametrize("if_match", ['"2"', 'W/"1"', "1", '"abc"'])
async def test_put_with_a_stale_if_match_is_412_and_changes_nothing(
    api: Api, if_match: str
) -> None:
    stored = await api.record()
    path = f"/entries/{stored['id']}"
    response = await api.call("PUT", path, json=entry(action="x"), headers={"if-match": if_match})
    problem(response, 412)
    assert (await api.call("GET", path)).json() == stored


async def test_racing_puts_without_if_match_all_apply_one_after_another(api: Api) -> None:
    stored = await api.record()
    path = f"/entries/{stored['id']}"
    actions = [f"document.edit{n}" for n in range(4)]
    responses = await asyncio.gather(
        *(api.call("PUT", path, json=entry(action=action)) for action in actions)
    )
    assert [r.status_code for r in responses] == [200] * 4
    assert sorted(r.json()["revision"] for r in responses) == [2, 3, 4, 5]
    history = await api.items(f"{path}/history")
    assert sorted(r["action"] for r in history[1:]) == sorted(actions)


async def test_a_delete_without_if_match_racing_puts_deletes(api: Api) -> None:
    stored = await api.record()
    path = f"/entries/{stored['id']}"
    *puts, deleted = await asyncio.gather(
        *(api.call("PUT", path, json=entry(action=f"document.edit{n}")) for n in range(3)),
        api.call("DELETE", path),
    )
    assert deleted.status_code == 204, deleted.text
    # a PUT that came after the delete finds no live entry
    assert {r.status_code for r in puts} <= {200, 404}
    problem(await api.call("GET", path), 404)


async def test_racing_puts_with_the_same_if_match_apply_once(api: Api) -> None:
    stored = await api.record()
    path = f"/entries/{stored['id']}"
    responses = await asyncio.gather(
        *(api.call("PUT", path, json=entry(), headers={"if-match": '"1"'}) for _ in range(4))
    )
    statuses = sorted(r.status_code for r in responses)
    # the losers saw the entry change under them (409) or after (412, a stale If-Match)
    assert statuses[0] == 200
    assert set(statuses[1:]) <= {409, 412}, statuses
    assert (await api.call("GET", path)).json()["revision"] == 2


async def test_an_etag_goes_stale_once_the_entry_changes(api: Api) -> None:
    stored = await api.record()
    path = f"/entries/{stored['id']}"
    etag = (await api.call("GET", path)).headers["etag"]
    first = await api.call("PUT", path, json=entry(action="first"), headers={"if-match": etag})
    assert first.status_code == 200
    second = await api.call("PUT", path, json=entry(action="second"), headers={"if-match": etag})
    problem(second, 412)
    assert (await api.call("GET", path)).json()["action"] == "first"


async def test_delete_hides_the_entry_and_keeps_a_tombstone(api: Api) -> None:
    stored = await api.record()
    other = await api.record(entry(action="other.entry"))
    path = f"/entries/{stored['id']}"
    response = await api.call("DELETE", path)
    assert response.status_code == 204
    assert response.content == b""
    problem(await api.call("GET", path), 404)
    assert [e["id"] for e in await api.items("/entries")] == [other["id"]]
    history = await api.items(f"{path}/history")
    assert [r["revision"] for r in history] == [1, 2]
    assert history[-1]["deleted"] is True
    assert "deleted" not in history[0]


async def test_deleting_twice_is_404(api: Api) -> None:
    stored = await api.record()
    path = f"/entries/{stored['id']}"
    assert (await api.call("DELETE", path)).status_code == 204
    problem(await api.call("DELETE", path), 404)


async def test_a_deleted_entry_cannot_be_amended(api: Api) -> None:
    stored = await api.record()
    path = f"/entries/{stored['id']}"
    assert (await api.call("DELETE", path)).status_code == 204
    problem(await api.call("PUT", path, json=entry()), 404)


async def test_delete_with_a_stale_if_match_is_412_and_keeps_the_entry(api: Api) -> None:
    stored = await api.record()
    path = f"/entries/{stored['id']}"
    problem(await api.call("DELETE", path, headers={"if-match": '"5"'}), 412)
    assert (await api.call("GET", path)).status_code == 200
    assert (await api.call("DELETE", path, headers={"if-match": '"1"'})).status_code == 204


async def test_history_of_an_unknown_id_is_404(api: Api) -> None:
    problem(await api.call("GET", "/entries/unknown/history"), 404)


async def test_history_comes_a_page_at_a_time(api: Api) -> None:
    stored = await api.record()
    path = f"/entries/{stored['id']}"
    for n in range(4):
        assert (await api.call("PUT", path, json=entry(action=f"step.{n}"))).status_code == 200
    seen: list[int] = []
    after: int | None = 0
    pages = 0
    while after is not None:
        response = await api.call("GET", f"{path}/history", params={"after": after, "limit": 2})
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [r["revision"] for r in body["items"]]
        after = body["next_after"]
        pages += 1
    assert (seen, pages) == ([1, 2, 3, 4, 5], 3)
    whole = (await api.call("GET", f"{path}/history")).json()
    assert ([r["revision"] for r in whole["items"]], whole["next_after"]) == ([1, 2, 3, 4, 5], None)
    beyond = (await api.call("GET", f"{path}/history", params={"after": 9})).json()
    assert beyond == {"items": [], "next_after": None}


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1001}, {"after": "x"}, {"page": 1}])
async def test_a_bad_history_page_is_refused(api: Api, params: dict[str, object]) -> None:
    stored = await api.record()
    response = await api.call("GET", f"/entries/{stored['id']}/history", params=params)
    assert error_fields(response) == set(params)
