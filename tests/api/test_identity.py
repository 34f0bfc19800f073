"""Both apps answer byte for byte the same: the same status, headers and body."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.api.client import BASE, entry, send_as_is
from tests.api.conftest import FRAMEWORKS, Serve, api_settings
from tests.api.tokens import KeyPair, Tokens, bearer

JSON = {"content-type": "application/json"}
PROBES: list[tuple[str, str, dict[str, str], bytes]] = [
    ("GET", f"{BASE}/openapi.json", {}, b""),
    ("GET", f"{BASE}/docs", {}, b""),
    ("GET", f"{BASE}/check-port", {}, b""),
    ("GET", "/nowhere", {}, b""),
    ("GET", f"{BASE}/entries/a/b/c", {}, b""),
    ("PATCH", f"{BASE}/entries", {}, b""),
    ("HEAD", f"{BASE}/entries", {}, b""),
    ("GET", f"{BASE}/entries", {"authorization": "Basic eDp5"}, b""),
    ("GET", f"{BASE}/entries", {"authorization": "Bearer nope"}, b""),
    ("POST", f"{BASE}/entries", {"content-type": "text/plain"}, b"{}"),
    ("POST", f"{BASE}/entries", JSON, b"{"),
    ("POST", f"{BASE}/entries", JSON, b'{"colour": 1}'),
    ("POST", f"{BASE}/entries", JSON, b" " * 70_000),
    ("POST", f"{BASE}/entries/batch", JSON, b'{"entries": [{}, {"action": "x"}]}'),
    ("GET", f"{BASE}/entries?actor_id[$ne]=x&limit=0", {}, b""),
    ("GET", f"{BASE}/entries/unknown-id", {}, b""),
    ("DELETE", f"{BASE}/entries/unknown-id", {}, b""),
    ("GET", f"{BASE}/entries/unknown-id/history", {}, b""),
    ("delete", f"{BASE}/entries/unknown-id", {}, b""),
    ("get", f"{BASE}/check-port", {}, b""),
    ("FOO", f"{BASE}/entries", {}, b""),
    ("OPTIONS", f"{BASE}/entries/unknown-id", {}, b""),
    ("TRACE", f"{BASE}/docs", {}, b""),
    ("HEAD", f"{BASE}/entries/batch", {}, b""),
    ("HEAD", "/nowhere", {}, b""),
    ("GET", f"{BASE}/entries/batch", {}, b""),
    ("GET", f"{BASE}/entries/batch/history", {}, b""),
]


def _observable(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body; a generated request id differs by design, so only its
    presence counts."""
    headers = [
        (name, "<generated>" if name == "x-request-id" else value)
        for name, value in response.headers.multi_items()
    ]
    return response.status_code, sorted(headers), response.content


async def test_both_apps_answer_every_probe_identically(
    serve: Serve, keys: KeyPair, tokens: Tokens, tmp_path: Path
) -> None:
    settings = api_settings(keys, tmp_path, storage="memory", cache="memory")
    clients = {name: await serve(name, settings) for name in FRAMEWORKS}
    auth = bearer(tokens.token())
    answers: dict[str, list[tuple[int, list[tuple[str, str]], bytes]]] = {}
    for name, client in clients.items():
        answers[name] = []
        for method, path, headers, body in PROBES:
            sent = {**auth, **headers}
            response = await send_as_is(client, method, path, headers=sent, content=body)
            answers[name].append(_observable(response))
    quart, litestar = answers["quart"], answers["litestar"]
    for probe, left, right in zip(PROBES, quart, litestar, strict=True):
        assert left == right, probe


async def test_the_openapi_document_is_the_same_from_both_apps(
    serve: Serve, keys: KeyPair, tmp_path: Path
) -> None:
    settings = api_settings(keys, tmp_path, storage="memory", cache="memory")
    documents = [
        (await (await serve(name, settings)).get(f"{BASE}/openapi.json")).content
        for name in FRAMEWORKS
    ]
    assert documents[0] == documents[1]
    assert b'"openapi":"3.1.0"' in documents[0]


async def test_an_entry_renders_the_same_from_both_apps(
    serve: Serve, keys: KeyPair, tokens: Tokens, tmp_path: Path
) -> None:
    settings = api_settings(keys, tmp_path, storage="memory", cache="memory")
    auth = bearer(tokens.token())
    rendered = []
    for name in FRAMEWORKS:
        client = await serve(name, settings)
        created = await client.post(f"{BASE}/entries", json=entry(), headers=auth)
        stored = created.json()
        got = await client.get(f"{BASE}/entries/{stored['id']}", headers=auth)
        for volatile in ("id", "recorded_at"):
            stored.pop(volatile)
        rendered.append((created.status_code, sorted(created.headers), stored, got.headers["etag"]))
    assert rendered[0] == rendered[1]
