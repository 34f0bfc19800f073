"""What the client suite runs against: the Litestar and the Quart app in-process (on
a loop of their own, as the fake runs), and ``FakeAuditTrail``. Each is a ``Target``:
a base URL, tokens, and a sync and an async transport."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import httpx
from asgi_lifespan import LifespanManager

from audit_trail.client.testing import ALL_SCOPES, FakeAuditTrail, ThreadedApp
from audit_trail.entrypoints import litestar_app, quart_app
from tests.api.conftest import api_settings
from tests.api.tokens import KeyPair, Tokens


class Target(Protocol):
    base_url: str

    @property
    def transport(self) -> httpx.BaseTransport: ...

    @property
    def async_transport(self) -> httpx.AsyncBaseTransport: ...

    def token(self, tenant: str = "acme", scopes: Sequence[str] = ALL_SCOPES) -> str: ...


class InProcessApp:
    """One of the service's apps, with the API suite's settings and tokens."""

    base_url = "http://api"

    def __init__(self, running: ThreadedApp, tokens: Tokens) -> None:
        self._running = running
        self._tokens = tokens
        self.transport = running.transport
        self.async_transport = running.async_transport

    def token(self, tenant: str = "acme", scopes: Sequence[str] = ALL_SCOPES) -> str:
        return self._tokens.token(scopes, tenant=tenant)


@contextmanager
def in_process(
    create_app: Callable[..., Any], keys: KeyPair, tokens: Tokens, directory: Path
) -> Iterator[Target]:
    app = create_app(api_settings(keys, directory, storage="memory", cache="memory"))
    running = ThreadedApp(app, lambda: LifespanManager(app)).start()
    try:
        yield InProcessApp(running, tokens)
    finally:
        running.stop()


@contextmanager
def fake(keys: KeyPair, tokens: Tokens, directory: Path) -> Iterator[Target]:
    with FakeAuditTrail(max_batch_entries=20) as service:
        yield service


TARGETS: dict[str, Callable[[KeyPair, Tokens, Path], Any]] = {
    "litestar": lambda k, t, d: in_process(litestar_app.create_app, k, t, d),
    "quart": lambda k, t, d: in_process(quart_app.create_app, k, t, d),
    "fake": fake,
}
