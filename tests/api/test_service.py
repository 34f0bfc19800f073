"""The public routes, and what any path does with a wrong path or method."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.client import Api, problem
from tests.api.schema_subset import SchemaChecker


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
        "/apiv3/audit_trail/ready",
        "/apiv3/audit_trail/openapi.json",
        "/apiv3/audit_trail/docs",
        "/apiv3/audit_trail/docs/{asset}",
        "/apiv3/audit_trail/metrics",
        "/apiv3/audit_trail/viewer",
        "/apiv3/audit_trail/viewer/{asset}",
        "/apiv3/audit_trail/entries",
        "/apiv3/audit_trail/entries/batch",
        "/apiv3/audit_trail/entries/export",
        "/apiv3/audit_trail/entries/{entry_id}",
        "/apiv3/audit_trail/entries/{entry_id}/erase",
        "/apiv3/audit_trail/entries/{entry_id}/history",
        "/apiv3/audit_trail/entries/{entry_id}/proof",
        "/apiv3/audit_trail/stream",
        "/apiv3/audit_trail/log/key",
        "/apiv3/audit_trail/log/checkpoint",
        "/apiv3/audit_trail/log/consistency",
        "/apiv3/audit_trail/log/leaves",
        "/apiv3/audit_trail/tenant/retention",
        "/apiv3/audit_trail/holds",
        "/apiv3/audit_trail/holds/{hold_id}",
        "/apiv3/audit_trail/holds/{hold_id}/release",
        "/apiv3/audit_trail/viewer-tokens",
        "/apiv3/audit_trail/webhooks",
        "/apiv3/audit_trail/webhooks/{webhook_id}",
        "/apiv3/audit_trail/webhooks/{webhook_id}/resume",
        "/apiv3/audit_trail/webhooks/{webhook_id}/deliveries",
    }


async def test_openapi_document_states_each_operations_scope(api: Api) -> None:
    paths = (await api.call("GET", "/openapi.json", anonymous=True)).json()["paths"]
    entry = paths["/apiv3/audit_trail/entries/{entry_id}"]
    assert entry["get"]["security"] == [{"bearerAuth": ["audit:read"]}]
    assert entry["put"]["security"] == [{"bearerAuth": ["audit:admin"]}]
    assert entry["delete"]["security"] == [{"bearerAuth": ["audit:admin"]}]
    erase = paths["/apiv3/audit_trail/entries/{entry_id}/erase"]["post"]
    assert erase["security"] == [{"bearerAuth": ["audit:erase"]}]
    assert paths["/apiv3/audit_trail/entries"]["post"]["security"] == [
        {"bearerAuth": ["audit:write"]}
    ]
    assert paths["/apiv3/audit_trail/check-port"]["get"]["security"] == []
    assert "422" in paths["/apiv3/audit_trail/entries"]["get"]["responses"]


async def test_problem_types_point_to_a_section_of_the_docs_page(api: Api) -> None:
    body = problem(await api.call("GET", "/entries/unknown-id"), 404)
    page, _, anchor = body["type"].partition("#")
    assert page == "/apiv3/audit_trail/docs"
    # the docs page (Swagger UI) shows the OpenAPI document's description on top
    document = (await api.call("GET", "/openapi.json", anonymous=True)).json()
    assert f'<a id="{anchor}"></a>' in document["info"]["description"]


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
        ("PUT", "/entries/export", "GET, HEAD"),
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


# What schemathesis found: requests the document and the server disagreed on. Each is
# (what it shows, the request, the server's answer); the document must admit the
# request exactly when the server accepts it.


def _nested_lists(depth: int) -> dict[str, Any]:
    """Metadata whose deepest container is at ``depth`` (the object itself is depth 1)."""
    value: Any = 1
    for _ in range(depth - 1):
        value = [value]
    return {"k": value}


def _nested_objects(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"k": value}
    return value


ENTRY_CASES: list[tuple[str, dict[str, Any], int]] = [
    ("optional fields as null", dict.fromkeys(["actor", "target", "tags", "metadata"]), 201),
    ("occurred_at as null", {"occurred_at": None}, 201),
    ("optional members as null", {"actor": {"id": "u", "type": None, "name": None}}, 201),
    ("target name as null", {"target": {"type": "doc", "id": "d", "name": None}}, 201),
    ("outcome as null", {"outcome": None}, 422),
    ("empty metadata key", {"metadata": {"": 1}}, 422),
    ("nested empty metadata key", {"metadata": {"a": [{"": 1}]}}, 422),
    ("metadata key with $", {"metadata": {"$where": 1}}, 422),
    ("metadata key with a dot", {"metadata": {"a": {"b.c": 1}}}, 422),
    ("metadata key with NUL", {"metadata": {"a\x00": 1}}, 422),
    ("largest safe integer", {"metadata": {"n": 2**53 - 1, "m": -(2**53 - 1)}}, 201),
    ("integer past 2**53 - 1", {"metadata": {"n": [2**53]}}, 422),
    ("a fraction", {"metadata": {"x": -2.5e-8}}, 201),
    ("lists 8 levels deep", {"metadata": _nested_lists(8)}, 201),
    ("lists 9 levels deep", {"metadata": _nested_lists(9)}, 422),
    ("objects 8 levels deep", {"metadata": _nested_objects(8)}, 201),
    ("objects 9 levels deep", {"metadata": _nested_objects(9)}, 422),
    ("NUL in a tag", {"tags": ["ok", "a\x00"]}, 422),
    ("NUL in a target id", {"target": {"type": "doc", "id": "d\x00"}}, 422),
]


async def test_the_document_admits_exactly_the_entries_the_server_records(api: Api) -> None:
    checker = SchemaChecker((await api.call("GET", "/openapi.json", anonymous=True)).json())
    entry_input = checker.resolve("#/components/schemas/EntryInput")
    for case, fields, status in ENTRY_CASES:
        body = {"action": "document.update", **fields}
        response = await api.call("POST", "/entries", json=body)
        assert response.status_code == status, (case, response.text)
        assert checker.valid(entry_input, body) == (status == 201), case


QUERY_CASES: list[tuple[str, dict[str, str], int]] = [
    ("filters", {"actor_id": "u-1", "actor_type": "user", "tag": "ui"}, 200),
    ("an action prefix", {"action": "document.*"}, 200),
    ("a long fraction of a second", {"since": "2026-01-01T00:00:00.123456789Z"}, 200),
    ("empty actor_id", {"actor_id": ""}, 422),
    ("empty actor_type", {"actor_type": ""}, 422),
    ("empty target_type", {"target_type": ""}, 422),
    ("empty tag", {"tag": ""}, 422),
    ("NUL in target_id", {"target_id": "d\x00"}, 422),
    ("empty action", {"action": ""}, 422),
    ("a bare star", {"action": "*"}, 422),
    ("a space in the action", {"action": "a b"}, 422),
    ("empty cursor", {"cursor": ""}, 422),
    ("cursor over 512 characters", {"cursor": "c" * 513}, 422),
    ("since over 64 characters", {"since": "2026-01-01T00:00:00." + "0" * 45 + "Z"}, 422),
]


async def test_the_document_admits_exactly_the_queries_the_server_answers(api: Api) -> None:
    document = (await api.call("GET", "/openapi.json", anonymous=True)).json()
    checker = SchemaChecker(document)
    parameters = document["paths"]["/apiv3/audit_trail/entries"]["get"]["parameters"]
    schemas = {p["name"]: p["schema"] for p in parameters if p["in"] == "query"}
    for case, query, status in QUERY_CASES:
        response = await api.call("GET", "/entries", params=query)
        assert response.status_code == status, (case, response.text)
        admitted = all(checker.valid(schemas[name], value) for name, value in query.items())
        assert admitted == (status == 200), case
