"""The built-in ``syslog`` sink, run by the app's forwarder, against a real TCP
collector on 127.0.0.1 (``tests.syslog_listener``, which parses frames and messages on
its own): every change of every tenant, in log order, as RFC 5424 with the entry as
structured data, escaped; delivered after the collector comes back."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.client import Api, entry
from tests.api.conftest import BACKENDS, Serve, api_settings
from tests.api.tokens import READ, KeyPair, Tokens
from tests.syslog_listener import SyslogListener, SyslogMessage

LOCAL0 = 16
INFO, NOTICE = 6, 5
HOSTILE = 'u-"]\\x'  # a quote, a bracket and a backslash: each must be escaped


@pytest.fixture
def listener() -> Iterator[SyslogListener]:
    collector = SyslogListener()
    collector.start()
    yield collector
    collector.stop()
    assert collector.errors == []


@pytest.fixture(
    params=[
        pytest.param(("quart", "memory"), id="quart-memory"),
        pytest.param(("litestar", "memory"), id="litestar-memory"),
        pytest.param(("litestar", "sqlite-redis"), id="litestar-sqlite-redis"),
        pytest.param(("quart", "mongo"), id="quart-mongo"),
    ]
)
async def shipping(
    request: pytest.FixtureRequest,
    keys: KeyPair,
    tokens: Tokens,
    tmp_path: Path,
    serve: Serve,
) -> Api:
    framework, backend = request.param
    listener: SyslogListener = request.getfixturevalue("listener")
    settings = api_settings(
        keys,
        tmp_path,
        **BACKENDS[backend](request),
        plugins=("audit_trail.plugins.builtin.syslog",),
        syslog_url=f"tcp://127.0.0.1:{listener.port}",
        sink_poll_seconds=0.05,
        sink_backoff_seconds=0.05,
        sink_backoff_max_seconds=0.2,
    )
    return Api(await serve(framework, settings), tokens)


async def until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def body(message: SyslogMessage) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(message.msg.decode("utf-8"))
    return data


async def test_every_change_arrives_as_rfc5424_with_the_entry_as_structured_data(
    shipping: Api, listener: SyslogListener
) -> None:
    first = await shipping.record(entry(actor={"id": HOSTILE, "type": "user"}))
    other = await shipping.record(entry(action="login"), tenant="globex")
    assert (await shipping.call("DELETE", f"/entries/{first['id']}")).status_code == 204
    await until(lambda: len(listener.messages()) == 3)

    by_tenant = {
        tenant: [m for m in listener.messages() if m.params["tenant"] == tenant]
        for tenant in ("acme", "globex")
    }
    recorded, deleted = by_tenant["acme"]
    (other_message,) = by_tenant["globex"]
    for message in (recorded, deleted, other_message):
        assert message.version == "1"
        assert message.hostname == socket.gethostname()[:255]
        assert message.app_name == "audit-trail"
        assert message.procid == str(os.getpid())
        assert message.sd_id == "audit@32473"

    assert recorded.pri == LOCAL0 * 8 + INFO
    assert recorded.msgid == "record"
    assert recorded.timestamp == first["recorded_at"]
    assert recorded.params == {
        "id": first["id"],
        "tenant": "acme",
        "revision": "1",
        "action": "document.update",
        "actor_id": HOSTILE,
        "kind": "record",
        "log_index": recorded.params["log_index"],
    }
    history = await shipping.items(f"/entries/{first['id']}/history", scopes=[READ])
    assert body(recorded) == history[0]  # what a plain reader of the tenant sees
    assert "ip" not in body(recorded)["source"]  # which the writer saw: redacted for readers

    assert deleted.pri == LOCAL0 * 8 + NOTICE
    assert deleted.msgid == "delete"
    assert deleted.params["id"] == first["id"]
    assert deleted.params["revision"] == "2"
    assert int(deleted.params["log_index"]) > int(recorded.params["log_index"])
    assert body(deleted) == history[1]
    assert body(deleted)["deleted"] is True

    assert other_message.params["id"] == other["id"]
    assert body(other_message)["id"] == other["id"]
    assert body(other_message)["action"] == "login"


async def test_changes_made_while_the_collector_is_down_arrive_in_order_after_it_is_back(
    shipping: Api, listener: SyslogListener
) -> None:
    before = await shipping.record(entry(action="before"))
    await until(lambda: len(listener.messages()) == 1)
    listener.stop()
    started = time.monotonic()
    during = [(await shipping.record(entry(action=f"during.{n}")))["id"] for n in range(5)]
    assert time.monotonic() - started < 5  # writes do not wait for the sink
    await asyncio.sleep(0.3)  # the forwarder fails and backs off meanwhile
    listener.start()
    after = await shipping.record(entry(action="after"))
    wanted = [before["id"], *during, after["id"]]
    await until(lambda: {m.params["id"] for m in listener.messages()} >= set(wanted))

    seen: list[str] = []
    for message in listener.messages():  # at least once: a repeat is allowed, a gap not
        if message.params["id"] not in seen:
            seen.append(message.params["id"])
    assert seen == wanted
    indices = [int(m.params["log_index"]) for m in listener.messages()]
    firsts = [indices[i] for i in range(len(indices)) if indices[i] not in indices[:i]]
    assert firsts == sorted(firsts)
