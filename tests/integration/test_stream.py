"""GET /stream against real ``audit-trail serve`` processes: changes arrive in log order
with their log index as the event id, a resume after a restart (Last-Event-ID) loses and
repeats nothing, a write on one process reaches a stream on another, and a consumer
that falls behind is cut off with a final ``lagging`` event."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from threading import Thread
from typing import Any

import httpx
import pytest

from tests.integration.test_cli_serve import API, ENTRY, Service, cli, environment, serving

pytestmark = pytest.mark.timeout(180)

SECRET = "a-stream-secret-of-at-least-32-bytes!"
SCOPES = "audit:read audit:write audit:admin audit:erase"


@dataclass
class Event:
    id: int | None
    event: str
    data: Any


@dataclass
class Listener:
    """Reads one stream in a thread, parsing its events as they come."""

    events: list[Event] = field(default_factory=list)
    comments: int = 0
    ended: bool = False
    arrived: list[float] = field(default_factory=list)

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Event]:
        deadline = time.monotonic() + timeout
        while len(self.events) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.events) >= count, f"{len(self.events)} of {count} events: {self.events}"
        return self.events[:count]


def parse(lines: Iterator[str], listener: Listener) -> None:
    fields: dict[str, str] = {}
    for line in lines:
        if line == "":
            if "data" in fields:
                listener.events.append(
                    Event(
                        int(fields["id"]) if "id" in fields else None,
                        fields.get("event", "message"),
                        json.loads(fields["data"]),
                    )
                )
                listener.arrived.append(time.monotonic())
            fields = {}
        elif line.startswith(":"):
            listener.comments += 1
        else:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
    listener.ended = True


@contextmanager
def listening(url: str, token: str, **params: Any) -> Iterator[Listener]:
    listener = Listener()
    headers = {"Authorization": f"Bearer {token}"}
    if "last_event_id" in params:
        headers["Last-Event-ID"] = str(params.pop("last_event_id"))
    client = httpx.Client(timeout=httpx.Timeout(30, read=None))
    opened: list[httpx.Response] = []

    def run() -> None:
        with client.stream("GET", f"{url}{API}/stream", params=params, headers=headers) as r:
            assert r.status_code == 200, r.read()
            assert r.headers["content-type"].startswith("text/event-stream")
            opened.append(r)
            try:
                parse(r.iter_lines(), listener)
            except httpx.HTTPError:
                listener.ended = True

    thread = Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not opened and time.monotonic() < deadline:
        time.sleep(0.02)
    assert opened, "the stream did not open"
    try:
        yield listener
    finally:  # hang up at once: the reading thread's recv returns, the server sees EOF
        stream = opened[0].extensions["network_stream"]
        with contextlib.suppress(OSError):
            stream.get_extra_info("socket").shutdown(socket.SHUT_RDWR)
        thread.join(timeout=5)
        client.close()


def setup(tmp_path: Path, **settings: str) -> tuple[dict[str, str], str]:
    env = environment(
        tmp_path,
        AUDIT_JWT_SECRET=SECRET,
        AUDIT_LOG_SIGNING_KEY_FILE=str(tmp_path / "log-key.pem"),
        AUDIT_STORAGE="sqlite",
        AUDIT_SQLITE_PATH=str(tmp_path / "shared.db"),
        AUDIT_CACHE="none",
        **settings,
    )
    minted = cli(tmp_path, env, "token", "--sub", "w", "--tenant", "acme", "--scope", SCOPES)
    assert minted.returncode == 0, minted.stderr
    return env, minted.stdout.strip()


def post(service: Service, token: str, **fields: Any) -> dict[str, Any]:
    response = httpx.post(
        f"{service.url}{API}/entries",
        json={**ENTRY, **fields},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    stored: dict[str, Any] = response.json()
    return stored


def workdir(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.mkdir(exist_ok=True)
    return path


@pytest.mark.parametrize("app", ["litestar", "quart"])
def test_changes_arrive_in_order_with_their_log_index_and_only_those_matching(
    app: str, tmp_path: Path
) -> None:
    env, token = setup(tmp_path, AUDIT_STREAM_HEARTBEAT_SECONDS="0.5")
    auth = {"Authorization": f"Bearer {token}"}
    with serving(app, workdir(tmp_path, "w"), env) as service:
        post(service, token, metadata={"before": True})  # before the stream: not sent
        with (
            listening(service.url, token) as everything,
            listening(service.url, token, actor_id="u-7") as only_u7,
        ):
            first = post(service, token, actor={"id": "u-7"}, metadata={"n": 1})
            post(service, token, metadata={"n": 2})
            path = f"{service.url}{API}/entries/{first['id']}"
            assert (
                httpx.put(path, json={**ENTRY, "actor": {"id": "u-7"}}, headers=auth).status_code
                == 200
            )
            erased = httpx.post(
                f"{path}/erase", json={"fields": ["metadata.field"], "reason": "r"}, headers=auth
            )
            assert erased.status_code == 200, erased.text
            assert httpx.delete(path, headers=auth).status_code == 204
            events = everything.wait_for(5)
            assert [e.event for e in events] == ["record", "record", "amend", "erase", "delete"]
            ids = [e.id for e in events if e.id is not None]
            assert ids == sorted(ids)
            assert len(set(ids)) == 5
            assert ids[0] == 1  # leaf 0 was written before the stream began
            assert events[0].data == first
            assert events[3].data["fields"] == ["metadata.field"]
            assert events[4].data["deleted"] is True
            assert [e.event for e in only_u7.wait_for(4)] == ["record", "amend", "erase", "delete"]
            time.sleep(1.2)
            assert everything.comments >= 2  # a heartbeat while nothing happened


@pytest.mark.parametrize("app", ["litestar", "quart"])
def test_a_resume_after_a_restart_loses_and_repeats_nothing(app: str, tmp_path: Path) -> None:
    env, token = setup(tmp_path)
    with serving(app, workdir(tmp_path, "a"), env) as service:
        with listening(service.url, token, after=-1) as listener:
            for n in range(5):
                post(service, token, metadata={"n": n})
            seen = listener.wait_for(5)
        service.process.kill()  # SIGKILL: no goodbye to anyone
    with serving(app, workdir(tmp_path, "b"), env) as service:
        for n in range(5, 8):
            post(service, token, metadata={"n": n})
        with listening(service.url, token, last_event_id=seen[2].id) as resumed:
            rest = resumed.wait_for(5)
    assert [e.data["metadata"]["n"] for e in seen[:3] + rest] == list(range(8))
    ids = [e.id for e in rest if e.id is not None]
    assert ids == sorted(set(ids))
    assert len(ids) == 5


def test_a_write_on_one_process_reaches_a_stream_on_another(tmp_path: Path) -> None:
    env, token = setup(tmp_path)
    with (
        serving("litestar", workdir(tmp_path, "one"), env) as one,
        serving("quart", workdir(tmp_path, "two"), env) as two,
        listening(two.url, token) as listener,
    ):
        sent = []
        for n in range(10):
            post(one, token, metadata={"n": n})
            sent.append(time.monotonic())
            time.sleep(0.05)
        events = listener.wait_for(10)
    assert [e.data["metadata"]["n"] for e in events] == list(range(10))
    delays = [arrived - at for arrived, at in zip(listener.arrived, sent, strict=False)]
    assert max(delays) < 5, delays  # the poll is 0.2 s; docs/streaming.md has the figures


def test_a_consumer_that_falls_behind_is_cut_off_with_a_final_event(tmp_path: Path) -> None:
    env, token = setup(tmp_path, AUDIT_STREAM_MAX_LAG="200", AUDIT_MAX_BATCH_ENTRIES="1000")
    with serving("litestar", workdir(tmp_path, "w"), env) as service:
        host, port = service.url.removeprefix("http://").split(":")
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect((host, int(port)))
        request = [f"GET {API}/stream HTTP/1.1", f"Host: {host}"]
        request += [f"Authorization: Bearer {token}", "Connection: close", "", ""]
        slow.sendall("\r\n".join(request).encode())
        head = slow.recv(1024)
        assert b" 200 " in head.split(b"\r\n")[0]
        batch = {"entries": [{**ENTRY, "metadata": {"pad": "x" * 500}}] * 1000}
        for _ in range(10):  # 10,000 changes while the consumer reads nothing
            response = httpx.post(
                f"{service.url}{API}/entries/batch",
                json=batch,
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            )
            assert response.status_code == 201
        slow.settimeout(30)
        received = bytearray(head)
        while chunk := slow.recv(65536):
            received += chunk
        slow.close()
    text = received.decode(errors="replace")
    assert "event: lagging" in text
    last = text[text.rindex("event: lagging") :]
    assert "Last-Event-ID" in last
    assert text.count("event: record") < 10_000
