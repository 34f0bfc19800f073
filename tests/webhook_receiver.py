"""A real HTTP receiver for webhook tests: a threaded ``http.server`` on 127.0.0.1 at
a free port, that answers each request by a script (a status, or a sleep first) and
keeps every request it got (path, headers, body)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() when it arrived

    @property
    def event(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.body)
        return loaded


@dataclass
class Receiver:
    url: str
    answer: Callable[[Received], tuple[int, float]]  # (status, seconds to wait first)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def got(self) -> list[Received]:
        with self.lock:
            return list(self.received)


@contextlib.contextmanager
def receiver(answer: Callable[[Received], tuple[int, float]] | None = None) -> Iterator[Receiver]:
    state = Receiver("", answer or (lambda _: (200, 0.0)))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            got = Received(self.path, dict(self.headers.items()), self.rfile.read(length), 0)
            got.at = time.time()
            with state.lock:
                state.received.append(got)
            status, wait = state.answer(got)
            if wait:
                time.sleep(wait)
            with contextlib.suppress(OSError):
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
