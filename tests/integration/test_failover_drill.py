"""Replica-set failover drill: SIGKILL the primary under steady ingest.

A real ``audit-trail serve`` (the code under test, see ``PYTHONPATH`` below) runs on
a three-member replica set (three ``mongod`` processes, see ``tests.replica_set``)
with the production write concern (majority, journaled). Writers post entries at a
steady rate (~50/s), each with a unique id in its metadata and its own
Idempotency-Key; the primary is SIGKILLed by pid, then restarted once a new primary
is serving, and rejoins as a secondary. Then:

- every acknowledged (201) entry is stored, under the id it was acknowledged with,
  and each drill id is stored at most once (no lost write, no duplicate), although
  writers repeat a request after a 503 (a 503 does not say whether the entry was
  stored: the same Idempotency-Key makes the repeat safe);
- every request failed only with a 503 problem+json (a repeat may also hear 409
  ``idempotency-key-in-use`` while the failed attempt's lease runs); no 500, no
  connection error;
- writes succeed again within ``RECOVERY_BOUND_SECONDS`` of the kill, with no
  restart of the service;
- ``audit-trail verify --full`` audits the tenant log against its signed
  checkpoint and exits 0.

``AUDIT_MONGO_TIMEOUT_MS`` is 1 s, below the election time (about 1.5 s with
``electionTimeoutMillis=1500``), so requests in between do get their 503s. The
figures (acknowledged, refused by status, lost, duplicates, recovery time, the
refusals' timeline) are printed, uncaptured, at the end of the test::

    PYTHONPATH=src:. pytest tests/integration/test_failover_drill.py -q
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.test_cli_serve import API, ENTRY, Service, cli, environment, serving
from tests.replica_set import ReplicaSet

pytestmark = pytest.mark.timeout(240)

SRC = Path(__file__).resolve().parents[2] / "src"  # this checkout's code, in the service

SECRET = "a-failover-drill-secret-of-32-bytes!!"
TENANT = "drill"
WRITERS = 4
RATE_PER_SECOND = 50.0  # all writers together
WARM_UP_SECONDS = 3.0
AFTER_RECOVERY_SECONDS = 2.0
AFTER_REJOIN_SECONDS = 3.0
RECOVERY_BOUND_SECONDS = 15.0
MONGO_TIMEOUT_MS = 1000  # below the election time, so requests in between do get 503s
REQUEST_TIMEOUT_SECONDS = 20.0
RETRY_SECONDS = 0.1
IDEMPOTENCY_LEASE_SECONDS = 3  # AUDIT_IDEMPOTENCY_LEASE_SECONDS (default 30)
KEY_IN_USE = "idempotency-key-in-use"
COMPLETE_SECONDS = IDEMPOTENCY_LEASE_SECONDS + 5.0


@pytest.fixture(scope="module")
def replica_set(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplicaSet]:
    """Three mongod members of this module alone, free to be killed and restarted."""
    with ReplicaSet(tmp_path_factory.mktemp("replica-set")) as members:
        yield members


@dataclass(frozen=True)
class Attempt:
    drill_id: str
    first: bool  # the first request for this drill id, not a retry
    sent: float  # time.monotonic()
    answered: float
    status: int | None  # None: no HTTP answer at all
    content_type: str
    body: str
    entry_id: str | None
    replayed: bool  # Idempotent-Replayed: true
    retry_after: float  # seconds, 0 when the answer has no Retry-After


@dataclass
class Writers:
    """Threads that post entries at a steady rate and record every answer."""

    url: str
    auth: dict[str, str]
    attempts: list[Attempt] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=itertools.count)
    _stopped_at: float | None = None

    def start(self) -> None:
        for n in range(WRITERS):
            thread = threading.Thread(target=self._write, args=(n,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def stop(self) -> None:
        self._stopped_at = time.monotonic()
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=REQUEST_TIMEOUT_SECONDS + COMPLETE_SECONDS + 5)
            assert not thread.is_alive(), "a writer did not stop"

    def acknowledged_since(self, moment: float) -> list[Attempt]:
        with self._lock:
            return [a for a in self.attempts if a.status == 201 and a.sent >= moment]

    def _write(self, writer: int) -> None:
        interval = WRITERS / RATE_PER_SECOND
        next_at = time.monotonic()
        with httpx.Client(
            base_url=self.url + API, headers=self.auth, timeout=REQUEST_TIMEOUT_SECONDS
        ) as client:
            while not self._stop.is_set():
                with self._lock:
                    drill_id = f"w{writer}-{next(self._ids):06d}"
                body = {**ENTRY, "metadata": {"drill": drill_id}}
                key = {"Idempotency-Key": f'"{drill_id}-{uuid.uuid4().hex}"'}
                # after a 503 the same request again, with the same key, until it is
                # acknowledged: a 503 does not say whether the entry was stored. The
                # drill retries a 503 after 0.1 s, not after its Retry-After (5 s), so
                # the recovery time it reports is the service's, not this back-off. A
                # 409 idempotency-key-in-use says the lease of the failed attempt is
                # still running (its release could not reach storage): wait as it asks.
                first = True
                while (answer := self._post(client, drill_id, body, key, first)).status != 201:
                    first = False
                    if answer.status not in (409, 503) or self._given_up():
                        break
                    time.sleep(answer.retry_after if answer.status == 409 else RETRY_SECONDS)
                next_at = max(next_at + interval, time.monotonic() - interval)
                self._stop.wait(max(0.0, next_at - time.monotonic()))

    def _given_up(self) -> bool:
        """Once stopped, a writer still completes its entry for a while."""
        stopped_at = self._stopped_at
        return stopped_at is not None and time.monotonic() > stopped_at + COMPLETE_SECONDS

    def _post(
        self,
        client: httpx.Client,
        drill_id: str,
        body: dict[str, Any],
        key: dict[str, str],
        first: bool,
    ) -> Attempt:
        sent = time.monotonic()
        try:
            response = client.post("/entries", json=body, headers=key)
        except httpx.HTTPError as exc:
            attempt = Attempt(
                drill_id, first, sent, time.monotonic(), None, "", repr(exc), None, False, 0.0
            )
        else:
            created = response.status_code == 201
            attempt = Attempt(
                drill_id,
                first,
                sent,
                time.monotonic(),
                response.status_code,
                response.headers.get("content-type", ""),
                "" if created else response.text,
                response.json()["id"] if created else None,
                response.headers.get("idempotent-replayed") == "true",
                float(response.headers.get("retry-after", "0")),
            )
        with self._lock:
            self.attempts.append(attempt)
        return attempt


def stored_entries(client: httpx.Client) -> list[dict[str, Any]]:
    """Every entry of the tenant, page by page."""
    entries: list[dict[str, Any]] = []
    params: dict[str, str | int] = {"limit": 1000}
    while True:
        response = client.get("/entries", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        entries += page["items"]
        if page["next_cursor"] is None:
            return entries
        params = {"limit": 1000, "cursor": page["next_cursor"]}


def test_sigkill_the_primary_under_steady_ingest(
    replica_set: ReplicaSet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = environment(
        tmp_path,
        AUDIT_JWT_SECRET=SECRET,
        AUDIT_LOG_SIGNING_KEY_FILE=str(tmp_path / "log-key.pem"),
        AUDIT_LOG_ORIGIN="drill.example/log",
        AUDIT_CACHE="none",
        AUDIT_STORAGE="mongo",
        AUDIT_MONGO_URI=replica_set.uri,
        AUDIT_MONGO_DATABASE=f"drill_{uuid.uuid4().hex}",
        AUDIT_MONGO_TIMEOUT_MS=str(MONGO_TIMEOUT_MS),
        AUDIT_IDEMPOTENCY_LEASE_SECONDS=str(IDEMPOTENCY_LEASE_SECONDS),
        PYTHONPATH=str(SRC),
    )
    minted = cli(tmp_path, env, "token", "--sub", "drill", "--tenant", TENANT,
                 "--scope", "audit:read audit:write")  # fmt: skip
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    auth = {"Authorization": f"Bearer {token}"}
    workdir = tmp_path / "work"
    workdir.mkdir()

    with serving("litestar", workdir, env) as service:
        writers = Writers(service.url, auth)
        writers.start()
        try:
            time.sleep(WARM_UP_SECONDS)
            assert writers.acknowledged_since(0.0), _report(writers, service)

            killed = replica_set.wait_for_primary(timeout=5)
            killed_at = time.monotonic()
            killed.kill()  # SIGKILL, by pid
            new_primary = replica_set.wait_for_primary(
                timeout=RECOVERY_BOUND_SECONDS, exclude=[killed]
            )
            elected_at = time.monotonic()

            deadline = killed_at + RECOVERY_BOUND_SECONDS
            while not (after := writers.acknowledged_since(killed_at)):
                assert time.monotonic() < deadline, (
                    f"no write acknowledged within {RECOVERY_BOUND_SECONDS}s of the kill\n"
                    + _report(writers, service)
                )
                time.sleep(0.05)
            recovered_at = min(a.answered for a in after)
            time.sleep(AFTER_RECOVERY_SECONDS)

            rejoin_began = time.monotonic()
            killed.start()
            replica_set.wait_for_secondaries(timeout=30)
            rejoined_after = time.monotonic() - rejoin_began
            assert killed.state() == "SECONDARY", replica_set
            time.sleep(AFTER_REJOIN_SECONDS)
        finally:
            writers.stop()

        attempts = writers.attempts
        acknowledged = {a.drill_id: a for a in attempts if a.status == 201}
        assert len(acknowledged) == sum(1 for a in attempts if a.status == 201)
        refused = [a for a in attempts if a.status != 201]
        # a request fails only with a 503; its retry (same key) may also hear that the
        # failed attempt's lease still holds the key: 409 idempotency-key-in-use
        unexpected = [
            a
            for a in refused
            if a.content_type != "application/problem+json"
            or not (a.status == 503 or (not a.first and a.status == 409 and KEY_IN_USE in a.body))
        ]
        assert not unexpected, unexpected[:5]

        with httpx.Client(base_url=service.url + API, headers=auth, timeout=30) as client:
            entries = stored_entries(client)
            stored = Counter(str(entry["metadata"]["drill"]) for entry in entries)
            duplicates = sorted(drill_id for drill_id, n in stored.items() if n > 1)
            lost = sorted(set(acknowledged) - set(stored))
            by_id = {entry["id"]: entry for entry in entries}
            mismatched = [
                a.drill_id
                for a in acknowledged.values()
                if a.entry_id not in by_id or by_id[a.entry_id]["metadata"]["drill"] != a.drill_id
            ]
            sample = next(iter(acknowledged.values()))
            one = client.get(f"/entries/{sample.entry_id}")
            assert one.status_code == 200, one.text
            vkey = client.get("/log/key").json()["vkey"]

        verify_began = time.monotonic()
        verified = cli(workdir, env, "verify", "--url", service.url, "--token", token,
                       "--vkey", vkey, "--state", str(tmp_path / "verify-state.json"),
                       "--full")  # fmt: skip

    verify_took = time.monotonic() - verify_began
    refused_by_status = Counter(
        f"{a.status} ({'first request' if a.first else 'retry'})" for a in refused
    )
    drill_ids = {a.drill_id for a in attempts}
    retried = {a.drill_id for a in refused} & set(acknowledged)
    figures = {
        "requests sent": len(attempts),
        "entries written (distinct drill ids)": len(drill_ids),
        "entries acknowledged (201)": len(acknowledged),
        "requests refused, by status": dict(refused_by_status),
        "entries acknowledged on a retry with the same Idempotency-Key": len(retried),
        "of them replayed (Idempotent-Replayed: true)": sum(
            1 for d in retried if acknowledged[d].replayed
        ),
        "entries never acknowledged (writers stopped)": len(drill_ids - set(acknowledged)),
        "lost (acknowledged, not stored)": len(lost),
        "duplicates (stored twice)": len(duplicates),
        "election after kill (s)": round(elected_at - killed_at, 2),
        "recovery after kill (s)": round(recovered_at - killed_at, 2),
        "killed member rejoined as SECONDARY after (s)": round(rejoined_after, 2),
        "new primary": new_primary.port,
        "refusals (sent, answered; s after the kill)": [
            (round(a.sent - killed_at, 2), round(a.answered - killed_at, 2), a.status)
            for a in refused[:8]
        ],
        "slowest requests (sent, answered; s after the kill)": [
            (round(a.sent - killed_at, 2), round(a.answered - killed_at, 2), a.status)
            for a in sorted(attempts, key=lambda a: a.sent - a.answered)[:4]
        ],
        "verify --full exit status": verified.returncode,
        "verify --full took (s)": round(verify_took, 2),
    }
    with capsys.disabled():
        print("\nfailover drill figures:")
        for name, value in figures.items():
            print(f"  {name}: {value}")

    assert not lost, lost[:20]
    assert not duplicates, duplicates[:20]
    assert not mismatched, mismatched[:20]
    assert recovered_at - killed_at < RECOVERY_BOUND_SECONDS
    assert verified.returncode == 0, verified.stdout + verified.stderr


def _report(writers: Writers, service: Service) -> str:
    with writers._lock:
        tail = writers.attempts[-10:]
    return "\n".join(repr(a) for a in tail) + "\n--- service ---\n" + service.output()[-4000:]
