"""Every read and write is confined to the caller's tenant."""

from __future__ import annotations

import pytest

from tests.api.client import Api, entry, problem


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/entries/{id}"),
        ("PUT", "/entries/{id}"),
        ("DELETE", "/entries/{id}"),
        ("GET", "/entries/{id}/history"),
    ],
)
async def test_another_tenants_id_is_404(api: Api, method: str, path: str) -> None:
    theirs = await api.record(tenant="globex")
    response = await api.call(
        method, path.format(id=theirs["id"]), tenant="acme", json=entry(action="hijack")
    )
    problem(response, 404)
    still = await api.call("GET", f"/entries/{theirs['id']}", tenant="globex")
    assert still.json() == theirs


async def test_a_query_never_returns_another_tenants_entries(api: Api) -> None:
    ours = await api.record(entry(action="ours"), tenant="acme")
    await api.record(entry(action="theirs", actor={"id": "u-77"}), tenant="globex")
    body = {"entries": [entry(action="theirs.batch")]}
    assert (await api.call("POST", "/entries/batch", json=body, tenant="globex")).status_code == 201
    assert await api.items("/entries", tenant="acme") == [ours]
    assert await api.items("/entries", tenant="acme", params={"actor_id": "u-77"}) == []
    assert await api.items("/entries", tenant="acme", params={"action": "theirs*"}) == []


async def test_the_tenant_is_the_tokens(api: Api) -> None:
    stored = await api.record(tenant="initech")
    assert stored["tenant"] == "initech"
    batch = await api.call("POST", "/entries/batch", json={"entries": [entry()]}, tenant="initech")
    assert [i["tenant"] for i in batch.json()["items"]] == ["initech"]


async def test_a_cursor_from_another_tenant_is_refused(api: Api) -> None:
    for _ in range(2):
        await api.record(tenant="globex")
        await api.record(tenant="acme")
    page = (await api.call("GET", "/entries", params={"limit": "1"}, tenant="globex")).json()
    cursor = page["next_cursor"]
    response = await api.call(
        "GET", "/entries", params={"limit": "1", "cursor": cursor}, tenant="acme"
    )
    problem(response, 422)
