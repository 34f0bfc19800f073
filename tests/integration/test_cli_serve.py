"""``audit-trail serve`` and ``audit-trail token`` as a user runs them: the installed
console script as real processes, in a fresh working directory, with nothing but
PATH, HOME and the AUDIT_* variables a test sets."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.servers import HOST, free_port

AUDIT_TRAIL = Path(sys.executable).with_name("audit-trail")
API = "/apiv3/audit_trail"
START_TIMEOUT = 30.0
ENTRY = {
    "action": "document.update",
    "actor": {"id": "u-42", "type": "user", "name": "Ada"},
    "target": {"type": "document", "id": "d-7"},
    "metadata": {"field": "title"},
}

pytestmark = pytest.mark.timeout(120)


@dataclass
class Service:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def environment(home: Path, **settings: str) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": str(home), **settings}


def cli(workdir: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(AUDIT_TRAIL), *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@contextmanager
def serving(
    app: str,
    workdir: Path,
    env: dict[str, str],
    *options: str,
) -> Iterator[Service]:
    port = free_port()
    log = workdir.parent / f"serve-{app}-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                str(AUDIT_TRAIL),
                "serve",
                "--app",
                app,
                "--host",
                HOST,
                "--port",
                str(port),
                *options,
            ],
            cwd=workdir,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    service = Service(process, f"http://{HOST}:{port}", log)
    try:
        _wait_until_up(service)
        yield service
    finally:
        _stop(service)


def _wait_until_up(service: Service) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            pytest.fail(f"serve exited with {service.process.returncode}:\n{service.output()}")
        try:
            if httpx.get(f"{service.url}{API}/check-port", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"serve did not answer within {START_TIMEOUT}s:\n{service.output()}")


def _stop(service: Service) -> None:
    process = service.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"serve ignored SIGTERM:\n{service.output()}")


def _stopped_cleanly(service: Service) -> None:
    _stop(service)
    # uvicorn shuts down gracefully, then re-raises SIGTERM so supervisors see it
    assert service.process.returncode in (0, -signal.SIGTERM), service.output()
    assert "Finished server process" in service.output()


@pytest.mark.parametrize("app", ["quart", "litestar"])
def test_serve_token_record_and_query(app: str, tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = environment(tmp_path)
    with serving(app, workdir, env) as service:
        dev_key = workdir / ".audit-trail" / "dev-signing-key"
        assert stat.S_IMODE(dev_key.stat().st_mode) == 0o600
        assert "development signing key" in service.output()
        assert "audit-trail token --sub" in service.output()

        minted = cli(workdir, env, "token", "--sub", "alice", "--tenant", "acme",
                     "--scope", "audit:read audit:write")  # fmt: skip
        assert minted.returncode == 0, minted.stderr
        token = minted.stdout.strip()
        with httpx.Client(base_url=service.url + API, timeout=10) as client:
            assert client.post("/entries", json=ENTRY).status_code == 401
            auth = {"Authorization": f"Bearer {token}"}
            created = client.post("/entries", json=ENTRY, headers=auth)
            assert created.status_code == 201, created.text
            entry = created.json()
            assert (entry["tenant"], entry["actor"]["id"]) == ("acme", "u-42")
            page = client.get("/entries", params={"action": "document.*"}, headers=auth)
            assert page.status_code == 200, page.text
            assert [item["id"] for item in page.json()["items"]] == [entry["id"]]
            one = client.get(f"/entries/{entry['id']}", headers=auth)
            assert one.status_code == 200
            assert one.json()["metadata"] == {"field": "title"}
        _stopped_cleanly(service)
    assert (workdir / "audit-trail.db").exists()


def test_serve_with_a_configured_secret_uses_no_dev_key(tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = environment(
        tmp_path, AUDIT_JWT_SECRET="a-production-secret-of-32-bytes-or-more", AUDIT_STORAGE="memory"
    )
    with serving("litestar", workdir, env) as service:
        minted = cli(workdir, env, "token", "--sub", "bob", "--tenant", "t1")
        assert minted.returncode == 0, minted.stderr
        auth = {"Authorization": f"Bearer {minted.stdout.strip()}"}
        listed = httpx.get(f"{service.url}{API}/entries", headers=auth, timeout=10)
        assert listed.status_code == 200, listed.text
        assert listed.json() == {"items": [], "next_cursor": None}
        _stopped_cleanly(service)
        assert "development signing key" not in service.output()
        # the checkpoints' key is another key: without AUDIT_LOG_SIGNING_KEY_FILE it is
        # a development one, said loudly
        assert "checkpoints are signed with the DEVELOPMENT key" in service.output()
    assert not (workdir / ".audit-trail" / "dev-signing-key").exists()


@pytest.mark.parametrize(
    ("app", "setting", "line"),
    [
        ("quart", "AUDIT_CACHE=memcached", "AUDIT_CACHE: must be one of memory | redis | none"),
        ("litestar", "AUDIT_JWT_SECRET=short", "AUDIT_JWT_SECRET: the secret must be at least"),
        ("litestar", "AUDIT_PLUGINS=no_such_module", "AUDIT_PLUGINS: cannot import module"),
    ],
)
def test_serve_with_a_bad_setting_exits_2_with_one_line(
    app: str, setting: str, line: str, tmp_path: Path
) -> None:
    variable, _, value = setting.partition("=")
    env = environment(tmp_path, **{variable: value})
    for workers in ("1", "2"):
        done = cli(tmp_path, env, "serve", "--app", app, "--port", str(free_port()),
                   "--workers", workers)  # fmt: skip
        assert done.returncode == 2
        assert done.stdout == ""
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith(f"audit-trail: {line}")
