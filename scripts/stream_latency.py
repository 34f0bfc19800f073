"""How long a change takes from its POST's answer to its event on GET /stream (or,
with ``--webhook``, to its webhook at a local receiver).

Starts ``audit-trail serve`` (SQLite, in a temporary directory; ``--app`` picks the
app), opens a stream, POSTs entries at ``--rate`` per second for ``--seconds`` from
``--writers`` processes, and prints the latency percentiles of the events received:
each POST's answer and each event's arrival are timed by entry id.

    .venv/bin/python scripts/stream_latency.py --rate 500 --seconds 20
    .venv/bin/python scripts/stream_latency.py --rate 500 --seconds 20 --webhook
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

API = "/apiv3/audit_trail"
SECRET = secrets.token_urlsafe(32)  # a fresh signing secret for this run's tokens


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--app", choices=["litestar", "quart"], default="litestar")
    parser.add_argument("--rate", type=float, default=500.0, help="entries per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--writers", type=int, default=2, help="processes that POST")
    parser.add_argument("--connections", type=int, default=32, help="in all, kept alive")
    parser.add_argument("--port", type=int, default=18777)
    parser.add_argument("--webhook", action="store_true", help="time webhooks, not the stream")
    parser.add_argument(
        "--deliver-process",
        action="store_true",
        help="webhooks from an `audit-trail deliver` process (the server: AUDIT_DELIVER=false)",
    )
    args = parser.parse_args()
    cli = Path(sys.executable).with_name("audit-trail")
    with tempfile.TemporaryDirectory() as home:
        env = {
            **os.environ,
            "HOME": home,
            "AUDIT_JWT_SECRET": SECRET,
            "AUDIT_SQLITE_PATH": f"{home}/latency.db",
            "AUDIT_LOG_SIGNING_KEY_FILE": f"{home}/log-key.pem",
            "AUDIT_WEBHOOK_ALLOW_PRIVATE": "true",  # the receiver is on 127.0.0.1
        }
        token = subprocess.run(  # noqa: S603 - our own CLI
            [cli, "token", "--sub", "bench", "--tenant", "bench", "--scope",
             "audit:read audit:write audit:admin"],
            env=env, capture_output=True, text=True, check=True, cwd=home,
        ).stdout.strip()  # fmt: skip
        commands = [[cli, "serve", "--app", args.app, "--port", str(args.port)]]
        if args.deliver_process:
            env["AUDIT_DELIVER"] = "false"
            commands.append([cli, "deliver"])
        processes = [
            subprocess.Popen(  # noqa: S603 - our own CLI
                command, env=env, cwd=home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            for command in commands
        ]
        try:
            return measure(f"http://127.0.0.1:{args.port}", token, args)
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=30)


def start_receiver(port: int, arrived: dict[str, float], total: int, done: threading.Event) -> None:
    """A webhook receiver on 127.0.0.1:``port``, in a process of its own (the writers'
    threads would otherwise slow its answers through the GIL, and so the deliveries,
    which go one at a time), timing each entry's arrival on the system's monotonic
    clock; a thread here collects the times."""
    queue: multiprocessing.Queue[tuple[str, float]] = multiprocessing.Queue()
    multiprocessing.Process(target=_receive, args=(port, queue), daemon=True).start()

    def collect() -> None:
        while len(arrived) < total:
            subject, at = queue.get()
            arrived[subject] = at
        done.set()

    threading.Thread(target=collect, daemon=True).start()


def _receive(port: int, queue: multiprocessing.Queue[tuple[str, float]]) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            queue.put((json.loads(body)["subject"], time.monotonic()))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def write_all(
    url: str, token: str, total: int, start: float, args: argparse.Namespace
) -> dict[str, float]:
    """POST ``total`` entries, the n-th at ``start + n / rate``, from ``--writers``
    processes over ``--connections`` connections (threads with plain ``http.client``,
    so that the load itself costs little CPU; enough of them that the group commit's
    wait does not hold the rate down); each entry id with when its answer came
    (system monotonic clock, as the receiver's)."""
    queue: multiprocessing.Queue[dict[str, float]] = multiprocessing.Queue()
    host, port = url.removeprefix("http://").split(":")
    processes = [
        multiprocessing.Process(
            target=_write_share,
            args=(
                host,
                int(port),
                token,
                range(k, total, args.writers),
                max(1, args.connections // args.writers),
                start,
                args.rate,
                queue,
            ),
        )
        for k in range(args.writers)
    ]
    for process in processes:
        process.start()
    acknowledged: dict[str, float] = {}
    for _ in processes:
        acknowledged.update(queue.get())
    for process in processes:
        process.join()
    return acknowledged


def _write_share(  # noqa: PLR0917 - a process's target takes positional arguments
    host: str,
    port: int,
    token: str,
    numbers: range,
    connections: int,
    start: float,
    rate: float,
    queue: multiprocessing.Queue[dict[str, float]],
) -> None:
    share = iter(numbers)
    lock = threading.Lock()
    acknowledged: dict[str, float] = {}
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def write() -> None:
        connection = http.client.HTTPConnection(host, port, timeout=30)
        while True:
            with lock:
                n = next(share, None)
            if n is None:
                return
            wait = start + n / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            body = json.dumps({"action": "bench.stream", "metadata": {"n": n}})
            connection.request("POST", f"{API}/entries", body, headers)
            response = connection.getresponse()
            answer = response.read()
            if response.status != 201:
                raise SystemExit(f"POST answered {response.status}: {answer[:200]!r}")
            acknowledged[json.loads(answer)["id"]] = time.monotonic()

    threads = [threading.Thread(target=write) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put(acknowledged)


def measure(url: str, token: str, args: argparse.Namespace) -> int:
    auth = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}{API}/check-port", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    arrived: dict[str, float] = {}  # entry id -> when its event was read
    acknowledged: dict[str, float] = {}  # entry id -> when its POST was answered
    total = int(args.rate * args.seconds)
    done = threading.Event()

    def listen() -> None:
        with (
            httpx.Client(timeout=httpx.Timeout(30, read=None)) as client,
            client.stream("GET", f"{url}{API}/stream", headers=auth) as response,
        ):
            for line in response.iter_lines():
                if line.startswith("data: "):
                    arrived[json.loads(line[6:])["id"]] = time.monotonic()
                    if len(arrived) >= total:
                        done.set()
                        return

    if args.webhook:
        start_receiver(args.port + 1, arrived, total, done)
        hook = {"url": f"http://127.0.0.1:{args.port + 1}/hook"}
        httpx.post(f"{url}{API}/webhooks", json=hook, headers=auth).raise_for_status()
    else:
        threading.Thread(target=listen, daemon=True).start()
    time.sleep(1)
    start = time.monotonic()
    acknowledged.update(write_all(url, token, total, start, args))
    achieved = total / (time.monotonic() - start)
    done.wait(timeout=30)
    # an event can be read a moment before its POST's answer is: that is 0 latency
    delays = [max(0.0, arrived[i] - at) for i, at in acknowledged.items() if i in arrived]
    if not delays:
        print("no events received")
        return 1
    ordered = sorted(delays)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    mean = statistics.mean(delays) * 1000
    what = "webhooks" if args.webhook else "events"
    print(
        f"{args.app}: {len(delays)}/{total} {what} at {achieved:.0f} writes/s; latency from"
        f" the POST's answer to the event, ms: p50 {pct(50):.0f}, p90 {pct(90):.0f},"
        f" p99 {pct(99):.0f}, max {ordered[-1] * 1000:.0f}, mean {mean:.0f}"
    )
    return 0 if len(delays) == total else 1


if __name__ == "__main__":
    sys.exit(main())
