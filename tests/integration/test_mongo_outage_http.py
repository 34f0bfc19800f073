"""Both apps on MongoDB: 503 problem+json within the bound while mongod is down, and
back to normal when it returns, without restarting the app; oversized input is a
413 or 422, never a 500."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from tests.api.client import Api, entry, problem
from tests.api.conftest import FRAMEWORKS, MAX_BODY_BYTES, api_settings
from tests.api.tokens import KeyPair, Tokens
from tests.servers import MongodServer

TIMEOUT_MS = 500
BOUND_SECONDS = TIMEOUT_MS / 1000 + 1.0  # see test_mongo_outage.MARGIN_SECONDS
RECOVERY_SECONDS = 20.0


@pytest.fixture(scope="module")
def tokens() -> Tokens:
    return Tokens(KeyPair.generate(), KeyPair.generate())


@pytest.fixture
def own_mongod(tmp_path: Path) -> Iterator[MongodServer]:
    """A standalone mongod of this test alone, free to be stopped and started."""
    with MongodServer(tmp_path / "mongod") as server:
        yield server


@asynccontextmanager
async def serving(framework: str, uri: str, tokens: Tokens, tmp_path: Path) -> AsyncIterator[Api]:
    """One app on MongoDB at ``uri``, with no query cache: every read reaches storage."""
    settings = api_settings(
        tokens.keys,
        tmp_path,
        storage="mongo",
        cache="none",
        mongo_uri=uri,
        mongo_database=f"http_{uuid.uuid4().hex}",
        mongo_timeout_ms=TIMEOUT_MS,
    )
    app = FRAMEWORKS[framework](settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            yield Api(http, tokens)


@pytest.fixture(params=sorted(FRAMEWORKS))
def framework(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


async def test_503_within_the_bound_while_mongod_is_down_then_recovery(
    framework: str, own_mongod: MongodServer, tokens: Tokens, tmp_path: Path
) -> None:
    async with serving(framework, own_mongod.uri, tokens, tmp_path) as api:
        await check_outage_and_recovery(api, own_mongod)


async def check_outage_and_recovery(api: Api, own_mongod: MongodServer) -> None:
    recorded = await api.record()
    one = f"/entries/{recorded['id']}"
    await asyncio.to_thread(own_mongod.stop)

    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/entries", {"json": entry()}),
        ("POST", "/entries/batch", {"json": {"entries": [entry(), entry()]}}),
        ("GET", "/entries", {}),
        ("GET", one, {}),
        ("GET", f"{one}/history", {}),
        ("PUT", one, {"json": entry(action="document.rename")}),
        ("DELETE", one, {}),
    ]

    async def timed(method: str, path: str, kwargs: dict[str, Any]) -> float:
        began = time.monotonic()
        response = await api.call(method, path, **kwargs)
        problem(response, 503)
        return time.monotonic() - began

    # all at once: each is timed on its own, and the test waits a second, not seven
    elapsed = await asyncio.gather(*(timed(*call) for call in calls))
    assert all(seconds < BOUND_SECONDS for seconds in elapsed), [
        (c[0], c[1], round(s, 3)) for c, s in zip(calls, elapsed, strict=True)
    ]

    await asyncio.to_thread(own_mongod.start)

    deadline = time.monotonic() + RECOVERY_SECONDS
    while (response := await api.call("GET", one)).status_code == 503:
        assert time.monotonic() < deadline, "the app did not recover"
        await asyncio.sleep(0.1)
    assert response.status_code == 200, response.text
    assert response.json() == recorded
    again = await api.record()
    assert [item["id"] for item in await api.items("/entries")] == [again["id"], recorded["id"]]


async def test_oversized_input_is_413_or_422_never_500(
    framework: str, mongod_server: MongodServer, tokens: Tokens, tmp_path: Path
) -> None:
    async with serving(framework, mongod_server.uri, tokens, tmp_path) as api:
        await check_oversized_input(api)


async def check_oversized_input(api: Api) -> None:
    huge_body = await api.call(
        "POST", "/entries", json=entry(metadata={"blob": "x" * (MAX_BODY_BYTES + 1)})
    )
    huge_metadata = await api.call(
        "POST", "/entries", json=entry(metadata={"blob": "x" * (MAX_BODY_BYTES // 2)})
    )

    problem(huge_body, 413)
    problem(huge_metadata, 422)
    assert await api.items("/entries") == []
