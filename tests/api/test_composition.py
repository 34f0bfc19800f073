"""The composition root: what the settings select, and when things are built."""

from __future__ import annotations

import inspect
import stat
from pathlib import Path

import pytest

from audit_trail.adapters.auth.minting import mint_token
from audit_trail.adapters.cache.none import NoQueryCache
from audit_trail.adapters.storage.memory import InMemoryEntryRepository
from audit_trail.entrypoints.container import build_container, start, stop
from audit_trail.entrypoints.settings import Settings, SettingsError
from tests.api.client import BASE, entry
from tests.api.conftest import FRAMEWORKS, Serve
from tests.api.tokens import ALL_SCOPES, bearer


async def provided(value: object) -> object:
    """A provider's value (providers that depend on async resources give awaitables)."""
    return await value if inspect.isawaitable(value) else value


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_with_no_key_and_sqlite_the_dev_key_signs_and_entries_persist(
    serve: Serve, tmp_path: Path, framework: str
) -> None:
    settings = Settings(
        sqlite_path=tmp_path / "audit.db",
        dev_key_file=tmp_path / "keys" / "dev-signing-key",
        cache="none",
    )
    client = await serve(framework, settings)
    key_file = settings.dev_key_file
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    token = mint_token(
        key=key_file.read_text().strip(),
        subject="dev",
        tenant="local",
        scopes=ALL_SCOPES,
        ttl_seconds=60,
    )
    created = await client.post(f"{BASE}/entries", json=entry(), headers=bearer(token))
    assert created.status_code == 201
    for _ in range(2):
        await client.post(f"{BASE}/entries", json=entry(), headers=bearer(token))
    page = await client.get(f"{BASE}/entries?limit=2", headers=bearer(token))
    cursor = page.json()["next_cursor"]
    assert cursor is not None  # a cursor secret was derived from the dev key
    restarted = await serve(framework, settings)
    again = await restarted.get(f"{BASE}/entries/{created.json()['id']}", headers=bearer(token))
    assert again.json() == created.json()
    rest = await restarted.get(f"{BASE}/entries?limit=2&cursor={cursor}", headers=bearer(token))
    assert len(rest.json()["items"]) == 1


def test_building_a_container_opens_and_creates_nothing(tmp_path: Path) -> None:
    settings = Settings(sqlite_path=tmp_path / "audit.db", dev_key_file=tmp_path / "key")
    build_container(settings)
    assert list(tmp_path.iterdir()) == []


async def test_the_settings_select_the_adapters(tmp_path: Path) -> None:
    settings = Settings(storage="memory", cache="none", dev_key_file=tmp_path / "key")
    container = build_container(settings)
    await start(container)
    try:
        assert isinstance(await provided(container.repository()), InMemoryEntryRepository)
        assert isinstance(await provided(container.cache()), NoQueryCache)
    finally:
        await stop(container)


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        ({"jwt_secret": "too short"}, "AUDIT_JWT_SECRET"),
        ({"jwt_public_key": "-----BEGIN PUBLIC KEY-----\nnope"}, "AUDIT_JWT_PUBLIC_KEY"),
        ({"jwt_secret": "s" * 32, "cursor_secret": "short"}, "AUDIT_CURSOR_SECRET"),
    ],
)
async def test_an_unusable_key_stops_start_up_naming_the_setting(
    tmp_path: Path, overrides: dict[str, str], setting: str
) -> None:
    settings = Settings(storage="memory", dev_key_file=tmp_path / "key", **overrides)  # type: ignore[arg-type]
    container = build_container(settings)
    with pytest.raises(SettingsError, match=setting):
        await start(container)
