"""GET/PUT/DELETE /tenant/retention and /holds on both apps and every backend:
validation (422 naming the field), 404 for unknown holds, tenant isolation, scopes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.client import Api, error_fields, problem
from tests.api.schema_subset import SchemaChecker
from tests.api.tokens import READ, WRITE

HOLD = {"filter": {"actor_id": "u-42"}, "reason": "litigation 2026-17"}


async def put_days(api: Api, body: Any, **kwargs: Any) -> Any:
    return await api.call("PUT", "/tenant/retention", json=body, **kwargs)


async def test_retention_defaults_to_keep_forever_then_takes_the_tenants_own(api: Api) -> None:
    response = await api.call("GET", "/tenant/retention")
    assert response.status_code == 200
    assert response.json() == {"days": None, "source": "default"}
    response = await put_days(api, {"days": 2.5})
    assert response.status_code == 200
    assert response.json() == {"days": 2.5, "source": "tenant"}
    assert (await api.call("GET", "/tenant/retention")).json() == {"days": 2.5, "source": "tenant"}
    # another tenant is not touched
    other = await api.call("GET", "/tenant/retention", tenant="globex")
    assert other.json() == {"days": None, "source": "default"}
    # null: keep forever, as the tenant's own choice; DELETE: back to the default
    assert (await put_days(api, {"days": None})).json() == {"days": None, "source": "tenant"}
    response = await api.call("DELETE", "/tenant/retention")
    assert response.status_code == 200
    assert response.json() == {"days": None, "source": "default"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"days": 0}, "days"),
        ({"days": -1}, "days"),
        ({"days": "30"}, "days"),
        ({"days": True}, "days"),
        ({"days": 1e9}, "days"),
        ({}, "days"),
        ({"days": 30, "extra": 1}, "extra"),
        ([30], ""),
    ],
)
async def test_a_bad_retention_is_a_422_naming_the_field(api: Api, body: Any, field: str) -> None:
    response = await put_days(api, body)
    assert field in error_fields(response)
    assert (await api.call("GET", "/tenant/retention")).json()["source"] == "default"


async def test_retention_and_holds_need_the_admin_scope(api: Api) -> None:
    for method, path, body in (
        ("GET", "/tenant/retention", None),
        ("PUT", "/tenant/retention", {"days": 3}),
        ("DELETE", "/tenant/retention", None),
        ("GET", "/holds", None),
        ("POST", "/holds", HOLD),
        ("GET", "/holds/x", None),
        ("DELETE", "/holds/x", None),
        ("POST", "/holds/x/release", None),
    ):
        response = await api.call(method, path, json=body, scopes=[READ, WRITE])
        problem(response, 403)
        problem(await api.call(method, path, json=body, anonymous=True), 401)


async def test_a_hold_is_created_listed_read_and_released(api: Api) -> None:
    response = await api.call("POST", "/holds", json=HOLD)
    assert response.status_code == 201, response.text
    hold = response.json()
    assert hold["filter"] == {"actor_id": "u-42"}
    assert hold["reason"] == HOLD["reason"]
    assert hold["status"] == "active"
    assert hold["released_at"] is None
    assert response.headers["location"].endswith(f"/holds/{hold['id']}")
    assert (await api.call("GET", f"/holds/{hold['id']}")).json() == hold
    assert (await api.call("GET", "/holds")).json() == {"items": [hold]}

    released = await api.call("DELETE", f"/holds/{hold['id']}")
    assert released.status_code == 200
    assert released.json()["status"] == "released"
    assert released.json()["released_at"] is not None
    assert (await api.call("GET", "/holds")).json() == {"items": []}
    assert (await api.call("GET", "/holds?status=released")).json()["items"] == [released.json()]
    assert (await api.call("GET", "/holds?status=all")).json()["items"] == [released.json()]
    # releasing again changes nothing
    again = await api.call("POST", f"/holds/{hold['id']}/release")
    assert again.json() == released.json()


async def test_the_post_form_releases_too_and_target_is_flattened(api: Api) -> None:
    body = {
        "filter": {"target": {"type": "document", "id": "d-7"}, "action": "doc.*"},
        "reason": "r",
    }
    hold = (await api.call("POST", "/holds", json=body)).json()
    assert hold["filter"] == {"target_type": "document", "target_id": "d-7", "action": "doc.*"}
    response = await api.call("POST", f"/holds/{hold['id']}/release")
    assert response.status_code == 200
    assert response.json()["status"] == "released"


async def test_holds_are_per_tenant(api: Api) -> None:
    hold = (await api.call("POST", "/holds", json=HOLD)).json()
    for method, path in (
        ("GET", f"/holds/{hold['id']}"),
        ("DELETE", f"/holds/{hold['id']}"),
        ("POST", f"/holds/{hold['id']}/release"),
    ):
        problem(await api.call(method, path, tenant="globex"), 404)
    assert (await api.call("GET", "/holds", tenant="globex")).json() == {"items": []}
    assert (await api.call("GET", f"/holds/{hold['id']}")).json()["status"] == "active"


async def test_an_unknown_hold_is_a_404(api: Api) -> None:
    for method, path in (
        ("GET", "/holds/nope"),
        ("DELETE", "/holds/nope"),
        ("POST", "/holds/nope/release"),
    ):
        problem(await api.call(method, path), 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"filter": {}, "reason": "r"}, "filter"),
        ({"filter": {"colour": "red"}, "reason": "r"}, "filter.colour"),
        ({"filter": {"actor_id": ""}, "reason": "r"}, "filter.actor_id"),
        ({"filter": {"action": "a b"}, "reason": "r"}, "filter.action"),
        ({"filter": {"since": "yesterday"}, "reason": "r"}, "filter.since"),
        ({"filter": {"target": {"kind": "x"}}, "reason": "r"}, "filter.target"),
        ({"filter": "u-42", "reason": "r"}, "filter"),
        ({"filter": {"actor_id": "u-1"}}, "reason"),
        ({"filter": {"actor_id": "u-1"}, "reason": " "}, "reason"),
        ({"reason": "r"}, "filter"),
        ({**HOLD, "scope": "all"}, "scope"),
    ],
)
async def test_a_bad_hold_is_a_422_naming_the_field(api: Api, body: Any, field: str) -> None:
    assert field in error_fields(await api.call("POST", "/holds", json=body))
    assert (await api.call("GET", "/holds")).json() == {"items": []}


async def test_an_unknown_list_status_or_parameter_is_a_422(api: Api) -> None:
    assert "status" in error_fields(await api.call("GET", "/holds?status=maybe"))
    assert "limit" in error_fields(await api.call("GET", "/holds?limit=3"))


async def test_the_openapi_document_describes_what_the_routes_take_and_give(api: Api) -> None:
    checker = SchemaChecker((await api.call("GET", "/openapi.json", anonymous=True)).json())
    schema = checker.resolve
    hold = (await api.call("POST", "/holds", json=HOLD)).json()
    assert checker.valid(schema("#/components/schemas/Hold"), hold)
    released = (await api.call("DELETE", f"/holds/{hold['id']}")).json()
    assert checker.valid(schema("#/components/schemas/Hold"), released)
    listing = (await api.call("GET", "/holds?status=all")).json()
    assert checker.valid(schema("#/components/schemas/HoldList"), listing)
    assert checker.valid(schema("#/components/schemas/HoldInput"), HOLD)
    assert not checker.valid(schema("#/components/schemas/HoldInput"), {**HOLD, "filter": {}})
    retention = (await put_days(api, {"days": 0.5})).json()
    assert checker.valid(schema("#/components/schemas/Retention"), retention)
    for days, ok in ((0.5, True), (None, True), (0, False), ("3", False)):
        assert checker.valid(schema("#/components/schemas/RetentionInput"), {"days": days}) == ok
