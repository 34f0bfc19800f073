"""``audit_forward_changes``: a plugin's sink, run by the app's forwarder. Every change
of every tenant in log order, batch by batch; a sink that raises gets the same batch
again after a growing wait, and its other tenants go on; writes never wait for a sink;
after a restart a sink goes on from its stored cursor."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from dependency_injector import providers

from audit_trail.entrypoints.container import Container, build_container
from audit_trail.plugins import hookimpl
from audit_trail.plugins.hookspecs import ForwardedChange
from audit_trail.plugins.manager import plugin_manager_for
from tests.api.client import Api, entry
from tests.api.conftest import BACKENDS, FRAMEWORKS, Serve, api_settings
from tests.api.tokens import KeyPair, Tokens

FAST = {"sink_poll_seconds": 0.05, "sink_backoff_seconds": 0.1, "sink_backoff_max_seconds": 0.4}


class Sink:
    """Keeps what it took; ``fail_first`` calls (of ``failing`` tenant, any if None)
    raise; ``gate`` (when set) holds every call until it is set."""

    def __init__(self, fail_first: int = 0, failing: str | None = None) -> None:
        self.calls: list[tuple[float, str, list[int]]] = []
        self.taken: list[tuple[str, ForwardedChange]] = []
        self.fail_first = fail_first
        self.failing = failing
        self.gate: asyncio.Event | None = None

    @hookimpl
    async def audit_forward_changes(self, tenant: str, changes: Sequence[ForwardedChange]) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.calls.append((time.monotonic(), tenant, [c.index for c in changes]))
        if self.fail_first > 0 and self.failing in (None, tenant):
            self.fail_first -= 1
            raise ConnectionError("the SIEM is down")
        self.taken.extend((tenant, change) for change in changes)

    def ids(self, tenant: str) -> list[str]:
        return [c.data["id"] for t, c in self.taken if t == tenant]


@pytest.fixture(params=[(f, b) for f in FRAMEWORKS for b in ("memory", "sqlite-redis")])
def start(
    request: pytest.FixtureRequest, keys: KeyPair, tokens: Tokens, tmp_path: Path, serve: Serve
) -> Callable[..., Any]:
    framework, backend = request.param
    settings = api_settings(keys, tmp_path, **BACKENDS[backend](request), **FAST)

    async def start(sink: Sink) -> Api:
        container = build_container(settings)
        container.plugin_manager.override(providers.Object(plugin_manager_for(sink)))
        return Api(await serve(framework, settings, container), tokens)

    return start


async def until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_every_tenant_s_changes_arrive_in_log_order(start: Callable[..., Any]) -> None:
    sink = Sink()
    api = await start(sink)
    acme = [(await api.record(entry(action=f"a.{n}")))["id"] for n in range(5)]
    globex = [(await api.record(tenant="globex"))["id"] for _ in range(2)]
    assert (await api.call("DELETE", f"/entries/{acme[0]}")).status_code == 204
    await until(lambda: len(sink.taken) == 8)
    assert sink.ids("acme") == [*acme, acme[0]]
    assert sink.ids("globex") == globex
    kinds = [c.kind for t, c in sink.taken if t == "acme"]
    assert kinds == ["record"] * 5 + ["delete"]
    indices = [c.index for t, c in sink.taken if t == "acme"]
    assert indices == sorted(indices)
    assert len(set(indices)) == len(indices)


async def test_a_failing_batch_comes_again_after_growing_waits_and_other_tenants_go_on(
    start: Callable[..., Any],
) -> None:
    sink = Sink(fail_first=3, failing="acme")
    api = await start(sink)
    first = (await api.record())["id"]
    await until(lambda: len([c for c in sink.calls if c[1] == "acme"]) >= 1)
    other = (await api.record(tenant="globex"))["id"]
    await until(lambda: sink.ids("globex") == [other])  # while acme still fails
    await until(lambda: sink.ids("acme") == [first])
    acme_calls = [c for c in sink.calls if c[1] == "acme"]
    assert len(acme_calls) == 4  # three failures, then taken: never twice after success
    assert all(indices == acme_calls[0][2] for _, _, indices in acme_calls)  # the same batch
    waits = [b[0] - a[0] for a, b in itertools.pairwise(acme_calls)]
    # backoff 0.1 s doubled, capped at 0.4, times a factor in [0.5, 1)
    assert waits[0] >= 0.05
    assert waits[1] >= 0.1
    assert waits[2] >= 0.2


async def test_writes_do_not_wait_for_a_sink_that_hangs(start: Callable[..., Any]) -> None:
    sink = Sink()
    sink.gate = asyncio.Event()
    api = await start(sink)
    began = time.monotonic()
    ids = [(await api.record())["id"] for _ in range(20)]
    assert time.monotonic() - began < 5
    assert sink.taken == []
    sink.gate.set()
    await until(lambda: sink.ids("acme") == ids)


async def test_after_a_restart_the_sink_goes_on_from_its_cursor(
    keys: KeyPair, tokens: Tokens, tmp_path: Path, serve: Serve
) -> None:
    settings = api_settings(keys, tmp_path, storage="sqlite", cache="memory", **FAST)

    def container_for(sink: Sink) -> Container:
        pm = plugin_manager_for()
        pm.register(sink, name="siem")  # its cursor is kept by this name
        container = build_container(settings)
        container.plugin_manager.override(providers.Object(pm))
        return container

    before = Sink()
    app = FRAMEWORKS["litestar"](settings, container_for(before))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            first = (await Api(http, tokens).record())["id"]
            await until(lambda: before.ids("acme") == [first])
            await asyncio.sleep(0.2)  # the cursor is written after the call returned
    after = Sink()
    api = Api(await serve("quart", settings, container_for(after)), tokens)
    second = (await api.record())["id"]
    await until(lambda: len(after.taken) >= 1)
    await asyncio.sleep(0.2)
    assert after.ids("acme") == [second]
