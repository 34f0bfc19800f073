"""The public routes, and what any path does with a wrong path or method."""

from __future__ import annotations

import re

import pytest

from tests.api.client import Api, problem


async def test_check_port_needs_no_token(api: Api) -> None:
    response = await api.call("GET", "/check-port", anonymous=True)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_check_port_ignores_a_bad_token(api: Api) -> None:
    response = await api.call("GET", "/check-port", token="not-a-token")
    assert response.status_code == 200


async def test_openapi_document_needs_no_token(api: Api) -> None:
    response = await api.call("GET", "/openapi.json", anonymous=True)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {
        "/apiv3/audit_trail/check-port",
        "/apiv3/audit_trail/openapi.json",
        "/apiv3/audit_trail/docs",
        "/apiv3/audit_trail/metrics",
        "/apiv3/audit_trail/entries",
        "/apiv3/audit_trail/entries/batch",
        "/apiv3/audit_trail/entries/{entry_id}",
        "/apiv3/audit_trail/entries/{entry_id}/history",
    }


async def test_openapi_document_states_each_operations_scope(api: Api) -> None:
    paths = (await api.call("GET", "/openapi.json", anonymous=True)).json()["paths"]
    entry = paths["/apiv3/audit_trail/entries/{entry_id}"]
    assert entry["get"]["security"] == [{"bearerAuth": ["audit:read"]}]
    assert entry["put"]["security"] == [{"bearerAuth": ["audit:admin"]}]
    assert entry["delete"]["security"] == [{"bearerAuth": ["audit:admin"]}]
    assert paths["/apiv3/audit_trail/entries"]["post"]["security"] == [
        {"bearerAuth": ["audit:write"]}
    ]
    assert paths["/apiv3/audit_trail/check-port"]["get"]["security"] == []
    assert "422" in paths["/apiv3/audit_trail/entries"]["get"]["responses"]


async def test_docs_page_is_self_contained_html(api: Api) -> None:
    response = await api.call("GET", "/docs", anonymous=True)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert 'href="/apiv3/audit_trail/openapi.json"' in page
    assert "/apiv3/audit_trail/entries/{entry_id}/history" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)


async def test_problem_types_point_to_a_section_of_the_docs_page(api: Api) -> None:
    body = problem(await api.call("GET", "/entries/unknown-id"), 404)
    page, _, anchor = body["type"].partition("#")
    assert page == "/apiv3/audit_trail/docs"
    docs = (await api.call("GET", "/docs", anonymous=True)).text
    assert f'id="{anchor}"' in docs


@pytest.mark.parametrize(
    "path",
    ["/nowhere", "/apiv3/audit_trail/nothing", "/apiv3/audit_trail/entries/x/y"],
)
async def test_unknown_routes_are_404_problems(api: Api, path: str) -> None:
    response = await api.http.get(path)
    problem(response, 404)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/check-port", "GET, HEAD"),
        ("PATCH", "/entries", "POST, GET, HEAD"),
        ("POST", "/entries/some-id", "GET, HEAD, PUT, DELETE"),
        ("GET", "/entries/batch", "POST"),
        ("OPTIONS", "/entries/some-id/history", "GET, HEAD"),
    ],
)
async def test_a_known_path_with_a_wrong_method_is_405_with_allow(
    api: Api, method: str, path: str, allow: str
) -> None:
    response = await api.call(method, path)
    problem(response, 405)
    assert response.headers["allow"] == allow


async def test_head_answers_like_get_without_a_body(api: Api) -> None:
    response = await api.call("HEAD", "/check-port", anonymous=True)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == b""


async def test_head_on_a_post_only_path_is_405_with_allow(api: Api) -> None:
    response = await api.call("HEAD", "/entries/batch")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.content == b""


async def test_a_trailing_slash_reaches_the_same_route(api: Api) -> None:
    response = await api.call("GET", "/check-port/", anonymous=True)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def _references(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _references(value)]
    if isinstance(node, list):
        return [r for value in node for r in _references(value)]
    return []


async def test_every_schema_reference_in_the_openapi_document_resolves(api: Api) -> None:
    document = (await api.call("GET", "/openapi.json", anonymous=True)).json()
    references = _references(document)
    assert references
    for reference in references:
        node = document
        for part in reference.removeprefix("#/").split("/"):
            node = node[part]
        assert isinstance(node, dict), reference
