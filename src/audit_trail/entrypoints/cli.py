"""The ``audit-trail`` command.

``audit-trail serve`` runs the HTTP service under uvicorn; ``audit-trail deliver``
delivers webhooks beside it; ``audit-trail token`` prints a signed token. Each
subcommand is one entry in ``SUBCOMMANDS``: a help line, a function that adds its
arguments and a function that runs it with the parsed arguments and the settings,
returning the exit status.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import uvicorn

from audit_trail.adapters.auth import KeyConfigError, load_or_create_dev_key, mint_token
from audit_trail.adapters.metrics.prometheus import share_between_workers
from audit_trail.entrypoints import asgi, deliver_cli, export_cli, verify_cli
from audit_trail.entrypoints.container import build_container, build_token_verifier, jwt_config
from audit_trail.entrypoints.logs import configure_logging
from audit_trail.entrypoints.settings import Settings, SettingsError, load_settings
from audit_trail.plugins import PluginSetupError
from audit_trail.plugins.manager import build_plugin_manager, describe_plugins, plugin_config

log = logging.getLogger(__name__)

APPS = {
    "litestar": "audit_trail.entrypoints.asgi:litestar_app",
    "quart": "audit_trail.entrypoints.asgi:quart_app",
}
DEFAULT_APP = "litestar"
DEFAULT_SCOPE = "audit:read audit:write"
USAGE_ERROR = 2


class CommandError(Exception):
    """Stops a subcommand with one line on stderr and exit status 2."""


@dataclass(frozen=True, slots=True)
class Subcommand:
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Settings], int]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(os.environ)
        return SUBCOMMANDS[args.command].run(args, settings)
    except (SettingsError, CommandError) as exc:
        print(f"audit-trail: {exc}", file=sys.stderr)
        return USAGE_ERROR


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="audit-trail", description="The audit-trail service.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, subcommand in SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=subcommand.help, description=subcommand.help)
        subcommand.add_arguments(sub)
    return parser


# --- serve ---


def _serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--app", choices=sorted(APPS), default=DEFAULT_APP)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=_positive_int, default=1)
    parser.add_argument(
        "--http",
        choices=["auto", *sorted(BOUNDED_PROTOCOLS)],
        default="auto",
        help="uvicorn's HTTP parser (auto: httptools when installed, else h11)",
    )


def serve(args: argparse.Namespace, settings: Settings) -> int:
    level = logging.getLevelNamesMapping()[settings.log_level.upper()]
    log_config = configure_logging(settings)
    dev_key = None if _has_jwt_key(settings) else _dev_key(settings)[1]
    _check_configuration(settings)
    if args.workers > 1:
        _share_state_between_workers(settings)
    if dev_key is not None:
        log.warning(
            "no JWT key is configured: using the development signing key in %s "
            "(never use it in production). Mint a token, from this directory, with: "
            'audit-trail token --sub you --tenant demo --scope "%s"',
            dev_key.resolve(),
            DEFAULT_SCOPE,
        )
    if settings.jwt_audience is None:
        log.warning(
            "AUDIT_JWT_AUDIENCE is not set: tokens with an aud claim are refused, "
            "since they are meant for the service they name; set it to this service's"
        )
    loop, http = _event_loop_and_parser(getattr(args, "http", "auto"))
    try:
        if args.workers > 1:  # workers build their own app: find import errors once, here
            _factory(args.app)()
        uvicorn.run(
            APPS[args.app],
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level=level,
            proxy_headers=False,  # the service applies AUDIT_TRUSTED_PROXIES itself
            log_config=log_config,  # applied again in each worker
            access_log=False,  # the service logs requests itself (audit_trail.access)
            loop=loop,
            http=BOUNDED_PROTOCOLS[http],
            # open streams (GET /stream) never end by themselves: past this, a stop
            # cancels them (each client resumes with Last-Event-ID)
            timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
            # bounds on connections (docs/operations.md, "Limits"): the protocols in
            # entrypoints/connections.py bound the head's size and the request's time
            limit_concurrency=settings.max_connections,
            backlog=settings.backlog,
            h11_max_incomplete_event_size=settings.max_header_bytes,
        )
    except ModuleNotFoundError as exc:
        if exc.name not in APPS:
            raise
        raise CommandError(
            f"the {args.app} app needs its extra: pip install 'audit-trail[{args.app}]'"
        ) from None
    return 0


def _event_loop_and_parser(
    choice: str = "auto",
) -> tuple[Literal["uvloop", "asyncio"], Literal["httptools", "h11"]]:
    """uvloop and httptools (``uvicorn[standard]``, installed with the service) when
    they can be imported, else asyncio and h11: uvicorn's own "auto" choice, made
    here so that the log says which one runs."""
    loop: Literal["uvloop", "asyncio"] = "uvloop" if _installed("uvloop") else "asyncio"
    http: Literal["httptools", "h11"] = "httptools" if _installed("httptools") else "h11"
    if choice in ("httptools", "h11"):
        http = "httptools" if choice == "httptools" else "h11"
    log.info("event loop: %s; HTTP parser: %s", loop, http)
    return loop, http


BOUNDED_PROTOCOLS = {
    "httptools": "audit_trail.entrypoints.connections:BoundedHttpToolsProtocol",
    "h11": "audit_trail.entrypoints.connections:BoundedH11Protocol",
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _check_configuration(settings: Settings) -> None:
    """Build what start-up builds from the settings alone (no storage or cache is
    opened), so a bad key or plugin setting stops here with one line rather than as
    a traceback in each worker's startup."""
    container = build_container(settings)
    try:
        container.jwt_verifier()
        container.cursors()
        container.processor()
    except PluginSetupError as exc:
        raise CommandError(str(exc)) from None


def _share_state_between_workers(settings: Settings) -> None:
    """Several worker processes must share what they store and what they invalidate.

    In-memory storage cannot be shared: refused. The in-process cache cannot be
    invalidated from another worker, so a reader could get a page older than a write
    another worker acknowledged: the workers run without a cache instead. Metrics
    go to files in a directory they share, summed at each scrape."""
    share_between_workers()
    if settings.storage == "memory":
        raise CommandError(
            "AUDIT_STORAGE: memory storage cannot be shared by several workers; "
            "use sqlite or mongo, or --workers 1"
        )
    if settings.cache == "memory":
        log.warning(
            "AUDIT_CACHE=memory is per process and cannot be invalidated across %s; "
            "the workers run without a query cache (set AUDIT_CACHE=redis to share one)",
            "workers",
        )
        os.environ["AUDIT_CACHE"] = "none"  # the workers read their settings from here


def _factory(app: str) -> Callable[[], object]:
    factory: Callable[[], object] = getattr(asgi, APPS[app].rpartition(":")[2])
    return factory


# --- token ---


def _token_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sub", required=True, help="the subject (who the token is for)")
    parser.add_argument("--tenant", help="the tenant (default: AUDIT_DEFAULT_TENANT)")
    parser.add_argument(
        "--scope",
        action="append",
        help=f'space-separated scopes, repeatable (default: "{DEFAULT_SCOPE}")',
    )
    parser.add_argument("--ttl", type=_positive_int, default=3600, help="lifetime in seconds")


def token(args: argparse.Namespace, settings: Settings) -> int:
    tenant = args.tenant or settings.default_tenant
    if not tenant:
        raise CommandError("--tenant is required (no AUDIT_DEFAULT_TENANT is set)")
    if settings.jwt_secret is None and _has_jwt_key(settings):
        raise CommandError(
            "cannot sign tokens: the service verifies them with a public key "
            "(AUDIT_JWT_PUBLIC_KEY or AUDIT_JWT_JWKS_FILE); mint them with the private key"
        )
    if settings.jwt_secret is None:
        _dev_key(settings)
    config = jwt_config(settings)  # the service's own view of the key, so a secret
    build_token_verifier(config, settings)  # it would refuse is refused here too
    assert config.secret is not None
    algorithm = next((a for a in config.algorithms if a.startswith("HS")), "HS256")
    scopes = [scope for group in args.scope or [DEFAULT_SCOPE] for scope in group.split()]
    minted = mint_token(
        key=config.secret,
        algorithm=algorithm,
        subject=args.sub,
        tenant=tenant,
        scopes=scopes,
        ttl_seconds=args.ttl,
        tenant_claim=settings.tenant_claim,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    print(minted)
    return 0


# --- plugins ---


def plugins(args: argparse.Namespace, settings: Settings) -> int:
    """One line per plugin: its name, its distribution, the hooks it implements."""
    try:
        manager = build_plugin_manager(settings.plugins, plugin_config(settings))
    except PluginSetupError as exc:
        raise CommandError(str(exc)) from None
    for info in describe_plugins(manager):
        origin = f" ({info.dist} {info.version})" if info.dist else ""
        print(f"{info.name}{origin}: {', '.join(info.hooks) or '-'}")
    return 0


# --- shared ---


def _has_jwt_key(settings: Settings) -> bool:
    keys = (settings.jwt_secret, settings.jwt_public_key, settings.jwt_jwks_file)
    return any(key is not None for key in keys)


def _dev_key(settings: Settings) -> tuple[str, Path]:
    path = settings.dev_key_file
    try:
        return load_or_create_dev_key(path), path
    except (OSError, KeyConfigError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise CommandError(f"AUDIT_DEV_KEY_FILE: cannot use {path}: {reason}") from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {value}")
    return value


SUBCOMMANDS: dict[str, Subcommand] = {
    "serve": Subcommand("run the HTTP service under uvicorn", _serve_arguments, serve),
    "deliver": Subcommand(
        deliver_cli.DELIVER_HELP, deliver_cli.deliver_arguments, deliver_cli.deliver
    ),
    "token": Subcommand("print a signed bearer token", _token_arguments, token),
    "plugins": Subcommand("list the plugins and their hooks", lambda parser: None, plugins),
    "verify": Subcommand(verify_cli.VERIFY_HELP, verify_cli.verify_arguments, verify_cli.verify),
    "export": Subcommand(export_cli.EXPORT_HELP, export_cli.export_arguments, export_cli.export),
    "log-key": Subcommand(
        verify_cli.LOG_KEY_HELP, verify_cli.log_key_arguments, verify_cli.log_key
    ),
}
