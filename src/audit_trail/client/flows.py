"""The client without its I/O: each operation is a generator ("flow") that yields the
steps it needs done (``Send`` a request, ``Sleep``) and gets back their outcome, so
the sync and the async client run the same flows, each with its own I/O.

``exchange`` is the flow of one request: authentication, retries with backoff, and
the mapping of a refusal to its exception.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypedDict, TypeVar

import httpx

from audit_trail.client.errors import (
    AuditTrailError,
    TransportError,
    UnexpectedResponse,
    problem_error,
)
from audit_trail.client.retry import RetryPolicy, replayable

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Send:
    """Send this request (``path`` relative to the client's base URL); the outcome is
    the ``httpx.Response`` or the ``httpx.TransportError`` that stopped it."""

    method: str
    path: str
    params: Mapping[str, str] | None = None
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def options(self) -> RequestOptions:
        """The keyword arguments of ``httpx.Client.request`` after method and path."""
        return {"params": self.params, "json": self.json, "headers": self.headers}


class RequestOptions(TypedDict):
    params: Mapping[str, str] | None
    json: Any
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


Step = Send | Sleep
Outcome = httpx.Response | httpx.TransportError | None
Flow = Generator[Step, Outcome, T]
TokenSource = str | Callable[[], str] | None


@dataclass(frozen=True, slots=True)
class Request:
    """One API request, before authentication."""

    method: str
    path: str
    params: Mapping[str, str] | None = None
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None
    authenticated: bool = True


class Running(Generic[T]):
    """A flow being run by a driver: ``step(outcome)`` hands it the outcome of its last
    step and returns its next, or None once it is done and ``result`` holds its value."""

    def __init__(self, flow: Flow[T]) -> None:
        self._flow = flow
        self.result: T

    def step(self, outcome: Outcome) -> Step | None:
        try:
            return self._flow.send(outcome)
        except StopIteration as stop:
            self.result = stop.value
            return None


def _sf_string(value: str) -> str:
    """``value`` as a Structured Field String (RFC 9651), as the Idempotency-Key draft
    sends it."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _token(source: TokenSource) -> str | None:
    return source() if callable(source) else source


def exchange(request: Request, token: TokenSource, policy: RetryPolicy) -> Flow[httpx.Response]:
    """Send ``request`` until it succeeds or the policy gives up; the response of a
    2xx or 3xx, else the ``ProblemError`` of the refusal is raised. The token is asked
    for again on every attempt (a callable may refresh it); a keyed write carries the
    same Idempotency-Key on every attempt."""
    may_replay = replayable(request.method, request.idempotency_key)
    attempts = max(1, policy.attempts)
    for attempt in range(1, attempts + 1):
        headers = dict(request.headers)
        bearer = _token(token) if request.authenticated else None
        if bearer:
            headers["authorization"] = f"Bearer {bearer}"
        if request.idempotency_key is not None:
            headers["idempotency-key"] = _sf_string(request.idempotency_key)
        outcome = yield Send(request.method, request.path, request.params, request.json, headers)
        last = attempt == attempts
        if isinstance(outcome, httpx.TransportError):
            # a connection never made sent nothing: always safe to try again
            if last or not (may_replay or isinstance(outcome, httpx.ConnectError)):
                raise TransportError(f"{request.method} {request.path}: {outcome!r}") from outcome
            yield Sleep(policy.backoff(attempt))
            continue
        if outcome is None:
            raise AuditTrailError("the driver gave no outcome for a request")
        if outcome.status_code < 400:
            return outcome
        error = problem_error(
            outcome.status_code, _problem(outcome), outcome.headers.get("retry-after")
        )
        if last or not policy.retries_status(error.status, error.slug, may_replay):
            raise error
        yield Sleep(policy.backoff(attempt, error.retry_after))
    raise AssertionError("unreachable")  # pragma: no cover


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict):
        return body
    return {"title": response.reason_phrase, "detail": response.text[:200]}


def json_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UnexpectedResponse(f"{response.request.url}: not JSON ({exc})") from None
