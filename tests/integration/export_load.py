"""A large export from a real ``audit-trail serve`` process: seeded through POST
/entries/batch, streamed over HTTP while the server's RSS is sampled, then verified
offline. Used by tests/integration/test_export_load.py and scripts/export_bench.py.

Only 127.0.0.1 is contacted; the server is stopped by its own PID.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

import audit_trail
from audit_trail.verify.export_file import ExportResult, verify_export
from tests.servers import HOST, free_port

AUDIT_TRAIL = Path(sys.executable).with_name("audit-trail")
API = "/apiv3/audit_trail"
BATCH = 1000
START_TIMEOUT = 30.0
SOURCE = str(Path(audit_trail.__file__).resolve().parents[1])


@dataclass(frozen=True, slots=True)
class Served:
    url: str
    pid: int
    token: str
    vkey: str


@dataclass(frozen=True, slots=True)
class ExportRun:
    entries: int
    seconds: float
    body_bytes: int
    rss_before_kib: int
    rss_max_kib: int
    verified: ExportResult
    verify_seconds: float
    server_cpu_seconds: float

    @property
    def rss_growth_mib(self) -> float:
        return (self.rss_max_kib - self.rss_before_kib) / 1024

    @property
    def rate(self) -> float:
        return self.entries / self.seconds


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its threads, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    """VmRSS of a process, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


@contextmanager
def serving(workdir: Path, app: str = "litestar", **settings: str) -> Iterator[Served]:
    """``audit-trail serve`` on SQLite in ``workdir``, with a token of tenant acme."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {"PATH": os.environ["PATH"], "HOME": str(workdir), "AUDIT_LOG_LEVEL": "WARNING"}
    # the query index is integrated when a query proof asks, not behind the seeding,
    # so that its catching up with 100,000 writes does not run during the export
    env["AUDIT_QUERY_INDEX_DELAY_SECONDS"] = "0"
    env["PYTHONPATH"] = SOURCE  # the code under test, not whatever the script was installed from
    env |= settings
    port = free_port()
    command = [str(AUDIT_TRAIL), "serve", "--app", app, "--host", HOST, "--port", str(port)]
    with (workdir / "serve.log").open("wb") as sink:
        process = subprocess.Popen(command, cwd=workdir, env=env, stdout=sink, stderr=sink)
    try:
        url = f"http://{HOST}:{port}{API}"
        _wait_until_up(process, url, workdir / "serve.log")
        minted = subprocess.run(
            [str(AUDIT_TRAIL), "token", "--sub", "loader", "--tenant", "acme",
             "--scope", "audit:read audit:write"],
            cwd=workdir, env=env, capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        vkey = httpx.get(f"{url}/log/key", timeout=10).json()["vkey"]
        yield Served(url, process.pid, minted.stdout.strip(), vkey)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()


def _wait_until_up(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"serve exited: {log.read_text(errors='replace')}")
        try:
            if httpx.get(f"{url}/check-port", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"serve did not answer in {START_TIMEOUT}s: {log.read_text()}")


def _batch(start: int, size: int) -> list[dict[str, object]]:
    return [
        {
            "action": "document.read" if i % 3 else "document.update",
            "outcome": "success",
            "occurred_at": f"2026-11-{1 + i // 86400 % 28:02d}T"
            f"{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z",
            "actor": {"id": f"u-{i % 5000}", "type": "user", "name": f"User {i % 5000}"},
            "target": {"type": "document", "id": f"d-{i % 20000}"},
            "tags": ["load"],
            "metadata": {"n": i, "email": f"user{i % 5000}@example.org"},
        }
        for i in range(start, start + size)
    ]


async def seed(served: Served, count: int, concurrency: int = 4) -> None:
    """``count`` entries, ``BATCH`` per POST /entries/batch, ``concurrency`` at a time."""
    auth = {"Authorization": f"Bearer {served.token}"}
    starts = iter(range(0, count, BATCH))
    async with httpx.AsyncClient(base_url=served.url, headers=auth, timeout=120) as client:

        async def worker() -> None:
            for start in starts:
                body = {"entries": _batch(start, min(BATCH, count - start))}
                response = await client.post("/entries/batch", json=body)
                if response.status_code != 201:
                    raise RuntimeError(f"seeding: {response.status_code} {response.text[:300]}")

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def export(served: Served, target: Path, sample_seconds: float = 0.01) -> ExportRun:
    """Stream GET /entries/export (NDJSON) to ``target`` while sampling the server's
    RSS, then verify the file offline with the service's vkey."""
    before = rss_kib(served.pid)
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_kib(served.pid))
            done.wait(sample_seconds)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    auth = {"Authorization": f"Bearer {served.token}"}
    started, cpu = time.monotonic(), cpu_seconds(served.pid)
    size = 0
    try:
        with (
            httpx.stream("GET", f"{served.url}/entries/export", headers=auth, timeout=120) as r,
            target.open("wb") as sink,
        ):
            if r.status_code != 200:
                raise RuntimeError(f"export: {r.status_code} {r.read()[:300]!r}")
            for chunk in r.iter_raw(1 << 16):
                sink.write(chunk)
                size += len(chunk)
        seconds = time.monotonic() - started
        cpu = cpu_seconds(served.pid) - cpu
    finally:
        done.set()
        sampler.join()
    peak[0] = max(peak[0], rss_kib(served.pid))
    started = time.monotonic()
    with target.open(encoding="utf-8") as lines:
        verified = verify_export(lines, served.vkey)
    verify_seconds = time.monotonic() - started
    return ExportRun(verified.lines, seconds, size, before, peak[0], verified, verify_seconds, cpu)
