"""Plugins through both apps, in-process: the example third-party plugin
(examples/audit-trail-deploy-label, installed into the environment and found by its
entry point), the built-in ones, and a plugin that breaks."""

from __future__ import annotations

import contextlib
import logging
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from asgi_lifespan import LifespanManager

from audit_trail.entrypoints import litestar_app, quart_app
from audit_trail.entrypoints.settings import Settings

BASE = "/apiv3/audit_trail"
SECRET = "example-plugin-tests-secret-0123456789"
BUILTINS = ("audit_trail.plugins.builtin.request_context", "audit_trail.plugins.builtin.pii")
APPS: dict[str, Callable[[Settings], Any]] = {
    "quart": quart_app.create_app,
    "litestar": litestar_app.create_app,
}

Start = Callable[..., Awaitable["Client"]]


class Client:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    def headers(self, scopes: str, **extra: str) -> dict[str, str]:
        now = datetime.now(UTC)
        claims = {
            "sub": "u-1",
            "tenant": "acme",
            "scope": scopes,
            "exp": now + timedelta(minutes=5),
        }
        return {"authorization": f"Bearer {jwt.encode(claims, SECRET, 'HS256')}", **extra}

    async def post(self, body: dict[str, Any], **headers: str) -> httpx.Response:
        return await self.http.post(
            f"{BASE}/entries", json=body, headers=self.headers("audit:write audit:read", **headers)
        )

    async def get(self, entry_id: str, scopes: str = "audit:read") -> dict[str, Any]:
        response = await self.http.get(f"{BASE}/entries/{entry_id}", headers=self.headers(scopes))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture(params=sorted(APPS))
async def start(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Start]:
    """Starts the app of this parameter with the given plugin settings."""
    async with contextlib.AsyncExitStack() as stack:

        async def run(**overrides: Any) -> Client:
            settings = Settings(
                storage="memory",
                cache="memory",
                jwt_secret=SECRET,
                dev_key_file=tmp_path / "dev-key",
                sqlite_path=tmp_path / "audit.db",
                **overrides,
            )
            app = APPS[request.param](settings)
            await stack.enter_async_context(LifespanManager(app))
            http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
            return Client(await stack.enter_async_context(http))

        yield run


def entry(**fields: Any) -> dict[str, Any]:
    return {"action": "document.update", "actor": {"id": "u-42"}, "tags": ["ui"], **fields}


# --- the example plugin ---------------------------------------------------------------------


@pytest.fixture
def deploy_label(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DEPLOY_LABEL", "eu-prod-2")
    monkeypatch.delenv("DEPLOY_LABEL_TICKET_ACTIONS", raising=False)
    return "deploy:eu-prod-2"


async def test_the_example_plugin_tags_every_entry(start: Start, deploy_label: str) -> None:
    client = await start()
    response = await client.post(entry())
    assert response.status_code == 201, response.text
    assert response.json()["tags"] == ["ui", deploy_label]
    assert (await client.get(response.json()["id"]))["tags"] == ["ui", deploy_label]


@pytest.mark.parametrize("action", ["prod.deploy", "config.update"])
@pytest.mark.parametrize("ticket", [None, "ops-12", "OPS", 12])
async def test_guarded_actions_need_a_ticket(
    start: Start, deploy_label: str, action: str, ticket: Any
) -> None:
    client = await start()
    metadata = {} if ticket is None else {"ticket": ticket}
    response = await client.post(entry(action=action, metadata=metadata))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["metadata.ticket"]


async def test_a_guarded_action_with_a_ticket_is_recorded(start: Start, deploy_label: str) -> None:
    client = await start()
    response = await client.post(entry(action="prod.deploy", metadata={"ticket": "OPS-42"}))
    assert response.status_code == 201, response.text


async def test_an_amendment_is_checked_too(start: Start, deploy_label: str) -> None:
    client = await start()
    stored = (await client.post(entry())).json()
    response = await client.http.put(
        f"{BASE}/entries/{stored['id']}",
        json=entry(action="config.update"),
        headers=client.headers("audit:admin audit:read audit:write"),
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "metadata.ticket"


async def test_the_guarded_actions_are_configurable(
    start: Start, deploy_label: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEPLOY_LABEL_TICKET_ACTIONS", "billing.refund")
    client = await start()
    assert (await client.post(entry(action="prod.deploy"))).status_code == 201
    assert (await client.post(entry(action="billing.refund"))).status_code == 422


async def test_the_example_plugin_can_be_disabled(start: Start, deploy_label: str) -> None:
    client = await start(plugins=("-deploy_label",))
    response = await client.post(entry(action="prod.deploy"))
    assert response.status_code == 201, response.text
    assert response.json()["tags"] == ["ui"]


async def test_without_its_label_the_example_plugin_stays_out_of_the_way(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEPLOY_LABEL", raising=False)
    client = await start()
    response = await client.post(entry(action="prod.deploy"))
    assert response.status_code == 201, response.text
    assert response.json()["tags"] == ["ui"]


# --- the built-in plugins ----------------------------------------------------------------


async def test_the_builtins_record_the_source_and_mask_personal_data(start: Start) -> None:
    client = await start(plugins=(*BUILTINS, "-deploy_label"), trusted_proxies=("127.0.0.1",))
    body = entry(metadata={"contact": "ada@example.com", "card": "4242 4242 4242 4242"})
    response = await client.post(
        body, **{"user-agent": "curl/8.5", "x-forwarded-for": "198.51.100.7, 127.0.0.1"}
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["metadata"] == {"contact": "a***@example.com", "card": "**** **** **** 4242"}
    assert created["source"] == {"user_agent": "curl/8.5"}  # the writer is no admin
    as_reader = await client.get(created["id"])
    as_admin = await client.get(created["id"], scopes="audit:read audit:admin")
    assert "ip" not in as_reader["source"]
    assert as_admin["source"] == {"ip": "198.51.100.7", "user_agent": "curl/8.5"}


# --- a plugin that breaks ------------------------------------------------------------------


@contextlib.contextmanager
def recording_logs(name: str) -> Iterator[list[logging.LogRecord]]:
    """The records of logger ``name``, caught by a handler of its own (an app may
    configure logging in ways that keep records from pytest's caplog)."""
    handler = _Records()
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_a_broken_plugin_refuses_the_entry_naming_no_internals(
    start: Start,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = f"broken_plugin_{abs(hash(tmp_path))}"
    (tmp_path / f"{module}.py").write_text(
        textwrap.dedent(
            """
            from audit_trail.plugins import hookimpl

            @hookimpl
            def audit_redact_entry(entry):
                raise RuntimeError("vault at 10.1.2.3 unreachable")
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    client = await start(plugins=(module,))
    with recording_logs("audit_trail.plugins") as records:
        response = await client.post(entry())
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert module not in response.text
    assert "vault" not in response.text
    assert f"plugin {module!r} failed in audit_redact_entry" in records[0].getMessage()
    listed = await client.http.get(f"{BASE}/entries", headers=client.headers("audit:read"))
    assert listed.json()["items"] == []
