"""POST/GET/DELETE /webhooks on both apps and every backend: the secret shown once,
validation (422 naming the field), SSRF refusals, 404s, tenant isolation, scopes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.client import Api, error_fields, problem
from tests.api.tokens import READ, WRITE

HOOK = {"url": "https://93.184.215.14/hook", "filter": {"actor_id": "u-42"}, "description": "d"}


async def test_a_webhook_is_created_with_its_secret_once_then_listed_without(api: Api) -> None:
    await api.record()
    response = await api.call("POST", "/webhooks", json=HOOK)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["secret"].startswith("whsec_")
    assert created["state"] == "active"
    assert created["cursor"] == 0  # the log held one leaf: only later changes go out
    assert created["filter"] == {"actor_id": "u-42"}
    assert created["failures"] == 0
    assert response.headers["location"].endswith(f"/webhooks/{created['id']}")
    shown = (await api.call("GET", f"/webhooks/{created['id']}")).json()
    assert "secret" not in shown
    assert shown == {k: v for k, v in created.items() if k != "secret"}
    listed = (await api.call("GET", "/webhooks")).json()["items"]
    assert listed == [shown]
    deliveries = await api.call("GET", f"/webhooks/{created['id']}/deliveries")
    assert deliveries.json() == {"items": []}
    # another tenant sees none of it
    assert (await api.call("GET", "/webhooks", tenant="globex")).json() == {"items": []}
    for method, path in (
        ("GET", f"/webhooks/{created['id']}"),
        ("DELETE", f"/webhooks/{created['id']}"),
        ("POST", f"/webhooks/{created['id']}/resume"),
        ("GET", f"/webhooks/{created['id']}/deliveries"),
    ):
        problem(await api.call(method, path, tenant="globex"), 404)
    assert (await api.call("DELETE", f"/webhooks/{created['id']}")).status_code == 204
    problem(await api.call("GET", f"/webhooks/{created['id']}"), 404)
    problem(await api.call("DELETE", f"/webhooks/{created['id']}"), 404)


async def test_a_webhook_without_a_filter_takes_every_change(api: Api) -> None:
    response = await api.call("POST", "/webhooks", json={"url": "http://93.184.215.14/"})
    assert response.status_code == 201, response.text
    assert response.json()["filter"] == {}
    assert response.json()["cursor"] == -1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "url"),
        ({"url": "ftp://93.184.215.14/x"}, "url"),
        ({"url": "/relative"}, "url"),
        ({"url": "https://93.184.215.14/" + "a" * 2048}, "url"),
        ({"url": 7}, "url"),
        ({"url": "https://93.184.215.14/", "filter": {"nope": 1}}, "filter.nope"),
        ({"url": "https://93.184.215.14/", "filter": {"outcome": "great"}}, "filter.outcome"),
        ({"url": "https://93.184.215.14/", "extra": 1}, "extra"),
        ({"url": "https://93.184.215.14/", "description": 5}, "description"),
        ({"url": "http://127.0.0.1:9/"}, "url"),
        ({"url": "http://10.1.2.3/"}, "url"),
        ({"url": "http://[::1]/"}, "url"),
        ({"url": "http://169.254.169.254/latest/meta-data"}, "url"),
        ({"url": "http://localhost/"}, "url"),
        ({"url": "http://0.0.0.0/"}, "url"),
        ([1], ""),
    ],
)
async def test_a_bad_webhook_is_a_422_naming_the_field(api: Api, body: Any, field: str) -> None:
    response = await api.call("POST", "/webhooks", json=body)
    assert field in error_fields(response)
    assert (await api.call("GET", "/webhooks")).json() == {"items": []}


async def test_webhooks_need_the_admin_scope(api: Api) -> None:
    for method, path, body in (
        ("POST", "/webhooks", HOOK),
        ("GET", "/webhooks", None),
        ("GET", "/webhooks/x", None),
        ("DELETE", "/webhooks/x", None),
        ("POST", "/webhooks/x/resume", None),
        ("GET", "/webhooks/x/deliveries", None),
    ):
        problem(await api.call(method, path, json=body, scopes=[READ, WRITE]), 403)
        problem(await api.call(method, path, json=body, anonymous=True), 401)


async def test_the_delivery_log_limit_is_checked(api: Api) -> None:
    created = (await api.call("POST", "/webhooks", json=HOOK)).json()
    for bad in ("0", "101", "x"):
        response = await api.call("GET", f"/webhooks/{created['id']}/deliveries?limit={bad}")
        assert "limit" in error_fields(response)
