"""Webhook delivery to a real local receiver (``tests.webhook_receiver``), by the app's
own background task: every change, in log order, signed so that ``standardwebhooks``
verifies it; retried after 5xx and timeouts, never repeated after a 2xx; dead after
too many failures and resumed by POST; a slow receiver delays no other."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook

from tests.api.client import Api, entry
from tests.api.conftest import BACKENDS, FRAMEWORKS, Serve, api_settings
from tests.api.test_metrics import scrape, value
from tests.api.tokens import KeyPair, Tokens
from tests.webhook_receiver import Received, Receiver, receiver

FAST = {
    "webhook_allow_private": True,
    "webhook_poll_seconds": 0.05,
    "webhook_backoff_seconds": 0.05,
    "webhook_backoff_max_seconds": 0.2,
    "webhook_timeout_seconds": 0.5,
    "webhook_max_failures": 20,
}


@pytest.fixture(
    params=[
        pytest.param((f, b), id=f"{f}-{b}")
        for f in FRAMEWORKS
        for b in ("memory", "sqlite-redis", "mongo")
    ]
)
async def hooked(
    request: pytest.FixtureRequest, keys: KeyPair, tokens: Tokens, tmp_path: Path, serve: Serve
) -> Callable[..., Any]:
    framework, backend = request.param

    async def start(**overrides: Any) -> Api:
        settings = api_settings(
            keys, tmp_path, **BACKENDS[backend](request), **{**FAST, **overrides}
        )
        return Api(await serve(framework, settings), tokens)

    return start


async def subscribe(api: Api, url: str, **body: Any) -> dict[str, Any]:
    response = await api.call("POST", "/webhooks", json={"url": url, **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def answered_ok(hook: Receiver, statuses: dict[int, int]) -> list[Received]:
    return [r for i, r in enumerate(hook.got()) if statuses.get(i) == 200]


async def test_every_change_arrives_in_order_signed_retried_only_after_a_failure(
    hooked: Callable[..., Any],
) -> None:
    answers: dict[int, int] = {}  # request number -> status it was answered with

    def script(got: Received) -> tuple[int, float]:
        number = len(answers)
        status, wait = (500, 0.0) if number < 3 else (200, 1.0 if number == 3 else 0.0)
        answers[number] = status if wait == 0 else 0  # 0: timed out
        return status, wait

    with receiver(script) as hook:
        api = await hooked()
        sub = await subscribe(api, hook.url)
        written = [await api.record(entry(action=f"doc.v{i}")) for i in range(5)]
        await until(lambda: len(answered_ok(hook, answers)) == 5)
        await asyncio.sleep(0.3)  # nothing more comes
        got = hook.got()
        ok = answered_ok(hook, answers)
        assert [r.event["subject"] for r in ok] == [e["id"] for e in written]
        assert [r.event["logindex"] for r in ok] == sorted(r.event["logindex"] for r in ok)
        for received in got:
            event = Webhook(sub["secret"]).verify(received.body, received.headers)
            assert event["specversion"] == "1.0"
            assert received.headers["webhook-id"] == event["id"]
            assert event["type"] == "audit_trail.entry.record"
        # a change goes again only after a failed attempt, never after a 2xx
        for i in range(1, len(got)):
            if got[i].headers["webhook-id"] == got[i - 1].headers["webhook-id"]:
                assert answers[i - 1] != 200
        assert len(got) == 5 + 4  # three 500s and one timeout, then each once
        shown = (await api.call("GET", f"/webhooks/{sub['id']}")).json()
        assert shown["failures"] == 0
        assert shown["cursor"] >= ok[-1].event["logindex"]  # index leaves are passed too
        log = (await api.call("GET", f"/webhooks/{sub['id']}/deliveries")).json()["items"]
        assert [a["status"] for a in reversed(log)][:3] == [500, 500, 500]
        assert [a["error"] for a in reversed(log)][3] == "timeout"
        assert all(a["error"] is None for a in log[:5])
        samples = await scrape(api)  # GET /metrics counts every attempt
        assert value(samples, "audit_trail_webhook_deliveries_total", outcome="delivered") == 5
        assert value(samples, "audit_trail_webhook_deliveries_total", outcome="failed") == 4
        assert value(samples, "audit_trail_webhook_delivery_failures_total") == 4


async def test_a_receiver_that_keeps_failing_goes_dead_until_resumed(
    hooked: Callable[..., Any],
) -> None:
    failing = [True]
    with receiver(lambda _: (503 if failing[0] else 200, 0.0)) as hook:
        api = await hooked(webhook_max_failures=3)
        sub = await subscribe(api, hook.url)
        first = await api.record()

        async def state() -> dict[str, Any]:
            shown: dict[str, Any] = (await api.call("GET", f"/webhooks/{sub['id']}")).json()
            return shown

        deadline = time.monotonic() + 10
        while (await state())["state"] != "dead":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        dead = await state()
        assert dead["failures"] == 3
        assert dead["last_error"] == "HTTP 503"
        assert len(hook.got()) == 3
        second = await api.record()
        await asyncio.sleep(0.3)
        assert len(hook.got()) == 3  # nothing goes to a dead subscription
        failing[0] = False
        resumed = await api.call("POST", f"/webhooks/{sub['id']}/resume")
        assert resumed.status_code == 200
        assert resumed.json()["state"] == "active"
        assert resumed.json()["failures"] == 0
        await until(lambda: len(hook.got()) == 5)
        assert [r.event["subject"] for r in hook.got()[3:]] == [first["id"], second["id"]]


async def test_a_slow_receiver_does_not_delay_another(hooked: Callable[..., Any]) -> None:
    with receiver(lambda _: (200, 1.5)) as slow, receiver() as fast:
        api = await hooked(webhook_timeout_seconds=5.0)
        await subscribe(api, slow.url)
        await subscribe(api, fast.url)
        started = time.monotonic()
        for _ in range(3):
            await api.record()
        await until(lambda: len(fast.got()) == 3, seconds=5)
        assert time.monotonic() - started < 1.0
        assert len(slow.got()) <= 1


async def test_a_filter_chooses_what_is_delivered(hooked: Callable[..., Any]) -> None:
    with receiver() as hook:
        api = await hooked()
        await subscribe(api, hook.url, filter={"action": "doc.*"})
        await api.record(entry(action="user.login"))
        kept = await api.record(entry(action="doc.read"))
        await until(lambda: len(hook.got()) == 1)
        await asyncio.sleep(0.2)
        assert [r.event["subject"] for r in hook.got()] == [kept["id"]]
        assert hook.got()[0].event["data"]["action"] == "doc.read"
