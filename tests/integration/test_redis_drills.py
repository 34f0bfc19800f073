"""Read-your-writes drills: ``audit-trail serve --workers 2`` on SQLite with the Redis
cache, as a user runs it, and clients that POST an entry and, after the 201, at once
query a page that must contain it -- with Redis healthy, with its writes paused
(``CLIENT PAUSE 1500 WRITE``) and with it killed and restarted on the same port after
a snapshot (so that the restart brings older generations and pages back).

Every request opens a new connection, so the kernel spreads them over both workers;
background readers keep the same query cached between writes, so that a stale page
is there to be served if anything let it through.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest
import redis

import audit_trail
from tests.servers import HOST, RedisServer, free_port

AUDIT_TRAIL = Path(sys.executable).with_name("audit-trail")
API = "/apiv3/audit_trail"
SECRET = "a-drill-secret-of-at-least-32-bytes!"
WRITERS, ROUNDS, READERS = 4, 75, 2  # 300 write-then-read pairs per drill

pytestmark = pytest.mark.timeout(90)


@dataclass
class Tally:
    pairs: int = 0
    stale: int = 0
    failed: int = 0
    reads: int = 0
    problems: list[str] = field(default_factory=list)


def token() -> str:
    claims = {
        "sub": "driller",
        "tenant": "acme",
        "scope": "audit:read audit:write",
        "exp": datetime.now(UTC) + timedelta(minutes=10),
    }
    return jwt.encode(claims, SECRET, algorithm="HS256")


@contextmanager
def serving(workdir: Path, redis_url: str, **extra: str) -> Iterator[str]:
    port = free_port()
    source = Path(audit_trail.__file__).parents[1]  # run this tree's code
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(workdir),
        "PYTHONPATH": str(source),
        "AUDIT_STORAGE": "sqlite",
        "AUDIT_SQLITE_PATH": str(workdir / "audit.db"),
        "AUDIT_CACHE": "redis",
        "AUDIT_REDIS_URL": redis_url,
        "AUDIT_JWT_SECRET": SECRET,
        **extra,
    }
    log = workdir / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                str(AUDIT_TRAIL),
                "serve",
                "--app",
                "litestar",
                "--workers",
                "2",
                "--host",
                HOST,
                "--port",
                str(port),
            ],
            cwd=workdir,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text(errors="replace")
            with suppress(httpx.TransportError):
                if httpx.get(f"{url}{API}/check-port", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def drill(url: str, disrupt: Callable[[], Awaitable[None]]) -> Tally:
    """Writers POST then read; ``disrupt`` runs once a third of the pairs are done, and
    the writers go on (past ``ROUNDS`` if need be) until a second after it ended, so
    the disruption always falls mid-run, however fast the machine."""
    tally = Tally()
    headers = {"authorization": f"Bearer {token()}"}
    fresh_connections = httpx.Limits(max_keepalive_connections=0)
    done = asyncio.Event()
    third = asyncio.Event()
    settled = asyncio.Event()

    async with httpx.AsyncClient(
        base_url=url + API, headers=headers, limits=fresh_connections, timeout=20
    ) as http:

        async def page() -> set[str] | None:
            try:
                response = await http.get("/entries", params={"limit": 20})
            except httpx.HTTPError as exc:
                tally.failed += 1
                tally.problems.append(f"GET: {exc!r}")
                return None
            tally.reads += 1
            if response.status_code != 200:
                tally.failed += 1
                tally.problems.append(f"GET {response.status_code}: {response.text[:200]}")
                return None
            return {item["id"] for item in response.json()["items"]}

        async def writer(number: int) -> None:
            round_ = -1
            while (round_ := round_ + 1) < ROUNDS or not settled.is_set():
                try:
                    posted = await http.post("/entries", json={"action": f"drill.w{number}"})
                except httpx.HTTPError as exc:
                    tally.failed += 1
                    tally.problems.append(f"POST: {exc!r}")
                    continue
                if posted.status_code != 201:
                    tally.failed += 1
                    tally.problems.append(f"POST {posted.status_code}: {posted.text[:200]}")
                    continue
                entry_id = posted.json()["id"]
                found = await page()
                tally.pairs += 1
                if found is not None and entry_id not in found:
                    tally.stale += 1
                    tally.problems.append(f"stale: {entry_id} missing after its 201")
                if number == 0 and round_ == ROUNDS // 3:
                    third.set()

        async def reader() -> None:
            while not done.is_set():
                await page()

        async def disruption() -> None:
            await third.wait()
            await disrupt()
            await asyncio.sleep(1.0)
            settled.set()

        readers = [asyncio.ensure_future(reader()) for _ in range(READERS)]
        disrupting = asyncio.ensure_future(disruption())
        await asyncio.gather(*(writer(n) for n in range(WRITERS)))
        done.set()
        await asyncio.gather(*readers, disrupting)
    return tally


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def cache_hits(admin: redis.Redis) -> int:
    """How many GETs the Redis server answered for the service's page keys."""
    stats = admin.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


def report(name: str, tally: Tally, seconds: float) -> None:
    print(  # the drill's figures, shown with -s
        f"\n{name}: {tally.pairs} write-then-read pairs, {tally.reads} reads, "
        f"{tally.stale} stale, {tally.failed} failed, {seconds:.1f} s"
    )


def check(tally: Tally, seconds: float) -> None:
    assert tally.pairs >= WRITERS * ROUNDS, tally.problems[:10]
    assert (tally.stale, tally.failed) == (0, 0), tally.problems[:10]
    assert seconds < 30


def test_read_your_writes_with_redis_healthy(own_redis: RedisServer, workdir: Path) -> None:
    admin = own_redis.client(socket_timeout=10)

    async def nothing() -> None:
        return None

    with serving(workdir, own_redis.url) as url:
        began = time.monotonic()
        tally = asyncio.run(drill(url, nothing))
        seconds = time.monotonic() - began
    report("healthy", tally, seconds)
    check(tally, seconds)
    assert cache_hits(admin) > tally.pairs  # the reads really went through Redis
    admin.close()


def test_read_your_writes_while_redis_writes_are_paused(
    own_redis: RedisServer, workdir: Path
) -> None:
    admin = own_redis.client(socket_timeout=10)
    paused_at: list[float] = []

    async def pause() -> None:
        paused_at.append(time.monotonic())
        await asyncio.to_thread(admin.execute_command, "CLIENT", "PAUSE", 1500, "WRITE")
        await asyncio.sleep(1.5)  # the drill goes on through the pause and past its end

    with serving(workdir, own_redis.url) as url:
        began = time.monotonic()
        tally = asyncio.run(drill(url, pause))
        seconds = time.monotonic() - began
    report("writes paused 1.5 s", tally, seconds)
    check(tally, seconds)
    assert paused_at
    assert paused_at[0] - began < seconds - 2.5  # the pause fell mid-run, and ended in it
    admin.close()


def test_read_your_writes_when_redis_is_killed_and_restarted_with_old_data(
    own_redis: RedisServer, workdir: Path
) -> None:
    admin = own_redis.client(socket_timeout=10)
    restarted: list[float] = []

    async def kill_and_restart() -> None:
        await asyncio.to_thread(admin.save)  # the restart will bring this state back
        await asyncio.sleep(0.5)  # writes go on: newer generations, not in the snapshot
        admin.close()
        await asyncio.to_thread(own_redis.kill)
        await asyncio.sleep(0.3)
        await asyncio.to_thread(own_redis.start)
        restarted.append(time.monotonic())

    with serving(workdir, own_redis.url) as url:
        began = time.monotonic()
        tally = asyncio.run(drill(url, kill_and_restart))
        seconds = time.monotonic() - began
    report("killed and restarted", tally, seconds)
    check(tally, seconds)
    assert restarted
    assert restarted[0] - began < seconds - 1.0  # it fell mid-run
