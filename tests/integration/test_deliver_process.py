"""``audit-trail deliver`` beside ``audit-trail serve`` started with
``AUDIT_DELIVER=false``, all real processes on one SQLite file: the server delivers
nothing, the delivery process delivers every change in log order, signed; SIGTERM
stops it after writing how far it got, so a second one goes on without repeating."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from standardwebhooks import Webhook

from tests.integration.test_cli_serve import API, AUDIT_TRAIL, ENTRY, cli, environment, serving
from tests.webhook_receiver import Receiver, receiver

SRC = Path(__file__).resolve().parents[2] / "src"  # this checkout's code, in the processes
SCOPES = "audit:read audit:write audit:admin"


@contextmanager
def delivering(workdir: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    log = workdir.parent / f"deliver-{time.monotonic_ns()}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(AUDIT_TRAIL), "deliver"], cwd=workdir, env=env, stdout=sink, stderr=sink
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def subjects(hook: Receiver) -> list[str]:
    return [r.event["subject"] for r in hook.got()]


def wait_for(hook: Receiver, count: int, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while len(hook.got()) < count:
        assert time.monotonic() < deadline, f"{len(hook.got())} of {count} arrived"
        time.sleep(0.02)


def servers_that_do_not_deliver(tmp_path: Path, poll_seconds: float) -> dict[str, str]:
    """The environment of web processes that leave delivery to ``audit-trail deliver``
    (and of that process), on one SQLite file and one log key under ``tmp_path``."""
    return environment(
        tmp_path,
        PYTHONPATH=str(SRC),
        AUDIT_JWT_SECRET="deliver-process-test-secret-of-32-bytes",
        AUDIT_LOG_SIGNING_KEY_FILE=str(tmp_path / "log-key.pem"),
        AUDIT_CACHE="none",
        AUDIT_DELIVER="false",
        AUDIT_WEBHOOK_ALLOW_PRIVATE="true",
        AUDIT_WEBHOOK_POLL_SECONDS=str(poll_seconds),
    )


def test_a_delivery_process_delivers_what_the_servers_do_not(tmp_path: Path) -> None:
    env = servers_that_do_not_deliver(tmp_path, poll_seconds=0.05)
    token = cli(tmp_path, env, "token", "--sub", "w", "--tenant", "acme", "--scope", SCOPES)
    assert token.returncode == 0, token.stderr
    auth = {"Authorization": f"Bearer {token.stdout.strip()}"}

    def write(client: httpx.Client, url: str, count: int) -> list[str]:
        ids = []
        for n in range(count):
            body = {**ENTRY, "metadata": {"n": n}}
            response = client.post(f"{url}{API}/entries", json=body, headers=auth)
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
        return ids

    with (
        receiver() as hook,
        serving("litestar", tmp_path, env) as service,
        httpx.Client() as client,
    ):
        created = client.post(f"{service.url}{API}/webhooks", json={"url": hook.url}, headers=auth)
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        first = write(client, service.url, 20)
        time.sleep(1.0)  # twenty polls of a server that would deliver
        assert hook.got() == []

        with delivering(tmp_path, env) as deliverer:
            wait_for(hook, len(first))
            deliverer.send_signal(signal.SIGTERM)
            assert deliverer.wait(timeout=20) == 0
        assert subjects(hook) == first

        second = write(client, service.url, 5)
        with delivering(tmp_path, env):
            wait_for(hook, len(first) + len(second))
            time.sleep(0.3)  # a repeat would come now
        assert subjects(hook) == first + second  # nothing sent twice
        for received in hook.got():
            Webhook(secret).verify(received.body, received.headers)


def test_two_delivery_processes_deliver_one_subscription_once_in_order(
    tmp_path: Path,
) -> None:
    env = servers_that_do_not_deliver(tmp_path, poll_seconds=0.02)
    token = cli(tmp_path, env, "token", "--sub", "w", "--tenant", "acme", "--scope", SCOPES)
    auth = {"Authorization": f"Bearer {token.stdout.strip()}"}
    with (
        receiver(lambda _: (200, 0.005)) as hook,
        serving("litestar", tmp_path, env) as service,
        httpx.Client() as client,
        delivering(tmp_path, env),
        delivering(tmp_path, env),  # both claim it every 20 ms; the lease decides
    ):
        created = client.post(f"{service.url}{API}/webhooks", json={"url": hook.url}, headers=auth)
        assert created.status_code == 201, created.text
        ids = []
        for n in range(60):
            body = {**ENTRY, "metadata": {"n": n}}
            response = client.post(f"{service.url}{API}/entries", json=body, headers=auth)
            ids.append(response.json()["id"])
        wait_for(hook, len(ids))
        time.sleep(0.3)  # a second deliverer's copies would come now

    assert subjects(hook) == ids


def test_a_delivery_process_refuses_memory_storage(tmp_path: Path) -> None:
    env = environment(tmp_path, PYTHONPATH=str(SRC), AUDIT_STORAGE="memory")

    done = cli(tmp_path, env, "deliver")

    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "audit-trail: AUDIT_STORAGE: memory storage is per process, so a delivery process"
        " cannot see what a server stores; use sqlite or mongo"
    ]
