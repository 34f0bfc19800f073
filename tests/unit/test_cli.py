"""The ``audit-trail`` command, run in-process, and the development key file."""

from __future__ import annotations

import logging
import os
import stat
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit_trail.adapters.auth import JwtConfig, PyJWTTokenVerifier, load_or_create_dev_key
from audit_trail.core.principal import Principal
from audit_trail.entrypoints import cli
from audit_trail.entrypoints.cli import main

SECRET = "a-configured-secret-of-at-least-32-bytes"
TOKEN_ARGS = ["token", "--sub", "alice", "--tenant", "acme"]


@pytest.fixture
def dev_key_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A clean AUDIT_* environment whose development key lives under ``tmp_path``.

    The environment is put back whole afterwards: ``serve --workers N`` sets variables
    for its workers (``AUDIT_CACHE``, ``PROMETHEUS_MULTIPROC_DIR``) that would otherwise
    leak into every later test of the session."""
    before = dict(os.environ)
    for name in list(os.environ):
        if name.startswith("AUDIT_") or name == "PROMETHEUS_MULTIPROC_DIR":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "keys" / "dev-signing-key"
    monkeypatch.setenv("AUDIT_DEV_KEY_FILE", str(path))
    yield path
    os.environ.clear()
    os.environ.update(before)


def run_ok(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    return out.strip()


def run_failing(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The one stderr line of a command that must exit with status 2."""
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def verify(token: str, secret: str, **config: Any) -> Principal:
    return PyJWTTokenVerifier(JwtConfig(secret=secret, **config)).verify(token)


# --- token with the development key ---


def test_token_is_signed_with_a_new_dev_key(
    dev_key_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = run_ok([*TOKEN_ARGS, "--scope", "audit:read audit:write"], capsys)
    assert stat.S_IMODE(dev_key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(dev_key_path.parent.stat().st_mode) == 0o700
    principal = verify(token, dev_key_path.read_text().strip())
    assert principal == Principal("alice", "acme", frozenset({"audit:read", "audit:write"}))


def test_dev_key_is_reused(dev_key_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = run_ok(TOKEN_ARGS, capsys)
    key = dev_key_path.read_text()
    second = run_ok(TOKEN_ARGS, capsys)
    assert dev_key_path.read_text() == key
    assert verify(first, key.strip()).subject == verify(second, key.strip()).subject == "alice"


def test_scopes_default_and_repeat(dev_key_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    default = run_ok(TOKEN_ARGS, capsys)
    repeated = run_ok([*TOKEN_ARGS, "--scope", "audit:admin", "--scope", "audit:read"], capsys)
    key = load_or_create_dev_key(dev_key_path)
    assert verify(default, key).scopes == {"audit:read", "audit:write"}
    assert verify(repeated, key).scopes == {"audit:admin", "audit:read"}


def test_ttl_sets_the_lifetime(dev_key_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    token = run_ok([*TOKEN_ARGS, "--ttl", "90"], capsys)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 90


@pytest.mark.parametrize("ttl", ["0", "-5", "soon"])
def test_bad_ttl_is_a_usage_error(
    dev_key_path: Path, capsys: pytest.CaptureFixture[str], ttl: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*TOKEN_ARGS, "--ttl", ttl])
    assert exit_info.value.code == 2
    assert "--ttl" in capsys.readouterr().err


# --- token with configured settings ---


def test_configured_secret_issuer_audience_and_tenant_claim(
    dev_key_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDIT_JWT_SECRET", SECRET)
    monkeypatch.setenv("AUDIT_JWT_ISSUER", "https://issuer.example")
    monkeypatch.setenv("AUDIT_JWT_AUDIENCE", "audit-trail")
    monkeypatch.setenv("AUDIT_TENANT_CLAIM", "org")
    token = run_ok(TOKEN_ARGS, capsys)
    principal = verify(
        token, SECRET, issuer="https://issuer.example", audience="audit-trail", tenant_claim="org"
    )
    assert (principal.subject, principal.tenant) == ("alice", "acme")
    assert not dev_key_path.exists()


def test_configured_hmac_algorithm_is_used(
    dev_key_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDIT_JWT_SECRET", SECRET * 2)
    monkeypatch.setenv("AUDIT_JWT_ALGORITHMS", "HS512")
    token = run_ok(TOKEN_ARGS, capsys)
    assert jwt.get_unverified_header(token)["alg"] == "HS512"
    assert verify(token, SECRET * 2, algorithms=("HS512",)).tenant == "acme"


def test_default_tenant_stands_in_for_tenant(
    dev_key_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    line = run_failing(["token", "--sub", "alice"], capsys)
    assert "--tenant" in line
    monkeypatch.setenv("AUDIT_DEFAULT_TENANT", "solo")
    token = run_ok(["token", "--sub", "alice"], capsys)
    assert verify(token, load_or_create_dev_key(dev_key_path)).tenant == "solo"


def test_public_key_only_cannot_sign(
    dev_key_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    monkeypatch.setenv("AUDIT_JWT_PUBLIC_KEY", pem)
    line = run_failing(TOKEN_ARGS, capsys)
    assert "cannot sign" in line
    assert "AUDIT_JWT_PUBLIC_KEY" in line
    assert not dev_key_path.exists()


def test_short_secret_is_refused(
    dev_key_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDIT_JWT_SECRET", "short")
    line = run_failing(TOKEN_ARGS, capsys)
    assert line.startswith("audit-trail: AUDIT_JWT_SECRET:")
    assert "short" not in line.removeprefix("audit-trail: AUDIT_JWT_SECRET:")


@pytest.mark.parametrize("command", [TOKEN_ARGS, ["serve", "--port", "1"]])
@pytest.mark.parametrize(
    "setting",
    [
        "AUDIT_JWT_LEEWAY_SECONDS=-1",
        "AUDIT_STORAGE=floppy",
        "AUDIT_LOG_LEVEL=loud",
        "AUDIT_JWT_SECRET=short",
        "AUDIT_JWT_ALGORITHMS=none",
    ],
)
def test_bad_setting_exits_2_with_one_line(
    dev_key_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
    setting: str,
) -> None:
    variable, _, value = setting.partition("=")
    monkeypatch.setenv(variable, value)
    line = run_failing(command, capsys)
    assert line.startswith(f"audit-trail: {variable}:")


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ("AUDIT_JWT_PUBLIC_KEY=not a key", "AUDIT_JWT_PUBLIC_KEY"),
        ("AUDIT_JWT_JWKS_FILE=/nonexistent/jwks.json", "AUDIT_JWT_JWKS_FILE"),
        ("AUDIT_PLUGINS=no_such_plugin_module", "no_such_plugin_module"),
    ],
)
def test_serve_checks_keys_and_plugins_before_starting(
    dev_key_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
    named: str,
) -> None:
    variable, _, value = setting.partition("=")
    monkeypatch.setenv(variable, value)
    line = run_failing(["serve", "--port", "1"], capsys)
    assert line.startswith("audit-trail: ")
    assert named in line


def test_several_workers_refuse_memory_storage(
    dev_key_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDIT_STORAGE", "memory")
    line = run_failing(["serve", "--port", "1", "--workers", "2"], capsys)
    assert line.startswith("audit-trail: AUDIT_STORAGE:")


def test_several_workers_share_no_in_process_cache(
    dev_key_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    started: list[dict[str, object]] = []

    def fake_run(app: str, **options: object) -> None:
        started.append({"app": app, "cache": os.environ.get("AUDIT_CACHE"), **options})

    monkeypatch.setenv("AUDIT_CACHE", "memory")
    monkeypatch.setattr(uvicorn, "run", fake_run)
    assert cli.main(["serve", "--port", "1", "--workers", "2"]) == 0
    assert started == [
        {
            "app": cli.APPS[cli.DEFAULT_APP],
            "cache": "none",
            "factory": True,
            "host": "127.0.0.1",
            "port": 1,
            "workers": 2,
            "log_level": logging.INFO,
            "proxy_headers": False,
            "log_config": started[0]["log_config"],
            "access_log": False,
            "loop": "uvloop",
            "http": cli.BOUNDED_PROTOCOLS["httptools"],
            "timeout_graceful_shutdown": 5,
            "limit_concurrency": None,
            "backlog": 2048,
            "h11_max_incomplete_event_size": 8192,
        }
    ]
    assert "without a query cache" in capsys.readouterr().err  # serve configures logging


def test_unusable_dev_key_location_exits_2(
    dev_key_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = dev_key_path.parent.parent / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("AUDIT_DEV_KEY_FILE", str(blocker / "dev-key"))
    line = run_failing(TOKEN_ARGS, capsys)
    assert line.startswith("audit-trail: AUDIT_DEV_KEY_FILE:")


# --- the development key file ---


def test_dev_key_is_random_private_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "key"
    key = load_or_create_dev_key(path)
    assert len(key) >= 43  # 32 random bytes, URL-safe base64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_dev_key(path) == key
    assert load_or_create_dev_key(tmp_path / "other") != key
    assert sorted(p.name for p in path.parent.iterdir()) == ["key"]  # no temporary left


def test_dev_key_readable_by_others_is_tightened(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "key"
    key = load_or_create_dev_key(path)
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        assert load_or_create_dev_key(path) == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert any("readable by others" in r.getMessage() for r in caplog.records)


def test_concurrent_first_use_agrees_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "race" / "key"
    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = set(pool.map(lambda _: load_or_create_dev_key(path), range(16)))
    assert keys == {path.read_text().strip()}


def _serve_options(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    started: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: started.append(options))
    assert cli.main(["serve", "--port", "1"]) == 0
    (options,) = started
    return options


def _request_log_level(options: dict[str, object]) -> object:
    config = options["log_config"]
    assert isinstance(config, dict)
    return config["loggers"]["audit_trail.access"]["level"]


def test_serve_logs_requests_itself_when_json_or_asked(
    dev_key_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDIT_LOG_FORMAT", "text")
    assert _serve_options(monkeypatch)["access_log"] is False  # never uvicorn's own
    assert _request_log_level(_serve_options(monkeypatch)) == "WARNING"
    monkeypatch.setenv("AUDIT_ACCESS_LOG", "true")
    assert _request_log_level(_serve_options(monkeypatch)) == "NOTSET"
    monkeypatch.setenv("AUDIT_LOG_FORMAT", "json")
    monkeypatch.delenv("AUDIT_ACCESS_LOG")
    assert _request_log_level(_serve_options(monkeypatch)) == "NOTSET"
    monkeypatch.setenv("AUDIT_ACCESS_LOG", "false")
    assert _request_log_level(_serve_options(monkeypatch)) == "WARNING"


def test_uvicorns_log_level_follows_the_setting(
    dev_key_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDIT_LOG_LEVEL", "warning")
    assert _serve_options(monkeypatch)["log_level"] == logging.WARNING


def test_serve_runs_on_uvloop_and_httptools_when_installed(
    dev_key_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = _serve_options(monkeypatch)
    assert (options["loop"], options["http"]) == ("uvloop", cli.BOUNDED_PROTOCOLS["httptools"])
    for module in ("uvloop", "httptools"):
        monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    options = _serve_options(monkeypatch)
    assert (options["loop"], options["http"]) == ("asyncio", cli.BOUNDED_PROTOCOLS["h11"])


def test_serve_bounds_connections_as_the_settings_say(
    dev_key_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDIT_MAX_CONNECTIONS", "300")
    monkeypatch.setenv("AUDIT_BACKLOG", "64")
    monkeypatch.setenv("AUDIT_MAX_HEADER_BYTES", "4096")
    options = _serve_options(monkeypatch)
    assert options["limit_concurrency"] == 300
    assert options["backlog"] == 64
    assert options["h11_max_incomplete_event_size"] == 4096
