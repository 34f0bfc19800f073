"""The client suite's fixtures: every test runs against every target (Litestar and
Quart in-process, the fake) with the sync and the async client, and never asks which.

The sync client is driven through ``Blocking``, which gives it the async client's
face (its calls block the test's loop briefly: the service runs on its own loop)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, Protocol, cast

import httpx
import pytest

from audit_trail.client import AsyncAuditTrailClient, AuditTrailClient, RetryPolicy
from audit_trail.client.testing import ALL_SCOPES
from tests.api.tokens import KeyPair, Tokens
from tests.client.targets import TARGETS, Target
from tests.client.transports import Intercept

FAST_RETRIES = RetryPolicy(attempts=3, base=0.001, cap=0.01, max_retry_after=0.05)


class Blocking:
    """``AuditTrailClient`` with ``AsyncAuditTrailClient``'s interface."""

    def __init__(self, client: AuditTrailClient) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if name == "query":
            return lambda *args, **kwargs: _async_iter(method(*args, **kwargs))

        async def call(*args: Any, **kwargs: Any) -> Any:
            return method(*args, **kwargs)

        return call

    async def aclose(self) -> None:
        self._client.close()


async def _async_iter(items: Iterator[Any]) -> AsyncIterator[Any]:
    for item in items:
        yield item


class Clients(Protocol):
    target: Target

    def token(self, scopes: Sequence[str] = ALL_SCOPES) -> str:
        """A token of this test's tenant."""

    def __call__(
        self,
        *,
        token: str | None = None,
        wrap: Callable[[httpx.BaseTransport, httpx.AsyncBaseTransport], Intercept] | None = None,
        **options: Any,
    ) -> AsyncAuditTrailClient: ...


@pytest.fixture(scope="session", params=list(TARGETS))
def target(
    request: pytest.FixtureRequest,
    keys: KeyPair,
    tokens: Tokens,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Target]:
    """One running service for the session; each test has a tenant of its own."""
    with TARGETS[request.param](keys, tokens, tmp_path_factory.mktemp(request.param)) as running:
        yield running


@pytest.fixture(params=["sync", "async"])
async def clients(request: pytest.FixtureRequest, target: Target) -> AsyncIterator[Clients]:
    """Makes clients of the target (closed after the test): ``token`` (default: every
    scope in tenant acme), ``wrap``: a transport around the target's, ``options``:
    the client's own."""
    made: list[Any] = []
    tenant = f"t-{uuid.uuid4().hex[:12]}"  # the service is shared: the tenant is not

    def make(
        *,
        token: str | None = None,
        wrap: Callable[[httpx.BaseTransport, httpx.AsyncBaseTransport], Intercept] | None = None,
        **options: Any,
    ) -> AsyncAuditTrailClient:
        options.setdefault("retries", FAST_RETRIES)
        bearer = token if token is not None else target.token(tenant)
        sync, asynchronous = target.transport, target.async_transport
        if wrap is not None:
            sync = asynchronous = wrap(sync, asynchronous)
        client: Any
        if request.param == "sync":
            client = Blocking(AuditTrailClient(target.base_url, bearer, transport=sync, **options))
        else:
            client = AsyncAuditTrailClient(
                target.base_url, bearer, transport=asynchronous, **options
            )
        made.append(client)
        return cast(AsyncAuditTrailClient, client)

    make.target = target  # type: ignore[attr-defined]
    make.token = lambda scopes=ALL_SCOPES: target.token(tenant, scopes)  # type: ignore[attr-defined]
    yield cast(Clients, make)
    for client in made:
        with contextlib.suppress(Exception):
            await client.aclose()


@pytest.fixture
def client(clients: Clients) -> AsyncAuditTrailClient:
    return clients()
