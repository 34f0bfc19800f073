"""The request flow without a service: what is sent on each attempt, and when it stops."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from audit_trail.client import TransportError
from audit_trail.client.flows import Outcome, Request, Running, Send, Sleep, exchange
from audit_trail.client.retry import RetryPolicy

POLICY = RetryPolicy(attempts=3, random=lambda: 0.5)


def _drive(request: Request, outcomes: Iterator[Outcome], token: object) -> list[Send | Sleep]:
    """Runs ``exchange`` on canned outcomes; every step it took."""
    running = Running(exchange(request, token, POLICY))  # type: ignore[arg-type]
    steps: list[Send | Sleep] = []
    outcome: Outcome = None
    while (step := running.step(outcome)) is not None:
        steps.append(step)
        outcome = next(outcomes) if isinstance(step, Send) else None
    return steps


def _ok() -> httpx.Response:
    return httpx.Response(200, json={})


def test_a_callable_token_is_asked_again_on_every_attempt() -> None:
    issued = iter(["t1", "t2"])
    dropped = httpx.ReadError("dropped")
    steps = _drive(Request("GET", "/x"), iter([dropped, _ok()]), lambda: next(issued))
    sent = [s for s in steps if isinstance(s, Send)]
    assert [s.headers["authorization"] for s in sent] == ["Bearer t1", "Bearer t2"]
    assert [s for s in steps if isinstance(s, Sleep)] == [Sleep(0.125)]  # 0.5 * 0.25


def test_a_write_without_a_key_is_retried_only_if_never_sent() -> None:
    refused = httpx.ConnectError("refused")
    steps = _drive(Request("PUT", "/x"), iter([refused, _ok()]), "t")
    assert len([s for s in steps if isinstance(s, Send)]) == 2
    with pytest.raises(TransportError):
        _drive(Request("PUT", "/x"), iter([httpx.ReadError("lost")]), "t")


def test_a_keyed_write_sends_the_same_key_each_time() -> None:
    lost = httpx.ReadError("lost")
    steps = _drive(Request("POST", "/x", idempotency_key="k"), iter([lost, lost, _ok()]), "t")
    keys = {s.headers["idempotency-key"] for s in steps if isinstance(s, Send)}
    assert keys == {'"k"'}
