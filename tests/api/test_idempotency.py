"""Idempotency-Key on POST /entries and /entries/batch (docs/lifecycle.md, "Idempotency"):
on both apps and every backend, the first outcome once, whatever the retries."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from dependency_injector import providers

from audit_trail.adapters.clock import FixedClock
from audit_trail.core import StorageUnavailable
from audit_trail.core.ports.idempotency import IdempotencyRecord
from audit_trail.core.ports.log import LogRecord
from audit_trail.core.ports.storage import Storage
from audit_trail.core.timestamps import to_epoch_millis
from audit_trail.core.usecases.idempotent import request_fingerprint
from audit_trail.entrypoints.container import build_container
from audit_trail.entrypoints.resources import open_repository
from audit_trail.entrypoints.settings import Settings
from tests.api.client import Api, entry, problem
from tests.api.conftest import APP_PARAMS, BACKENDS, Serve, api_settings
from tests.api.tokens import KeyPair, Tokens

START = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
BATCH = {"entries": [entry(action="a.one"), entry(action="a.two")]}
ROUTES = [
    pytest.param("/entries", entry(), 1, id="one"),
    pytest.param("/entries/batch", BATCH, 2, id="batch"),
]


class Storing:
    """The app's storage, with hooks into its commits (delegates everything else)."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.fail_after_commit = False  # once: commit, then raise StorageUnavailable
        self.hold: asyncio.Event | None = None  # commits wait for it
        self.entered = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def commit(self, tenant: str, groups: Sequence[Sequence[LogRecord]]) -> list[Any]:
        self.entered.set()
        if self.hold is not None:
            await self.hold.wait()
        results = await self.inner.commit(tenant, groups)
        if self.fail_after_commit:
            self.fail_after_commit = False
            raise StorageUnavailable("timed out after the write landed")
        return results


@dataclass
class Service:
    """Starts apps of one framework on one backend's settings, with a settable clock;
    every app of a test shares the storage (a restart is a second app on it)."""

    framework: str
    settings: Settings
    serve: Serve
    tokens: Tokens
    clock: FixedClock = field(default_factory=lambda: FixedClock(START))
    storage: Storing | None = None

    async def start(self) -> Api:
        container = build_container(self.settings)
        container.clock.override(providers.Object(self.clock))

        async def storing(settings: Settings) -> AsyncIterator[Storing]:
            async for inner in open_repository(settings):
                self.storage = Storing(inner)
                yield self.storage

        container.repository.override(providers.Resource(storing, self.settings))
        return Api(await self.serve(self.framework, self.settings, container), self.tokens)


@pytest.fixture(params=APP_PARAMS)
def service(
    request: pytest.FixtureRequest, keys: KeyPair, tokens: Tokens, tmp_path: Path, serve: Serve
) -> Service:
    framework, backend = request.param
    settings = api_settings(keys, tmp_path, **BACKENDS[backend](request))
    return Service(framework, settings, serve, tokens)


@pytest.fixture
async def api(service: Service) -> Api:
    return await service.start()


def key(value: str) -> dict[str, str]:
    return {"idempotency-key": f'"{value}"'}


async def post(api: Api, path: str, body: Any, *, raw: bool = False, **kwargs: Any) -> Any:
    headers = {"content-type": "application/json", **kwargs.pop("headers", {})}
    content = body if raw else json.dumps(body)
    return await api.call("POST", path, content=content, headers=headers, **kwargs)


async def stored(api: Api, tenant: str = "acme") -> tuple[int, int]:
    """How many entries the tenant has, and how many leaves its log."""
    items = await api.items("/entries?limit=1000", tenant=tenant)
    note = (await api.call("GET", "/log/checkpoint", tenant=tenant)).text
    return len(items), int(note.splitlines()[1])


def same_answer(first: httpx.Response, again: httpx.Response) -> None:
    assert again.status_code == first.status_code
    assert again.content == first.content
    for header in ("location", "etag", "content-type"):
        assert again.headers.get(header) == first.headers.get(header)


@pytest.mark.parametrize(("path", "body", "count"), ROUTES)
async def test_a_retry_replays_the_first_answer_and_stores_nothing(
    api: Api, path: str, body: Any, count: int
) -> None:
    first = await post(api, path, body, headers=key("k-1"))
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    spaced = json.dumps(body, indent=4, sort_keys=True)  # the same meaning
    again = await post(api, path, spaced, raw=True, headers=key("k-1"))
    same_answer(first, again)
    assert again.headers["idempotent-replayed"] == "true"
    assert await stored(api) == (count, count)


async def test_a_bare_token_is_the_same_key_as_its_quoted_form(api: Api) -> None:
    first = await post(api, "/entries", entry(), headers={"idempotency-key": "abc-123"})
    again = await post(api, "/entries", entry(), headers=key("abc-123"))
    same_answer(first, again)
    assert await stored(api) == (1, 1)


async def test_the_same_key_with_another_body_or_route_is_refused(api: Api) -> None:
    await post(api, "/entries", entry(), headers=key("k-1"))
    other = await post(api, "/entries", entry(action="other"), headers=key("k-1"))
    assert problem(other, 422)["type"].endswith("idempotency-key-reused")
    batch = await post(api, "/entries/batch", {"entries": [entry()]}, headers=key("k-1"))
    assert problem(batch, 422)["type"].endswith("idempotency-key-reused")
    assert await stored(api) == (1, 1)


@pytest.mark.parametrize(
    "value", ['""', "", "  ", '"' + "k" * 256 + '"', '"open', 'two", "keys', "a b"]
)
async def test_a_malformed_key_is_a_400(api: Api, value: str) -> None:
    response = await post(api, "/entries", entry(), headers={"idempotency-key": value})
    assert problem(response, 400)["type"].endswith("idempotency-key-invalid")
    assert await stored(api) == (0, 0)


async def test_keys_are_per_tenant(api: Api) -> None:
    ours = await post(api, "/entries", entry(), headers=key("k-1"), tenant="acme")
    theirs = await post(api, "/entries", entry(action="x"), headers=key("k-1"), tenant="globex")
    assert (ours.status_code, theirs.status_code) == (201, 201)
    assert ours.json()["id"] != theirs.json()["id"]
    assert "idempotent-replayed" not in theirs.headers
    assert await stored(api, "globex") == (1, 1)


@pytest.mark.parametrize(("path", "body", "count"), ROUTES)
async def test_two_identical_requests_racing_store_once(
    api: Api, path: str, body: Any, count: int
) -> None:
    answers = await asyncio.gather(*(post(api, path, body, headers=key("k")) for _ in range(2)))
    assert sorted(a.status_code for a in answers) in ([201, 201], [201, 409])
    assert await stored(api) == (count, count)
    created = [a for a in answers if a.status_code == 201]
    assert len({a.content for a in created}) == 1


async def test_a_request_in_flight_holds_its_key_with_a_409(service: Service, api: Api) -> None:
    assert service.storage is not None
    service.storage.hold = asyncio.Event()
    first = asyncio.create_task(post(api, "/entries", entry(), headers=key("k")))
    await service.storage.entered.wait()
    second = await post(api, "/entries", entry(), headers=key("k"))
    assert problem(second, 409)["type"].endswith("idempotency-key-in-use")
    assert int(second.headers["retry-after"]) >= 1
    service.storage.hold.set()
    created = await first
    assert created.status_code == 201
    same_answer(created, await post(api, "/entries", entry(), headers=key("k")))
    assert await stored(api) == (1, 1)


async def test_an_abandoned_claim_is_taken_over_when_its_lease_ends(
    service: Service, api: Api
) -> None:
    """A process that claimed a key and died before storing anything: the key is in use
    for the lease, then the retry stores the entry, under the id the claim chose."""
    assert service.storage is not None
    store = service.storage.inner.idempotency()
    now = to_epoch_millis(service.clock.now())
    lease = int(service.settings.idempotency_lease_seconds * 1000)
    body = entry()
    await store.claim(
        IdempotencyRecord(
            tenant="acme",
            key="k",
            fingerprint=request_fingerprint("recordEntry", body),
            entry_ids=("01DEADPROCESS0000000000000",),
            owner="a process that died",
            lease_until=now + lease,
            expires_at=now + 86_400_000,
        ),
        now,
    )
    problem(await post(api, "/entries", body, headers=key("k")), 409)
    service.clock.advance(timedelta(milliseconds=lease + 1))
    taken = await post(api, "/entries", body, headers=key("k"))
    assert taken.status_code == 201
    assert taken.json()["id"] == "01DEADPROCESS0000000000000"
    assert await stored(api) == (1, 1)


async def test_after_the_window_the_key_is_new_again(service: Service, api: Api) -> None:
    first = await post(api, "/entries", entry(), headers=key("k"))
    service.clock.advance(timedelta(seconds=service.settings.idempotency_ttl_seconds - 1))
    same_answer(first, await post(api, "/entries", entry(), headers=key("k")))
    service.clock.advance(timedelta(seconds=1))
    later = await post(api, "/entries", entry(action="other"), headers=key("k"))
    assert later.status_code == 201
    assert "idempotent-replayed" not in later.headers
    assert await stored(api) == (2, 2)


@pytest.mark.parametrize(("path", "body", "count"), ROUTES)
async def test_a_503_after_the_write_landed_then_the_retry_gets_the_first_outcome(
    service: Service, api: Api, path: str, body: Any, count: int
) -> None:
    """The probe finding: storage timed out after storing the entries; the client was
    told 503 with Retry-After, and retries with the same key."""
    assert service.storage is not None
    service.storage.fail_after_commit = True
    refused = await post(api, path, body, headers=key("k"))
    assert "idempotency-key" in problem(refused, 503)["detail"].lower()
    assert "retry-after" in refused.headers
    retry = await post(api, path, body, headers=key("k"))
    assert retry.status_code == 201
    assert await stored(api) == (count, count)
    same_answer(retry, await post(api, path, body, headers=key("k")))
    assert await stored(api) == (count, count)


DURABLE = [p for p in APP_PARAMS if p.values[0][1] != "memory"]  # type: ignore[index]


@pytest.mark.parametrize("service", DURABLE, indirect=True)
async def test_another_process_on_the_same_storage_replays(service: Service, api: Api) -> None:
    first = await post(api, "/entries", entry(), headers=key("k"))
    restarted = await service.start()
    same_answer(first, await post(restarted, "/entries", entry(), headers=key("k")))
    assert await stored(restarted) == (1, 1)


async def test_without_a_key_every_request_is_recorded(api: Api) -> None:
    for _ in range(2):
        assert (await post(api, "/entries", entry())).status_code == 201
    assert await stored(api) == (2, 2)


async def test_the_openapi_document_describes_the_key_on_both_routes(api: Api) -> None:
    document = (await api.call("GET", "/openapi.json", anonymous=True)).json()
    for path in ("/entries", "/entries/batch"):
        operation = document["paths"]["/apiv3/audit_trail" + path]["post"]
        assert "Idempotency-Key" in [p["name"] for p in operation["parameters"]]
        responses = operation["responses"]
        assert "Idempotency-Key in use" in responses["409"]["description"]
        assert "Retry-After" in responses["409"]["headers"]
        assert "Idempotency-Key reused" in responses["422"]["description"]
        assert "Idempotent-Replayed" in responses["201"]["headers"]
