"""Each path answers exactly the methods the route table lists, spelled as listed.

Methods are case-sensitive (RFC 9110 §9.1): ``delete`` is not ``DELETE``. Anything a
path does not list, OPTIONS and unknown methods included, is a 405 whose ``Allow``
names what the path does answer.
"""

from __future__ import annotations

import pytest

from tests.api.client import Api, problem

ALLOW = {
    "/check-port": "GET, HEAD",
    "/openapi.json": "GET, HEAD",
    "/docs": "GET, HEAD",
    "/docs/init.js": "GET, HEAD",
    "/metrics": "GET, HEAD",
    "/entries": "POST, GET, HEAD",
    "/entries/batch": "POST",
    "/entries/some-id": "GET, HEAD, PUT, DELETE",
    "/entries/some-id/history": "GET, HEAD",
}


@pytest.mark.parametrize("path", sorted(ALLOW))
@pytest.mark.parametrize("method", ["OPTIONS", "TRACE", "FOO", "get", "Get"])
async def test_a_method_a_path_does_not_list_is_405_with_allow(
    api: Api, path: str, method: str
) -> None:
    response = await api.call(method, path)
    body = problem(response, 405)
    assert response.headers["allow"] == ALLOW[path]
    assert body["detail"].startswith(f"{method} is not allowed here")


@pytest.mark.parametrize("method", ["get", "head", "put", "delete"])
async def test_a_lower_case_method_does_not_reach_the_operation(api: Api, method: str) -> None:
    recorded = await api.record()
    path = f"/entries/{recorded['id']}"
    response = await api.call(method, path)
    problem(response, 405)
    assert response.headers["allow"] == "GET, HEAD, PUT, DELETE"
    history = await api.items(f"{path}/history")
    assert [item["revision"] for item in history] == [1]


async def test_lower_case_post_records_nothing(api: Api) -> None:
    problem(await api.call("post", "/entries", json={"action": "x"}), 405)
    assert await api.items("/entries") == []


@pytest.mark.parametrize(
    "path",
    [
        "/check-port",
        "/openapi.json",
        "/docs",
        "/docs/init.js",
        "/metrics",
        "/entries",
    ],
)
async def test_every_get_route_answers_head_with_headers_and_no_body(api: Api, path: str) -> None:
    got = await api.call("GET", path)
    head = await api.call("HEAD", path)
    assert head.status_code == got.status_code == 200
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.content == b""


async def test_head_on_an_unknown_path_is_a_bodiless_404(api: Api) -> None:
    response = await api.call("HEAD", "/nothing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.content == b""


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_a_plain_route_is_never_read_as_an_entry_id(api: Api, method: str) -> None:
    response = await api.call(method, "/entries/batch")
    problem(response, 405)
    assert response.headers["allow"] == "POST"
