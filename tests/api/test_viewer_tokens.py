"""POST /viewer-tokens, and what a viewer token may read: every app, every backend."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import jwt
import pytest

from audit_trail.core import EntryFilters, Principal
from audit_trail.core.restriction import Restriction
from audit_trail.core.usecases.change_reader import ChangeReader
from audit_trail.entrypoints.container import Container, build_container
from tests.api.client import Api, entry, error_fields, problem
from tests.api.conftest import APP_PARAMS, BACKENDS, Serve, api_settings
from tests.api.schema_subset import SchemaChecker
from tests.api.tokens import ADMIN, READ, WRITE, KeyPair, Tokens

ADA = {"id": "u-ada", "type": "user"}
BOB = {"id": "u-bob", "type": "user"}
DOC = {"type": "document", "id": "d-1"}
SHEET = {"type": "sheet", "id": "s-1"}


class Viewer:
    """An app, its composition root, and the entries every test reads."""

    def __init__(self, api: Api, container: Container) -> None:
        self.api = api
        self.container = container
        self.ada: dict[str, Any] = {}
        self.bob: dict[str, Any] = {}

    async def seed(self) -> None:
        self.ada = await self.api.record(entry(actor=ADA, target=DOC, action="doc.read"))
        self.bob = await self.api.record(entry(actor=BOB, target=SHEET, action="doc.read"))

    async def mint(self, status: int = 201, **body: Any) -> dict[str, Any]:
        response = await self.api.call("POST", "/viewer-tokens", json=body, scopes=[ADMIN])
        assert response.status_code == status, response.text
        minted: dict[str, Any] = response.json()
        return minted

    async def token(self, **body: Any) -> str:
        token: str = (await self.mint(**body))["token"]
        return token

    async def get(self, path: str, token: str, **params: str) -> Any:
        return await self.api.call("GET", path, token=token, params=params)

    async def ids(self, token: str, **params: str) -> list[str]:
        response = await self.get("/entries", token, **params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]


@pytest.fixture(params=APP_PARAMS)
async def viewer(
    request: pytest.FixtureRequest, keys: KeyPair, tokens: Tokens, tmp_path: Path, serve: Serve
) -> Viewer:
    framework, backend = request.param
    settings = api_settings(keys, tmp_path, **BACKENDS[backend](request))
    container = build_container(settings)
    service = Viewer(Api(await serve(framework, settings, container), tokens), container)
    await service.seed()
    return service


def _payload(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return claims


async def test_an_admin_mints_a_token_that_reads_the_whole_tenant(viewer: Viewer) -> None:
    before = datetime.now(UTC)
    minted = await viewer.mint()
    assert set(minted) == {"token", "token_type", "expires_at", "tenant", "restriction"}
    assert (minted["token_type"], minted["tenant"], minted["restriction"]) == ("Bearer", "acme", {})
    expires = datetime.fromisoformat(minted["expires_at"])
    assert timedelta(minutes=4) < expires - before <= timedelta(minutes=5, seconds=1)
    claims = _payload(minted["token"])
    assert claims["scope"] == READ
    assert claims["sub"] == "viewer:u-1"
    token = minted["token"]
    assert sorted(await viewer.ids(token)) == sorted([viewer.ada["id"], viewer.bob["id"]])
    response = await viewer.get(f"/entries/{viewer.bob['id']}", token)
    assert response.status_code == 200, response.text
    assert (await viewer.get("/log/checkpoint", token)).status_code == 200


async def test_an_actor_token_sees_that_actors_entries_alone(viewer: Viewer) -> None:
    minted = await viewer.mint(actor_id="u-ada", ttl_seconds=60)
    assert minted["restriction"] == {"actor_id": "u-ada"}
    token = minted["token"]
    ada, bob = viewer.ada["id"], viewer.bob["id"]
    assert (await viewer.get(f"/entries/{ada}", token)).status_code == 200
    for path in (f"/entries/{bob}", f"/entries/{bob}/history", f"/entries/{bob}/proof"):
        absent = problem(await viewer.get(path, token), 404)
        missing = problem(await viewer.get(path.replace(bob, "no-such-id"), token), 404)
        assert absent["detail"].replace(bob, "X") == missing["detail"].replace("no-such-id", "X")
    problem(await viewer.api.call("GET", f"/entries/{bob}/history?after=1", token=token), 404)
    problem(await viewer.api.call("GET", f"/entries/{bob}/history?after=9", token=token), 404)
    assert (await viewer.get(f"/entries/{ada}/history", token)).status_code == 200
    assert (await viewer.get(f"/entries/{ada}/proof", token)).status_code == 200
    assert await viewer.ids(token) == [ada]
    assert await viewer.ids(token, actor_id="u-ada") == [ada]
    assert await viewer.ids(token, actor_id="u-bob") == []
    assert await viewer.ids(token, target_type="sheet", target_id="s-1") == []
    problem(await viewer.get("/log/leaves", token, start="0", end="1"), 403)


async def test_a_target_token_sees_that_targets_entries_alone(viewer: Viewer) -> None:
    token = await viewer.token(target={"type": "sheet", "id": "s-1"})
    bob = viewer.bob["id"]
    assert await viewer.ids(token) == [bob]
    assert await viewer.ids(token, actor_id="u-ada") == []
    problem(await viewer.get(f"/entries/{viewer.ada['id']}", token), 404)
    assert (await viewer.get(f"/entries/{bob}", token)).status_code == 200


async def test_a_restricted_reader_never_gets_an_unrestricted_cached_page(viewer: Viewer) -> None:
    everything = sorted([viewer.ada["id"], viewer.bob["id"]])
    whole = await viewer.token()
    ada = await viewer.token(actor_id="u-ada")
    for _ in range(2):  # the second round reads the cache, in both orders
        assert sorted(await viewer.ids(whole, action="doc.read")) == everything
        assert await viewer.ids(ada, action="doc.read") == [viewer.ada["id"]]
    bob = await viewer.token(actor_id="u-bob")
    assert await viewer.ids(bob, action="doc.read") == [viewer.bob["id"]]
    assert sorted(await viewer.ids(whole, action="doc.read")) == everything


async def test_the_export_holds_the_restricted_entries_alone(viewer: Viewer) -> None:
    token = await viewer.token(actor_id="u-ada")
    for params in ({}, {"actor_id": "u-bob"}):
        response = await viewer.get("/entries/export", token, **params)
        assert response.status_code == 200, response.text
        lines = [json.loads(line) for line in response.text.splitlines()]
        exported = [line["entry"]["id"] for line in lines if "entry" in line]
        assert exported == ([viewer.ada["id"]] if not params else [])
        assert "trailer" in lines[-1]


async def test_the_change_stream_holds_the_restricted_changes_alone(viewer: Viewer) -> None:
    token = await viewer.token(actor_id="u-ada")
    response = await viewer.api.call("HEAD", "/stream", token=token)
    assert response.status_code == 200, response.text
    # the stream's reader (an SSE stream never ends, so it is read here, not over HTTP)
    reader: ChangeReader = await cast(Awaitable[ChangeReader], viewer.container.change_reader())
    size = await reader.size("acme")
    restricted = Principal("viewer:u-1", "acme", frozenset({READ}), Restriction("u-ada"))
    changes = await reader.changes(restricted, EntryFilters(), 0, size)
    assert [change.data["id"] for change in changes] == [viewer.ada["id"]]
    elsewhere = Restriction(target_type="sheet", target_id="nothing")
    assert (
        await reader.changes(
            Principal("v", "acme", frozenset({READ}), elsewhere), EntryFilters(), 0, size
        )
        == []
    )


async def test_a_viewer_token_is_refused_on_writes_and_admin_routes(viewer: Viewer) -> None:
    token = await viewer.token()
    ada = viewer.ada["id"]
    for method, path, body in (
        ("POST", "/entries", entry()),
        ("PUT", f"/entries/{ada}", entry()),
        ("DELETE", f"/entries/{ada}", None),
        ("POST", "/viewer-tokens", {}),
        ("GET", "/holds", None),
        ("GET", "/tenant/retention", None),
    ):
        response = await viewer.api.call(method, path, token=token, json=body)
        problem(response, 403)


async def test_an_expired_token_is_refused(viewer: Viewer) -> None:
    token = await viewer.token(ttl_seconds=1)
    assert (await viewer.get("/entries", token)).status_code == 200
    await asyncio.sleep(1.2)
    refused = await viewer.get("/entries", token)
    problem(refused, 401)
    assert refused.headers["www-authenticate"].startswith("Bearer")


async def test_a_tampered_token_is_refused(viewer: Viewer) -> None:
    token = await viewer.token(actor_id="u-ada")
    header, _, signature = token.split(".")
    claims = _payload(token)
    changes: list[dict[str, Any]] = [
        {"restriction": {}},
        {"restriction": {"actor_id": "u-bob"}},
        {"tenant": "x"},
    ]
    for change in changes:
        forged = json.dumps({**claims, **change}).encode()
        body = base64.urlsafe_b64encode(forged).rstrip(b"=").decode()
        problem(await viewer.get("/entries", f"{header}.{body}.{signature}"), 401)


async def test_a_token_signed_with_another_key_is_refused(viewer: Viewer) -> None:
    claims = _payload(await viewer.token())
    other = jwt.encode(
        claims, secrets.token_bytes(32), algorithm="HS256", headers={"kid": "audit-trail/viewer"}
    )
    problem(await viewer.get("/entries", other), 401)


async def test_an_identity_provider_token_cannot_pass_as_a_viewer_token(viewer: Viewer) -> None:
    tokens = viewer.api.tokens
    claims = tokens.claims([READ, WRITE, ADMIN])
    forged = jwt.encode(
        claims, tokens.keys.private_key, algorithm="RS256", headers={"kid": "audit-trail/viewer"}
    )
    problem(await viewer.get("/entries", forged), 401)


async def test_the_body_is_validated(viewer: Viewer) -> None:
    for body, field in (
        ({"ttl_seconds": 3601}, "ttl_seconds"),
        ({"ttl_seconds": 0}, "ttl_seconds"),
        ({"ttl_seconds": "60"}, "ttl_seconds"),
        ({"actor_id": "u-ada", "target": DOC}, "target"),
        ({"target": {"type": "document"}}, "target.id"),
        ({"actor_id": ""}, "actor_id"),
        ({"scope": "audit:admin"}, "scope"),
    ):
        response = await viewer.api.call("POST", "/viewer-tokens", json=body, scopes=[ADMIN])
        problem(response, 422)
        assert field in error_fields(response), response.text


async def test_minting_needs_the_admin_scope(viewer: Viewer) -> None:
    response = await viewer.api.call("POST", "/viewer-tokens", json={}, scopes=[READ, WRITE])
    problem(response, 403)
    problem(await viewer.api.call("POST", "/viewer-tokens", json={}, anonymous=True), 401)


async def test_a_token_of_another_tenant_sees_nothing_of_this_one(viewer: Viewer) -> None:
    response = await viewer.api.call(
        "POST", "/viewer-tokens", json={}, scopes=[ADMIN], tenant="globex"
    )
    assert response.status_code == 201, response.text
    token = response.json()["token"]
    assert response.json()["tenant"] == "globex"
    assert await viewer.ids(token) == []
    problem(await viewer.get(f"/entries/{viewer.ada['id']}", token), 404)


async def test_a_query_proof_answers_the_restricted_query(viewer: Viewer) -> None:
    token = await viewer.token(actor_id="u-ada")
    response = await viewer.get("/entries", token, proof="1")
    assert response.status_code == 200, response.text
    shown = [item["entry"]["id"] for item in response.json()["entries"]]
    assert shown == [viewer.ada["id"]]
    problem(await viewer.get("/entries", token, proof="1", actor_id="u-bob"), 422)
    by_target = await viewer.token(target={"type": "sheet", "id": "s-1"})
    problem(await viewer.get("/entries", by_target, proof="1", actor_id="u-bob"), 422)


@pytest.mark.parametrize("framework", ["quart", "litestar"])
async def test_processes_sharing_the_log_key_accept_each_others_tokens(
    framework: str, keys: KeyPair, tokens: Tokens, tmp_path: Path, serve: Serve
) -> None:
    settings = api_settings(keys, tmp_path, storage="sqlite", cache="memory")
    first = Api(await serve(framework, settings), tokens)
    second = Api(await serve(framework, settings), tokens)
    recorded = await first.record(entry(actor=ADA))
    response = await first.call("POST", "/viewer-tokens", json={"actor_id": "u-ada"})
    assert response.status_code == 201, response.text
    token = response.json()["token"]
    answer = await second.call("GET", f"/entries/{recorded['id']}", token=token)
    assert answer.status_code == 200, answer.text
    elsewhere = api_settings(keys, tmp_path / "other", storage="memory", cache="memory")
    stranger = Api(await serve(framework, elsewhere), tokens)  # another log signing key
    problem(await stranger.call("GET", "/entries", token=token), 401)


async def test_the_answer_and_the_bodies_match_the_openapi_document(viewer: Viewer) -> None:
    checker = SchemaChecker((await viewer.api.call("GET", "/openapi.json", anonymous=True)).json())
    answer, body = (
        checker.resolve("#/components/schemas/ViewerToken"),
        checker.resolve("#/components/schemas/ViewerTokenInput"),
    )
    for sent in ({}, {"actor_id": "u-ada", "ttl_seconds": 60}, {"target": DOC}):
        assert checker.valid(body, sent)
        assert checker.valid(answer, await viewer.mint(**sent))
    assert not checker.valid(body, {"ttl_seconds": 3601})
