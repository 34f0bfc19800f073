"""A retention sweep killed with SIGKILL mid-way, in a real ``audit-trail serve``
process on SQLite and on a real mongod: after a restart the next sweeps finish it;
every held and every young entry is still there, every purged one is listed by a purge
leaf and gone from storage, and the log verifies."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from dependency_injector import providers
from pymongo import MongoClient

import audit_trail
from audit_trail.entrypoints import quart_app
from audit_trail.entrypoints.container import build_container
from audit_trail.entrypoints.settings import load_settings
from audit_trail.verify import ServiceClient, Verifier
from tests.integration.test_cli_serve import API, cli, environment, serving
from tests.mongo import lease_database
from tests.servers import MongodServer

pytestmark = pytest.mark.timeout(300)

OLD, HELD, YOUNG = 400, 20, 20
SOURCES = Path(audit_trail.__file__).resolve().parents[1]
BATCH = "5"


class PastClock:
    """The clock of the recording phase: 30 days ago, then now."""

    def __init__(self) -> None:
        self.offset = timedelta(days=-30)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


def entry(actor_id: str) -> dict[str, Any]:
    return {"action": "document.update", "actor": {"id": actor_id}, "tags": ["t"]}


async def record_history(env: dict[str, str], workdir: Path) -> dict[str, list[str]]:
    """In-process, on the service's own storage and keys: old entries (30 days ago),
    held ones, young ones (now), a hold and a 10-day retention for tenant acme."""
    settings = load_settings({**env, "AUDIT_RETENTION_SWEEP_SECONDS": "0"})
    clock = PastClock()
    container = build_container(settings)
    container.clock.override(providers.Object(clock))
    cwd = Path.cwd()
    os.chdir(workdir)  # the relative default paths (the database, the dev key) are its
    try:
        app: Any = quart_app.create_app(settings, container)  # an ASGI app
        async with LifespanManager(app):
            minted = cli(workdir, env, "token", "--sub", "admin", "--tenant", "acme",
                         "--scope", "audit:read audit:write audit:admin")  # fmt: skip
            assert minted.returncode == 0, minted.stderr
            auth = {"authorization": f"Bearer {minted.stdout.strip()}"}
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://app" + API, headers=auth
            ) as http:

                async def batch(actor_id: str, count: int) -> list[str]:
                    ids: list[str] = []
                    for at in range(0, count, 200):
                        body = {"entries": [entry(actor_id)] * min(200, count - at)}
                        response = await http.post("/entries/batch", json=body)
                        assert response.status_code == 201, response.text
                        ids += [e["id"] for e in response.json()["items"]]
                    return ids

                old, held = await batch("u-old", OLD), await batch("u-held", HELD)
                clock.offset = timedelta(0)
                young = await batch("u-young", YOUNG)
                hold = {"filter": {"actor_id": "u-held"}, "reason": "case 7"}
                assert (await http.post("/holds", json=hold)).status_code == 201
                response = await http.put("/tenant/retention", json={"days": 10})
                assert response.status_code == 200
        return {"old": old, "held": held, "young": young, "auth": [auth["authorization"]]}
    finally:
        os.chdir(cwd)


def visible(client: httpx.Client, actor_id: str) -> int:
    """How many entries of ``actor_id`` GET /entries shows (up to 1000)."""
    response = client.get("/entries", params={"actor_id": actor_id, "limit": "1000"})
    assert response.status_code == 200, response.text
    return len(response.json()["items"])


def purge_leaves(client: httpx.Client) -> list[dict[str, Any]]:
    size = int(client.get("/log/checkpoint").text.splitlines()[1])
    leaves: list[dict[str, Any]] = []
    for start in range(0, size, 1000):
        response = client.get(
            "/log/leaves", params={"start": start, "end": min(size, start + 1000)}
        )
        assert response.status_code == 200, response.text
        leaves += [x["leaf"] for x in response.json()["leaves"] if x["leaf"]["kind"] == "purge"]
    return leaves


async def full_audit(url: str, token: str) -> Any:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        reader = ServiceClient(http, token)
        vkey = (await reader.key())["vkey"]
        verifier = Verifier(reader, vkey, settle_seconds=0)
        latest = await verifier.latest_checkpoint()
        assert latest.checkpoint is not None, latest.failures
        return await verifier.full_audit(latest.checkpoint)


def sqlite_stored(workdir: Path) -> Callable[[list[str]], int]:
    def count(ids: list[str]) -> int:
        with sqlite3.connect(workdir / "audit-trail.db") as db:
            marks = ", ".join("?" * len(ids))
            sql = f"SELECT COUNT(DISTINCT id) FROM revisions WHERE id IN ({marks})"  # noqa: S608
            (found,) = db.execute(sql, ids).fetchone()
            return int(found)

    return count


def mongo_stored(uri: str, database: str) -> Callable[[list[str]], int]:
    def count(ids: list[str]) -> int:
        client: MongoClient[dict[str, Any]] = MongoClient(uri)
        with client:
            return len(client[database]["entries"].distinct("id", {"id": {"$in": ids}}))

    return count


@pytest.fixture(params=["sqlite", "mongo"])
def storage(
    request: pytest.FixtureRequest, tmp_path: Path
) -> tuple[dict[str, str], Callable[[list[str]], int]]:
    workdir = tmp_path / "work"
    workdir.mkdir()
    if request.param == "sqlite":
        return {"AUDIT_STORAGE": "sqlite"}, sqlite_stored(workdir)
    server: MongodServer = request.getfixturevalue("mongod_server")
    database = lease_database(request, server.uri)
    settings = {"AUDIT_STORAGE": "mongo", "AUDIT_MONGO_URI": server.uri,
                "AUDIT_MONGO_DATABASE": database}  # fmt: skip
    return settings, mongo_stored(server.uri, database)


def test_a_sweep_killed_mid_way_loses_nothing_it_should_keep(
    tmp_path: Path, storage: tuple[dict[str, str], Callable[[list[str]], int]]
) -> None:
    settings, stored = storage
    workdir = tmp_path / "work"
    env = environment(
        tmp_path,
        PYTHONPATH=str(SOURCES),  # this checkout's code, not only the installed one's
        AUDIT_LOG_ORIGIN="sigkill.test/audit-trail",
        AUDIT_RETENTION_SWEEP_SECONDS="0.5",
        AUDIT_RETENTION_BATCH=BATCH,
        AUDIT_QUERY_INDEX_DELAY_SECONDS="0",
        **settings,
    )
    ids = asyncio.run(record_history(env, workdir))
    auth = {"Authorization": ids.pop("auth")[0]}

    with (
        serving("litestar", workdir, env) as service,
        httpx.Client(base_url=service.url + API, headers=auth, timeout=10) as client,
    ):
        deadline = time.monotonic() + 60
        while (left := visible(client, "u-old")) == OLD:
            assert time.monotonic() < deadline, service.output()
            time.sleep(0.01)
        service.process.send_signal(signal.SIGKILL)
        service.process.wait()
    assert 0 < left < OLD, f"the sweep was not caught mid-way ({left} of {OLD} left)"

    with serving("litestar", workdir, env) as service:
        with httpx.Client(base_url=service.url + API, headers=auth, timeout=10) as client:
            deadline = time.monotonic() + 120
            while stored(ids["old"]):
                assert time.monotonic() < deadline, service.output()
                time.sleep(0.2)
            assert visible(client, "u-old") == 0
            assert visible(client, "u-held") == HELD
            assert visible(client, "u-young") == YOUNG
            time.sleep(1.2)  # the checkpoint covers what was acknowledged 1 s ago
            listed = {i for leaf in purge_leaves(client) for i in leaf["ids"]}
            assert set(ids["old"]) <= listed
            assert not listed & set(ids["held"] + ids["young"])
        audit = asyncio.run(full_audit(service.url, auth["Authorization"].split()[1]))
        assert audit.failures == (), audit.failures
        assert all("purged by retention" in item.reason for item in audit.unchecked)
    assert stored(ids["held"] + ids["young"]) == HELD + YOUNG
    assert stored(ids["old"]) == 0
