"""GET /entries?…&proof=1 on both apps and every storage: answers whose proofs verify
to the same entries as the plain query, and a clear 422 for what cannot be proven."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from audit_trail.core.query import parse_query
from audit_trail.verify.query import check_query_pages, check_query_proof
from tests.api.client import Api, entry, problem
from tests.api.conftest import APP_PARAMS, BACKENDS, Serve, api_settings
from tests.api.tokens import KeyPair, Tokens


@pytest.fixture
async def api(indexed_api: Api) -> Api:
    return indexed_api


async def proven(api: Api, params: dict[str, str]) -> list[dict[str, Any]]:
    response = await api.call("GET", "/entries", params={**params, "proof": "1"})
    assert response.status_code == 200, response.text
    filters = parse_query({name: [value] for name, value in params.items()}).filters
    result = check_query_proof(response.json(), await api.vkey(), filters)
    assert result.failures == ()
    return list(result.entries)


async def test_a_proven_answer_holds_what_the_plain_query_finds(api: Api) -> None:
    first = await api.record(entry(actor={"id": "u-1"}, occurred_at="2026-11-28T09:00:00.000Z"))
    await api.record(entry(actor={"id": "u-2"}, occurred_at="2026-11-28T10:00:00.000Z"))
    late = await api.record(entry(actor={"id": "u-1"}, occurred_at="2026-11-01T08:00:00.000Z"))
    response = await api.call("PUT", f"/entries/{first['id']}", json=entry(actor={"id": "u-3"}))
    assert response.status_code == 200, response.text
    doomed = await api.record(entry(actor={"id": "u-1"}, action="document.delete"))
    assert (await api.call("DELETE", f"/entries/{doomed['id']}")).status_code == 204
    for params in (
        {"actor_id": "u-1"},
        {"actor_id": "u-3", "since": "2026-11-27T00:00:00Z", "until": "2026-11-29T00:00:00Z"},
        {"target_type": "document", "target_id": "d-7", "outcome": "success"},
        {"action": "document.update"},
        {"since": "2026-11-28T08:00:00Z", "until": "2026-11-28T11:00:00Z"},
    ):
        plain = await api.items("/entries", params=params)
        assert [e["id"] for e in await proven(api, params)] == [e["id"] for e in plain], params
    assert [e["id"] for e in await proven(api, {"actor_id": "u-1"})] == [late["id"]]


async def proof_page(api: Api, params: dict[str, str], **kwargs: Any) -> dict[str, Any]:
    response = await api.call("GET", "/entries", params={**params, "proof": "1"}, **kwargs)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def test_a_write_between_pages_does_not_change_what_the_walk_proves(api: Api) -> None:
    ids = [(await api.record(entry(actor={"id": "u-1"})))["id"] for _ in range(3)]
    params = {"actor_id": "u-1", "limit": "1"}
    pages = [await proof_page(api, params)]
    await api.record(entry(actor={"id": "u-1"}))
    assert (await api.call("DELETE", f"/entries/{ids[0]}")).status_code == 204
    while (cursor := pages[-1]["next_cursor"]) is not None:
        pages.append(await proof_page(api, {**params, "cursor": cursor}))
    assert len(pages) == 3
    assert {page["tree_size"] for page in pages} == {pages[0]["tree_size"]}
    filters = parse_query({"actor_id": ["u-1"]}).filters
    result = check_query_pages(pages, await api.vkey(), filters)
    assert result.failures == ()
    assert sorted(e["id"] for e in result.entries) == sorted(ids)
    assert len(await proven(api, {"actor_id": "u-1"})) == 3  # the next walk sees both writes


async def test_a_bad_cursor_is_a_422_saying_why(api: Api) -> None:
    for _ in range(3):
        await api.record(entry(actor={"id": "u-1"}))
    cursor = (await proof_page(api, {"actor_id": "u-1", "limit": "1"}))["next_cursor"]
    plain = (await api.call("GET", "/entries", params={"actor_id": "u-1", "limit": 1})).json()
    altered = cursor[:5] + ("A" if cursor[5] != "A" else "B") + cursor[6:]
    for asked, tenant, why in (
        ({"actor_id": "u-1", "cursor": "not-a-cursor"}, "acme", "is not a cursor this service"),
        ({"actor_id": "u-1", "cursor": altered}, "acme", "is not a cursor this service"),
        ({"actor_id": "u-1", "cursor": plain["next_cursor"]}, "acme", "is not a cursor this"),
        ({"actor_id": "u-1", "cursor": cursor}, "globex", "is not a cursor this service"),
        ({"actor_id": "u-2", "cursor": cursor}, "acme", "was issued for another query"),
    ):
        params = {**asked, "proof": "1"}
        response = await api.call("GET", "/entries", params=params, tenant=tenant)
        [error] = problem(response, 422)["errors"]
        assert error["field"] == "cursor"
        assert why in error["message"], (asked, error)
    response = await api.call("GET", "/entries", params={"actor_id": "u-1", "cursor": cursor})
    assert [e["field"] for e in problem(response, 422)["errors"]] == ["cursor"]


async def test_a_query_that_cannot_be_proven_is_a_422_naming_what_can(api: Api) -> None:
    await api.record()
    response = await api.call("GET", "/entries", params={"action": "document.*", "proof": "1"})
    body = problem(response, 422)
    assert "actor_id, target_type with target_id, action (exact)" in str(body)
    response = await api.call("GET", "/entries", params={"proof": "maybe"})
    assert "proof" in str(problem(response, 422))


async def test_a_proof_shows_only_the_callers_tenant(api: Api) -> None:
    await api.record(entry(actor={"id": "u-1"}))
    await api.record(entry(actor={"id": "u-1"}), tenant="globex")
    entries = await proven(api, {"actor_id": "u-1"})
    assert [e["tenant"] for e in entries] == ["acme"]


async def test_an_entry_recorded_after_a_proof_is_in_the_next_one(api: Api) -> None:
    first = await api.record(entry(actor={"id": "u-1"}))
    assert [e["id"] for e in await proven(api, {"actor_id": "u-1"})] == [first["id"]]
    second = await api.record(entry(actor={"id": "u-1"}))
    proven_ids = [e["id"] for e in await proven(api, {"actor_id": "u-1"})]
    assert sorted(proven_ids) == sorted([first["id"], second["id"]])


@pytest.fixture(params=APP_PARAMS)
async def followed_api(
    request: pytest.FixtureRequest, keys: KeyPair, tokens: Tokens, tmp_path: Path, serve: Serve
) -> Api:
    """An app whose query index follows its writes 0.2 s behind."""
    framework, backend = request.param
    overrides = {**BACKENDS[backend](request), "query_index_delay_seconds": 0.2}
    return Api(await serve(framework, api_settings(keys, tmp_path, **overrides)), tokens)


async def test_the_index_follows_the_writes_without_a_proof_asking(followed_api: Api) -> None:
    for _ in range(3):
        await followed_api.record()
    for _ in range(200):
        note = (await followed_api.call("GET", "/log/checkpoint")).text
        if int(note.splitlines()[1]) == 4:  # three entries and the index leaf after them
            break
        await asyncio.sleep(0.025)
    else:
        raise AssertionError(f"no index leaf followed the writes: {note}")
    body = (await followed_api.call("GET", "/log/leaves", params={"start": 3, "end": 4})).json()
    (leaf,) = body["leaves"]
    assert leaf["leaf"]["kind"] == "index"
    assert leaf["leaf"]["covers"] == 3
