"""In-process services for the verifier's tests: an app per storage, one signing key
shared by every app of a test (so two apps are two histories of the same log), and a
transport that tampers with what a service answers (a lying service, or a database
edited behind its back)."""

from __future__ import annotations

import contextlib
import inspect
import json
import unittest.mock
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from dependency_injector import providers

from audit_trail.core.ports import Clock
from audit_trail.entrypoints import litestar_app
from audit_trail.entrypoints.container import Container, build_container
from audit_trail.entrypoints.settings import Settings
from audit_trail.verify import ServiceClient, Verifier
from tests.api.client import BASE, entry
from tests.api.conftest import api_settings
from tests.api.tokens import KeyPair, Tokens, bearer

ORIGIN = "verify.test/audit-trail"

Edit = Callable[[httpx.Request, Any], Any]
"""Given the request and the JSON (or text) a route answered, what to answer instead
(or an ``httpx.Response`` to send in its place)."""


class Tampering(httpx.AsyncBaseTransport):
    """Passes requests to the app; answers of paths containing a key of ``edits`` are
    rewritten by its function (JSON bodies as objects, text bodies as str)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.edits: dict[str, Edit] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        edit = next((e for part, e in self.edits.items() if part in request.url.path), None)
        if edit is None or response.status_code != 200:
            return response
        raw = await response.aread()
        media_type = response.headers["content-type"]
        edited = edit(request, json.loads(raw) if "json" in media_type else raw.decode())
        if isinstance(edited, httpx.Response):  # another answer altogether
            return edited
        body = json.dumps(edited).encode() if "json" in media_type else edited.encode()
        return httpx.Response(200, headers={"content-type": media_type}, content=body)


@dataclass
class Service:
    """One running app: an API client for writing, a tampering transport for readers."""

    http: httpx.AsyncClient
    transport: Tampering
    tokens: Tokens
    stack: contextlib.AsyncExitStack
    container: Container

    async def storage(self) -> Any:
        """The app's storage (the in-memory repository, its log and query index): the
        database, for a test that edits it behind the service's back."""
        return await _resolved(self.container.repository())

    async def query(self, **params: str) -> dict[str, Any]:
        """``GET /entries?…&proof=1``: also integrates the query index."""
        response = await self.http.get(
            f"{BASE}/entries", params={**params, "proof": "1"}, headers=self._auth()
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def token(self) -> str:
        return self.tokens.token()

    async def record(self, **fields: Any) -> dict[str, Any]:
        response = await self.http.post(
            f"{BASE}/entries", json=entry(**fields), headers=self._auth()
        )
        assert response.status_code == 201, response.text
        recorded: dict[str, Any] = response.json()
        return recorded

    async def amend(self, entry_id: str, **fields: Any) -> dict[str, Any]:
        response = await self.http.put(
            f"{BASE}/entries/{entry_id}", json=entry(**fields), headers=self._auth()
        )
        assert response.status_code == 200, response.text
        amended: dict[str, Any] = response.json()
        return amended

    async def delete(self, entry_id: str) -> None:
        response = await self.http.delete(f"{BASE}/entries/{entry_id}", headers=self._auth())
        assert response.status_code == 204, response.text

    def reader(self) -> ServiceClient:
        """A verifier's client, through the tampering transport."""
        http = httpx.AsyncClient(transport=self.transport, base_url="http://api")
        self.stack.push_async_callback(http.aclose)
        return ServiceClient(http, self.token())

    async def vkey(self) -> str:
        response = await self.http.get(f"{BASE}/log/key")
        vkey: str = response.json()["vkey"]
        return vkey

    async def verifier(self) -> Verifier:
        return Verifier(self.reader(), await self.vkey(), settle_seconds=0)

    def _auth(self) -> dict[str, str]:
        return bearer(self.token())


class Services:
    """Starts apps for one test; all of them sign with one key under one origin."""

    def __init__(self, stack: contextlib.AsyncExitStack, tmp_path: Path) -> None:
        self._stack = stack
        self._tmp_path = tmp_path
        self._keys = KeyPair.generate()
        self.tokens = Tokens(self._keys, self._keys)
        self._count = 0

    async def start(self, clock: Clock | None = None, **overrides: Any) -> Service:
        """An app on the in-memory storage; ``overrides`` change its settings;
        ``clock``, when given, is the app's clock."""
        self._count += 1
        folder = self._tmp_path / f"app-{self._count}"
        folder.mkdir()
        settings = api_settings(
            self._keys,
            folder,
            **{
                "storage": "memory",
                "cache": "memory",
                "log_origin": ORIGIN,
                "log_signing_key_file": self._tmp_path / "log-signing-key",
                **overrides,
            },
        )
        built: list[Container] = []

        def keep(settings: Settings) -> Container:  # the app's own container, kept
            built.append(build_container(settings))
            if clock is not None:
                built[-1].clock.override(providers.Object(clock))
            return built[-1]

        with unittest.mock.patch.object(litestar_app, "build_container", keep):
            app: Any = litestar_app.create_app(settings)  # an ASGI app, as the API suite types it
        await self._stack.enter_async_context(LifespanManager(app))
        transport = Tampering(httpx.ASGITransport(app=app))
        http = httpx.AsyncClient(transport=transport.inner, base_url="http://api")
        await self._stack.enter_async_context(http)
        return Service(http, transport, self.tokens, self._stack, built[0])


async def _resolved(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value
