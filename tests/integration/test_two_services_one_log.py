"""Two ``audit-trail serve`` processes on one store keep ONE consistent tenant log.

Each process groups its own concurrent writes; storage serialises the two. Whatever
either acknowledged is a leaf exactly once, the leaves hash to the signed root, and
a proof fetched from one process verifies against the other's checkpoint.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from audit_trail.adapters.signing.ed25519 import verify_note_signature
from audit_trail.core.integrity import canonical_json, leaf_hash, root, verify_inclusion
from tests.integration.test_cli_serve import API, ENTRY, Service, cli, environment, serving
from tests.servers import MongodServer

pytestmark = pytest.mark.timeout(180)

WRITES_PER_SERVICE = 120
THREADS = 8
SECRET = "a-shared-secret-of-at-least-32-bytes!!"


def _storage(request: pytest.FixtureRequest, kind: str, tmp_path: Path) -> dict[str, str]:
    if kind == "sqlite":
        return {"AUDIT_STORAGE": "sqlite", "AUDIT_SQLITE_PATH": str(tmp_path / "shared.db")}
    server: MongodServer = request.getfixturevalue(kind)
    database = f"two_services_{uuid.uuid4().hex}"
    return {"AUDIT_STORAGE": "mongo", "AUDIT_MONGO_URI": server.uri,
            "AUDIT_MONGO_DATABASE": database}  # fmt: skip


@contextmanager
def two_services(env: dict[str, str], tmp_path: Path) -> Iterator[list[Service]]:
    with ExitStack() as stack:
        services = []
        for app in ("litestar", "quart"):
            workdir = tmp_path / f"work-{app}"
            workdir.mkdir()
            services.append(stack.enter_context(serving(app, workdir, env)))
        yield services


@pytest.mark.parametrize("kind", ["sqlite", "mongod_server", "mongod_replset"])
def test_two_processes_append_to_one_consistent_log(
    request: pytest.FixtureRequest, kind: str, tmp_path: Path
) -> None:
    env = environment(
        tmp_path,
        AUDIT_JWT_SECRET=SECRET,
        AUDIT_LOG_SIGNING_KEY_FILE=str(tmp_path / "log-key.pem"),
        AUDIT_LOG_ORIGIN="two.example/log",
        AUDIT_CACHE="none",
        **_storage(request, kind, tmp_path),
    )
    minted = cli(tmp_path, env, "token", "--sub", "w", "--tenant", "acme",
                 "--scope", "audit:read audit:write")  # fmt: skip
    assert minted.returncode == 0, minted.stderr
    auth = {"Authorization": f"Bearer {minted.stdout.strip()}"}

    with two_services(env, tmp_path) as services:

        def write(n: int) -> str:
            service = services[n % 2]
            body = {**ENTRY, "metadata": {"n": n}}
            response = httpx.post(
                f"{service.url}{API}/entries", json=body, headers=auth, timeout=30
            )
            assert response.status_code == 201, response.text
            entry_id: str = response.json()["id"]
            return entry_id

        with ThreadPoolExecutor(THREADS) as pool:
            acknowledged = list(pool.map(write, range(2 * WRITES_PER_SERVICE)))

        one, other = (
            httpx.Client(base_url=s.url + API, headers=auth, timeout=30) for s in services
        )
        vkey = one.get("/log/key").json()["vkey"]
        assert other.get("/log/key").json()["vkey"] == vkey
        checkpoint = verify_note_signature(other.get("/log/checkpoint").text, vkey)
        assert checkpoint.size >= len(acknowledged)  # and the index leaves of either

        leaves: list[dict[str, object]] = []
        for start in range(0, checkpoint.size, 100):
            end = min(start + 100, checkpoint.size)
            page = one.get("/log/leaves", params={"start": start, "end": end}).json()["leaves"]
            assert [item["index"] for item in page] == list(range(start, end))
            leaves += [item["leaf"] for item in page]
        revisions = [leaf for leaf in leaves if leaf["kind"] != "index"]
        assert sorted(str(leaf["id"]) for leaf in revisions) == sorted(acknowledged)
        hashes = [leaf_hash(canonical_json(leaf)) for leaf in leaves]
        assert root(hashes) == checkpoint.root

        chosen = acknowledged[len(acknowledged) // 3]
        proof = one.get(f"/entries/{chosen}/proof", params={"tree_size": checkpoint.size}).json()
        verify_inclusion(
            leaf_hash(canonical_json(proof["leaf"])),
            proof["leaf_index"],
            checkpoint.size,
            [base64.b64decode(h) for h in proof["inclusion"]],
            checkpoint.root,
        )
