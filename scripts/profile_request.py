"""Drive one of the apps in-process and say what a request costs in CPU.

    .venv/bin/python scripts/profile_request.py [--app litestar|quart] [--method GET]
        [--body FILE] [--requests N] [--concurrency C] [--warm-up N] [--profile]
        PATH_AND_QUERY

The app is built from the ``AUDIT_*`` environment exactly as ``audit-trail serve``
builds it (storage, cache, plugins), its lifespan is run, and requests are handed to
it as ASGI calls: no sockets for HTTP, so what is measured is the service's own work
(and that of the storage and cache clients, against whatever servers the settings
name). It prints the statuses and the CPU time per request (``time.process_time``,
which a busy machine disturbs less than wall time); ``--profile`` adds cProfile's
functions by own time. Requests carry a bearer token minted with ``AUDIT_JWT_SECRET``
for ``--tenant`` with the read and write scopes.

Example, against the embedded default in a scratch directory:

    cd "$(mktemp -d)" && AUDIT_JWT_SECRET=$(python -c 'print("x" * 32)') \\
      /path/to/.venv/bin/python /path/to/scripts/profile_request.py \\
      --method POST --body /path/to/scripts/bench.d/entry.json /apiv3/audit_trail/entries
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from audit_trail.adapters.auth import mint_token
from audit_trail.entrypoints import asgi
from audit_trail.entrypoints.settings import load_settings

Message = dict[str, Any]
App = Callable[
    [Message, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", help="path and query, e.g. /apiv3/audit_trail/entries?limit=5")
    parser.add_argument("--app", choices=["litestar", "quart"], default="litestar")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body", type=Path, help="a file sent as the JSON body")
    parser.add_argument("--tenant", default="bench")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warm-up", type=int, default=200)
    parser.add_argument("--profile", action="store_true", help="print cProfile's top 40")
    return parser.parse_args()


class Driver:
    def __init__(self, app: App, method: str, target: str, body: bytes, token: str) -> None:
        self._app = app
        self._method = method
        self._path, _, query = target.partition("?")
        self._query = query.encode()
        self._body = body
        headers = [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {token}".encode())]
        if body:
            headers += [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ]
        self._headers = headers
        self.statuses: Counter[int] = Counter()

    async def start(self) -> asyncio.Task[None]:
        incoming: asyncio.Queue[Message] = asyncio.Queue()
        started: asyncio.Future[Message] = asyncio.get_running_loop().create_future()

        async def send(message: Message) -> None:
            if message["type"].startswith("lifespan.startup") and not started.done():
                started.set_result(message)

        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        lifespan = asyncio.ensure_future(self._app(scope, incoming.get, send))
        await incoming.put({"type": "lifespan.startup"})
        outcome = await started
        if outcome["type"] != "lifespan.startup.complete":
            raise SystemExit(f"the app did not start: {outcome.get('message', outcome)}")
        self._incoming = incoming
        return lifespan

    async def stop(self, lifespan: asyncio.Task[None]) -> None:
        await self._incoming.put({"type": "lifespan.shutdown"})
        await lifespan

    async def one(self) -> None:
        answered = asyncio.Event()
        sent_body = False

        async def receive() -> Message:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": self._body, "more_body": False}
            await answered.wait()  # the client goes away once it has its answer
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.statuses[message["status"]] += 1
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                answered.set()

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": self._method,
            "scheme": "http",
            "path": self._path,
            "raw_path": self._path.encode(),
            "query_string": self._query,
            "root_path": "",
            "headers": self._headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        await self._app(scope, receive, send)

    async def run(self, count: int, concurrency: int) -> None:
        async def worker(share: int) -> None:
            for _ in range(share):
                await self.one()

        shares = [count // concurrency + (i < count % concurrency) for i in range(concurrency)]
        await asyncio.gather(*(worker(share) for share in shares))


async def main(args: argparse.Namespace) -> None:
    secret = os.environ.get("AUDIT_JWT_SECRET")
    if not secret:
        raise SystemExit("set AUDIT_JWT_SECRET (the requests carry a token signed with it)")
    settings = load_settings(os.environ)
    token = mint_token(
        key=secret,
        subject="profiler",
        tenant=args.tenant,
        scopes=["audit:read", "audit:write"],
        ttl_seconds=86_400,
        tenant_claim=settings.tenant_claim,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    app: App = getattr(asgi, f"{args.app}_app")()
    body = args.body.read_bytes().strip() if args.body else b""
    driver = Driver(app, args.method, args.target, body, token)
    lifespan = await driver.start()
    try:
        await driver.run(args.warm_up, min(args.concurrency, max(args.warm_up, 1)))
        driver.statuses.clear()
        profile = cProfile.Profile() if args.profile else None
        began_wall, began_cpu = time.perf_counter(), time.process_time()
        if profile is not None:
            profile.enable()
        await driver.run(args.requests, args.concurrency)
        if profile is not None:
            profile.disable()
        wall, cpu = time.perf_counter() - began_wall, time.process_time() - began_cpu
    finally:
        await driver.stop(lifespan)
    statuses = ", ".join(f"{status}: {n}" for status, n in sorted(driver.statuses.items()))
    print(
        f"{args.app} {args.method} {args.target}: {args.requests} requests, "
        f"concurrency {args.concurrency}; statuses {statuses}"
    )
    print(f"{1e6 * cpu / args.requests:.0f} us CPU per request, {args.requests / wall:.0f}/s wall")
    if profile is not None:
        pstats.Stats(profile, stream=sys.stdout).sort_stats("tottime").print_stats(40)


if __name__ == "__main__":
    asyncio.run(main(arguments()))
