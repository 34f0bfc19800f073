"""HTTP helpers for scripts/bench (run with the project's .venv python).

  client.py seed API TOKEN N ACTORS BATCH CONC
      POST N entries through POST /entries/batch (BATCH per call, CONC calls at a time),
      actor ids u-0 .. u-(ACTORS-1); last line: KNOWN_ID=<id of one stored entry>
  client.py ingest API TOKEN SECONDS BATCH CONC
      the same endpoint, as fast as it goes for SECONDS; prints one BENCH_RESULT line
      (rps = entries/s, p50/p99 per call)
  client.py counters URL
      the cache counters of GET /metrics (the *_total ones), as name=value pairs

Only the URL given is ever contacted (scripts/bench passes 127.0.0.1 addresses).
A failure exits non-zero with one line that says what came back.
"""

from __future__ import annotations

import asyncio
import copy
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import httpx

ENTRY = json.loads((Path(__file__).resolve().parent / "entry.json").read_text())


def _fail(message: str) -> NoReturn:
    print(f"FAILED: {message}", flush=True)
    sys.exit(1)


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _batch_body(start: int, count: int, actors: int, prefix: str) -> bytes:
    entries = []
    for i in range(start, start + count):
        entry = copy.deepcopy(ENTRY)
        entry["actor"]["id"] = f"{prefix}{i % actors}"
        entry["metadata"]["request_id"] = f"req-{i:010d}"
        entries.append(entry)
    return json.dumps({"entries": entries}, separators=(",", ":")).encode()


class _Outcome:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.ok = 0
        self.bad = 0
        self.samples: list[str] = []
        self.first_items: list[dict[str, Any]] | None = None

    def failed(self, what: str) -> None:
        self.bad += 1
        if len(self.samples) < 3:
            self.samples.append(what)


async def _post_batches(
    api: str, token: str, bodies: Iterator[bytes], conc: int, deadline: float | None
) -> _Outcome:
    outcome = _Outcome()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=conc, max_keepalive_connections=conc)
    async with httpx.AsyncClient(base_url=api, timeout=120, limits=limits) as client:

        async def worker() -> None:
            while deadline is None or time.perf_counter() < deadline:
                body = next(bodies, None)
                if body is None:
                    return
                started = time.perf_counter()
                try:
                    response = await client.post("/entries/batch", content=body, headers=headers)
                except httpx.HTTPError as exc:
                    outcome.failed(f"{type(exc).__name__}: {exc}")
                    continue
                outcome.latencies.append(time.perf_counter() - started)
                if response.status_code != 201:
                    outcome.failed(f"HTTP {response.status_code}: {response.text[:200]}")
                    continue
                outcome.ok += 1
                if outcome.first_items is None:
                    outcome.first_items = response.json()["items"]

        await asyncio.gather(*(worker() for _ in range(conc)))
    return outcome


def seed(api: str, token: str, *, n: int, actors: int, batch: int, conc: int) -> None:
    bodies = (_batch_body(s, min(batch, n - s), actors, "u-") for s in range(0, n, batch))
    started = time.perf_counter()
    outcome = asyncio.run(_post_batches(api, token, bodies, conc, None))
    elapsed = time.perf_counter() - started
    if outcome.bad or not outcome.first_items:
        _fail(f"seed: {outcome.bad} failed calls of {outcome.ok + outcome.bad}: {outcome.samples}")
    print(
        f"seeded {n} entries over {actors} actors in {elapsed:.1f} s "
        f"({n / elapsed:.0f} entries/s, {batch}/call, concurrency {conc})",
        flush=True,
    )
    print(f"KNOWN_ID={outcome.first_items[0]['id']}")


def ingest(api: str, token: str, seconds: float, batch: int, conc: int) -> None:
    # a few distinct bodies built up front: the client must not be what limits the server
    distinct = [_batch_body(k * batch, batch, 50_000, "u-ingest-") for k in range(8)]

    def bodies() -> Iterator[bytes]:
        k = 0
        while True:
            yield distinct[k % len(distinct)]
            k += 1

    started = time.perf_counter()
    outcome = asyncio.run(_post_batches(api, token, bodies(), conc, started + seconds))
    elapsed = time.perf_counter() - started
    lat = outcome.latencies
    print(
        f"BENCH_RESULT requests={outcome.ok + outcome.bad} "
        f"rps={outcome.ok * batch / elapsed:.1f} "
        f"p50_ms={_percentile(lat, 50) * 1000:.2f} p99_ms={_percentile(lat, 99) * 1000:.2f} "
        f"non2xx={outcome.bad} sockerr=0",
        flush=True,
    )
    for sample in outcome.samples:
        print(f"failure sample: {sample}")


def counters(url: str) -> None:
    response = httpx.get(url, timeout=10)
    if response.status_code != 200:
        _fail(f"GET {url}: HTTP {response.status_code}")
    pairs = []
    for line in response.text.splitlines():
        name, _, value = line.rpartition(" ")
        if name.startswith("audit_trail_cache_") and name.endswith("_total"):
            pairs.append(
                f"{name.removeprefix('audit_trail_cache_').removesuffix('_total')}={value}"
            )
    print(" ".join(pairs))


def main() -> None:
    command, args = sys.argv[1], sys.argv[2:]
    if command == "seed":
        n, actors, batch, conc = map(int, args[2:6])
        seed(args[0], args[1], n=n, actors=actors, batch=batch, conc=conc)
    elif command == "ingest":
        ingest(args[0], args[1], float(args[2]), int(args[3]), int(args[4]))
    elif command == "counters":
        counters(args[0])
    else:
        _fail(f"unknown command {command!r}")


if __name__ == "__main__":
    main()
