"""``FakeAuditTrail``: the real service (the Litestar app, in-memory storage and
cache, a throwaway signing key) in-process, for users' own tests. It is not a second
implementation of the API: what it answers is what the service answers."""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from audit_trail.adapters.auth.minting import mint_token
from audit_trail.client.testing.threaded import ThreadedApp
from audit_trail.entrypoints.litestar_app import create_app
from audit_trail.entrypoints.settings import Settings

ALL_SCOPES = ("audit:read", "audit:write", "audit:admin", "audit:erase")
BASE_URL = "http://audit-trail.test"


class FakeAuditTrail:
    """An in-memory audit-trail service, fresh and empty for each ``with`` block::

        with FakeAuditTrail() as fake:
            client = AuditTrailClient(
                fake.base_url, fake.token(tenant="acme"), transport=fake.transport
            )

    ``transport`` serves ``httpx.Client`` (``AuditTrailClient``), ``async_transport``
    ``httpx.AsyncClient`` (``AsyncAuditTrailClient``) on any event loop. ``async with``
    runs the app on the current loop instead, and ``async_transport`` is then a plain
    ``httpx.ASGITransport`` (there is no sync ``transport``: it would block that loop).
    ``settings``: Settings fields to change (``max_batch_entries=5``...)."""

    base_url = BASE_URL

    def __init__(self, **settings: Any) -> None:
        self._overrides = settings
        self._secret = secrets.token_urlsafe(32)
        self._directory: tempfile.TemporaryDirectory[str] | None = None
        self._app: ThreadedApp | None = None
        self._here: httpx.ASGITransport | None = None  # under ``async with``
        self._stack = contextlib.AsyncExitStack()

    def settings(self, directory: Path) -> Settings:
        base = Settings(
            storage="memory",
            cache="memory",
            jwt_secret=self._secret,
            dev_key_file=directory / "dev-signing-key",
            log_signing_key_file=directory / "log-signing-key",
            log_origin="audit-trail.test",
        )
        return dataclasses.replace(base, **self._overrides)

    def token(
        self,
        tenant: str = "acme",
        scopes: Sequence[str] = ALL_SCOPES,
        *,
        subject: str = "test-user",
        ttl_seconds: int = 3600,
    ) -> str:
        """A token the fake accepts, for ``subject`` in ``tenant`` with ``scopes``."""
        return mint_token(
            key=self._secret,
            subject=subject,
            tenant=tenant,
            scopes=scopes,
            ttl_seconds=ttl_seconds,
        )

    @property
    def transport(self) -> httpx.BaseTransport:
        return self._running().transport

    @property
    def async_transport(self) -> httpx.AsyncBaseTransport:
        if self._here is not None:
            return self._here
        return self._running().async_transport

    def _running(self) -> ThreadedApp:
        if self._app is None:
            raise RuntimeError(
                "FakeAuditTrail is not running in a thread: use it in a with block"
                " (under async with, only async_transport serves)"
            )
        return self._app

    def _create_app(self) -> Any:  # the Litestar app (typed more narrowly than httpx asks)
        self._directory = tempfile.TemporaryDirectory(prefix="fake-audit-trail-")
        return create_app(self.settings(Path(self._directory.name)))

    def _cleanup(self) -> None:
        if self._directory is not None:
            self._directory.cleanup()
            self._directory = None

    async def __aenter__(self) -> FakeAuditTrail:
        app = self._create_app()
        try:
            await self._stack.enter_async_context(app.lifespan())
        except BaseException:
            self._cleanup()
            raise
        self._here = httpx.ASGITransport(app=app)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self._stack.aclose()
        finally:
            self._here = None
            self._cleanup()

    def __enter__(self) -> FakeAuditTrail:
        app = self._create_app()
        try:
            self._app = ThreadedApp(app, app.lifespan).start()
        except BaseException:
            self._cleanup()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self._app is not None:
                self._app.stop()
        finally:
            self._app = None
            self._cleanup()
