"""Readiness: every probe asked at once, each within the bound; what is down is named."""

from __future__ import annotations

import asyncio
import time

import msgspec

from audit_trail.entrypoints.http.messages import HttpRequest
from audit_trail.entrypoints.http.readiness import Readiness
from audit_trail.entrypoints.http.routes import Call


async def answers() -> None:
    await asyncio.sleep(0)


async def hangs() -> None:
    await asyncio.sleep(60)


def refuses() -> None:
    raise ConnectionRefusedError("no one listens")


def call() -> Call:
    return Call(HttpRequest("GET"))


async def test_all_answering_is_ready() -> None:
    readiness = Readiness({"storage": answers, "signer": lambda: None}, timeout_seconds=1)
    response = await readiness.ready(call())
    assert response.status == 200
    assert msgspec.json.decode(response.body) == {
        "status": "ready",
        "checks": {"storage": "ok", "signer": "ok"},
    }


async def test_what_is_down_is_named_and_the_probes_run_at_once() -> None:
    readiness = Readiness(
        {"storage": hangs, "signer": answers, "redis": refuses, "other": hangs},
        timeout_seconds=0.2,
    )
    began = time.monotonic()
    response = await readiness.ready(call())
    assert time.monotonic() - began < 0.5  # not 0.2 s per hanging probe
    assert response.status == 503
    assert ("content-type", "application/problem+json") in response.headers
    body = msgspec.json.decode(response.body)
    assert body["detail"] == (
        "storage did not answer within 0.2 s; redis failed (ConnectionRefusedError); "
        "other did not answer within 0.2 s"
    )
    assert body["checks"]["signer"] == "ok"
    assert body["type"].endswith("not-ready")
