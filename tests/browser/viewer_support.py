"""What the viewer's browser tests and ``scripts/viewer_screenshots.py`` share: a real
``audit-trail serve`` on SQLite, tokens, seeded tenants, a page on another origin that
embeds the element, and tampering with the database behind the service's back."""

from __future__ import annotations

import base64
import http.server
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit_trail.core.integrity.checkpoint import format_vkey
from tests.integration.test_cli_serve import API, environment, serving
from tests.servers import HOST, free_port

SRC = Path(__file__).resolve().parents[2] / "src"
SECRET = "viewer-browser-test-secret-32-bytes!"
VIEWER = f"{API}/viewer/"
CHECKPOINT_LAG_SECONDS = 1.2  # /log/checkpoint covers writes acknowledged 1 s ago
BASE_TIME = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def token(tenant: str, scope: str = "audit:read", sub: str = "viewer-test") -> str:
    claims = {"sub": sub, "tenant": tenant, "scope": scope, "exp": int(time.time()) + 3600}
    return jwt.encode(claims, SECRET, algorithm="HS256")


def stranger_vkey() -> str:
    """The verifier key of a key that never signed anything here."""
    public = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return format_vkey("stranger", public)


def entry(index: int, **overrides: Any) -> dict[str, Any]:
    actors = ("u-ada", "u-bob", "u-cy")
    body: dict[str, Any] = {
        "action": ("document.update", "document.read", "user.login")[index % 3],
        "outcome": ("success", "success", "failure", "denied")[index % 4],
        "actor": {"id": actors[index % 3], "type": "user", "name": f"User {actors[index % 3]}"},
        "target": {"type": "document", "id": f"d-{index}", "name": f"Report {index}"},
        "occurred_at": (BASE_TIME + timedelta(minutes=index)).isoformat(),
        "tags": ["ui"] if index % 2 else [],
        "metadata": {"index": index, "note": "Grüße 😀", "ratio": index / 8},
    }
    body.update(overrides)
    return body


@dataclass
class Viewed:
    """A running service and a client for it."""

    url: str
    database: Path
    client: httpx.Client

    def seed(self, tenant: str, count: int) -> list[dict[str, Any]]:
        """``count`` entries in ``tenant``, in batches, oldest first."""
        made: list[dict[str, Any]] = []
        auth = {"Authorization": f"Bearer {token(tenant, 'audit:write')}"}
        for start in range(0, count, 500):
            batch = [entry(i) for i in range(start, min(count, start + 500))]
            answer = self.client.post("/entries/batch", json={"entries": batch}, headers=auth)
            assert answer.status_code == 201, answer.text
            made += answer.json()["items"]
        return made

    def call(self, method: str, path: str, tenant: str, scope: str, **kwargs: Any) -> Any:
        auth = {"Authorization": f"Bearer {token(tenant, scope)}"}
        answer = self.client.request(method, path, headers=auth, **kwargs)
        assert answer.status_code < 300, answer.text
        return answer.json() if answer.content else None

    def tamper(self, tenant: str, entry_id: str, action: str) -> None:
        """Change an entry in the SQLite file directly, as someone with database access."""
        with sqlite3.connect(self.database) as db:
            changed = db.execute(
                "UPDATE revisions SET action = ? WHERE tenant = ? AND id = ?",
                (action, tenant, entry_id),
            ).rowcount
        assert changed >= 1

    def viewer_url(self, tenant: str) -> str:
        return f"{self.url}{VIEWER}#token={token(tenant)}"


@contextmanager
def viewer_service(workdir: Path, app: str = "litestar", cors: str = "") -> Iterator[Viewed]:
    """``audit-trail serve`` on a fresh SQLite file; no query cache, so that a change
    made in the file behind the service's back shows at once (as it would once a
    cached page expires)."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = environment(
        workdir,
        PYTHONPATH=str(SRC),
        AUDIT_JWT_SECRET=SECRET,
        AUDIT_CACHE="none",
        AUDIT_CORS_ORIGINS=cors,
    )
    with serving(app, workdir, env) as service, httpx.Client(base_url=service.url + API) as client:
        yield Viewed(service.url, workdir / "audit-trail.db", client)


def embedding_page(service_url: str, read_token: str, attributes: str = "") -> bytes:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Another app</title>
<link rel="icon" href="data:,">
<script type="module" src="{service_url}{VIEWER}viewer.js"></script></head>
<body><h1>Another app</h1>
<audit-trail-viewer token="{read_token}" {attributes}></audit-trail-viewer>
</body></html>""".encode()


@contextmanager
def other_origin(port: int, pages: dict[str, bytes]) -> Iterator[str]:
    """A plain http.server on another port (so another origin) serving ``pages``."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path.split("?")[0])
            self.send_response(200 if body is not None else 404)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer((HOST, port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def forge_signature(note: str) -> str:
    """``note`` with the last byte of its signature flipped."""
    body, _, line = note.rstrip("\n").rpartition("\n")
    prefix, _, encoded = line.rpartition(" ")
    raw = bytearray(base64.b64decode(encoded))
    raw[-1] ^= 0x01
    return f"{body}\n{prefix} {base64.b64encode(bytes(raw)).decode()}\n"


__all__ = ["CHECKPOINT_LAG_SECONDS", "free_port"]
