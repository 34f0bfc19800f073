"""``audit-trail serve`` with ``AUDIT_LOG_FORMAT=json``, as a log collector reads it:
every stderr line one JSON object, one per request naming its route template, and no
token, secret or entry content anywhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

import audit_trail
from tests.integration.test_cli_serve import API, _stopped_cleanly, cli, environment, serving

SECRET = "a-production-secret-of-32-bytes-or-more"
CONTENT = "Confidential-Payload-91c2"
pytestmark = pytest.mark.timeout(120)


def _lines(output: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert all(isinstance(line, dict) for line in lines)
    return lines


@pytest.mark.parametrize("app", ["quart", "litestar"])
def test_json_logs_name_each_request_and_keep_its_secrets(app: str, tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = environment(
        tmp_path,
        AUDIT_JWT_SECRET=SECRET,
        AUDIT_STORAGE="memory",
        AUDIT_LOG_FORMAT="json",
        AUDIT_LOG_LEVEL="debug",
        # the code under test, not whichever copy the console script was installed from
        PYTHONPATH=str(Path(audit_trail.__file__).parents[1]),
    )
    with serving(app, workdir, env) as service:
        minted = cli(workdir, env, "token", "--sub", "bob", "--tenant", "t1")
        assert minted.returncode == 0, minted.stderr
        token = minted.stdout.strip()
        auth = {"Authorization": f"Bearer {token}", "X-Request-ID": "trace-42"}
        body = {
            "action": "document.update",
            "actor": {"id": "u-42", "type": "user", "name": CONTENT},
            "target": {"type": "document", "id": "d-7"},
            "metadata": {"note": CONTENT},
        }
        with httpx.Client(base_url=service.url + API, timeout=10) as client:
            created = client.post("/entries", json=body, headers=auth)
            assert created.status_code == 201, created.text
            entry_id = created.json()["id"]
            assert client.get(f"/entries/{entry_id}", headers=auth).status_code == 200
            bad = {"Authorization": f"Bearer {token[:-2]}xx"}
            assert client.get("/entries", headers=bad).status_code == 401
            assert client.get(f"/no-such/{CONTENT}").status_code == 404
        _stopped_cleanly(service)
        output = service.output()

    lines = _lines(output)  # every line, uvicorn's included, is one JSON object
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    assert all(line["time"].endswith("Z") for line in lines)
    assert any(line["logger"].startswith("uvicorn") for line in lines)
    requests = [line for line in lines if line["logger"] == "audit_trail.access"]
    seen = [
        (r["method"], r["route"], r["status"])
        for r in requests
        if r["route"] != f"{API}/check-port"
    ]
    assert seen == [
        ("POST", f"{API}/entries", 201),
        ("GET", f"{API}/entries/{{entry_id}}", 200),
        ("GET", f"{API}/entries", 401),
        ("GET", "(unmatched)", 404),
    ]
    first = next(r for r in requests if r["method"] == "POST")
    assert (first["request_id"], first["tenant"]) == ("trace-42", "t1")
    assert all(isinstance(r["duration_ms"], float | int) for r in requests)
    for secret in (token, token.split(".")[2], SECRET, CONTENT, entry_id):
        assert secret not in output
