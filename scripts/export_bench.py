"""How fast a real ``audit-trail serve`` streams a large NDJSON export, and what it
costs the server's memory.

    PYTHONPATH=src:. .venv/bin/python scripts/export_bench.py [--entries 100000] [--app litestar]

Starts ``audit-trail serve`` on SQLite in a temporary directory (127.0.0.1, a free
port), seeds ``--entries`` through POST /entries/batch (1000 per call, 4 at a time),
streams GET /entries/export while sampling the server's VmRSS every 10 ms, verifies
the file offline and prints entries/s and the RSS growth (max during - before). The
figures are quoted in docs/lifecycle.md and docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.integration.export_load import export, seed, serving


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--app", choices=["litestar", "quart"], default="litestar")
    parser.add_argument("--page-size", type=int, default=None, help="AUDIT_EXPORT_PAGE_SIZE")
    args = parser.parse_args()
    settings = {} if args.page_size is None else {"AUDIT_EXPORT_PAGE_SIZE": str(args.page_size)}
    git = shutil.which("git") or "git"
    commit = subprocess.run(  # noqa: S603 (git, with fixed arguments)
        [git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    print(
        f"# export_bench {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} at {commit}, "
        f"{os.cpu_count()} cores, loadavg {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    with (
        tempfile.TemporaryDirectory() as folder,
        serving(Path(folder), args.app, **settings) as served,
    ):
        started = time.monotonic()
        asyncio.run(seed(served, args.entries))
        print(f"seeded {args.entries} entries in {time.monotonic() - started:.1f} s")
        run = export(served, Path(folder) / "export.ndjson")
    failures = run.verified.failures
    print(
        f"export ({args.app}, SQLite): {run.entries} entries, {run.body_bytes / 2**20:.1f} MiB "
        f"in {run.seconds:.2f} s = {run.rate:,.0f} entries/s; "
        f"server CPU {run.server_cpu_seconds:.2f} s"
    )
    print(
        f"server RSS: {run.rss_before_kib / 1024:.1f} MiB before, "
        f"{run.rss_max_kib / 1024:.1f} MiB max during: growth {run.rss_growth_mib:.1f} MiB"
    )
    print(
        f"offline verification: {'ok' if not failures else failures[:3]} "
        f"in {run.verify_seconds:.2f} s"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
