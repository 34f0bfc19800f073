"""``FakeAuditTrail``: the real service (the Litestar app, in-memory storage and
cache, a throwaway signing key) in-process, for users' own tests. It is not a second
implementation of the API: what it answers is what the service answers."""

from __future__ import annotations

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
    ``httpx.AsyncClient`` (``AsyncAuditTrailClient``) on any event loop. ``settings``:
    Settings fields to change (``max_batch_entries=5``...)."""

    base_url = BASE_URL

    def __init__(self, **settings: Any) -> None:
        self._overrides = settings
        self._secret = secrets.token_urlsafe(32)
        self._directory: tempfile.TemporaryDirectory[str] | None = None
        self._app: ThreadedApp | None = None

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
        return self._running().async_transport

    def _running(self) -> ThreadedApp:
        if self._app is None:
            raise RuntimeError("FakeAuditTrail is not running: use it in a with block")
        return self._app

    def __enter__(self) -> FakeAuditTrail:
        self._directory = tempfile.TemporaryDirectory(prefix="fake-audit-trail-")
        app = create_app(self.settings(Path(self._directory.name)))
        try:
            self._app = ThreadedApp(app, app.lifespan).start()
        except BaseException:
            self._directory.cleanup()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self._app is not None:
                self._app.stop()
        finally:
            self._app = None
            if self._directory is not None:
                self._directory.cleanup()
                self._directory = None
