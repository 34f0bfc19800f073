"""Settings: ``AUDIT_*`` environment variables over an optional TOML file over defaults.

``AUDIT_CONFIG_FILE`` names the TOML file; its keys are the field names below
(``storage = "mongo"``). Environment variables win over the file. A bad value stops
start-up with one ``SettingsError`` line that names the setting.
"""

from __future__ import annotations

import logging
import math
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

from audit_trail.core.retention.policy import MAX_RETENTION_DAYS

log = logging.getLogger(__name__)

ENV_PREFIX = "AUDIT_"
CONFIG_FILE_VARIABLE = "AUDIT_CONFIG_FILE"
MIB = 1024 * 1024


class SettingsError(ValueError):
    """A setting has a value the service cannot run with; the message names it."""


@dataclass(frozen=True, slots=True)
class Settings:
    # storage
    storage: Literal["sqlite", "memory", "mongo"] = "sqlite"
    sqlite_path: Path = Path("audit-trail.db")
    mongo_uri: str = "mongodb://127.0.0.1:27017"
    mongo_database: str = "audit_trail"
    mongo_write_concern: str = "majority"  # "majority" or a number of nodes
    mongo_journal: bool = True
    mongo_timeout_ms: int = 2000
    # query cache
    cache: Literal["memory", "redis", "none"] = "memory"
    cache_ttl_seconds: int = 60
    cache_max_entries: int = 10_000
    cache_max_bytes: int = 64 * MIB
    cache_max_page_bytes: int = 1 * MIB
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_timeout_ms: int = 50
    redis_key_prefix: str = "audit-trail"
    redis_breaker_seconds: float = 5.0
    redis_invalidate_timeout_ms: int = 5000  # how long a write waits for its invalidation
    redis_tenant_max_bytes: int = 64 * MIB  # what one tenant's pages may take in Redis
    # auth
    jwt_secret: str | None = None
    jwt_public_key: str | None = None  # PEM text
    jwt_jwks_file: Path | None = None
    jwt_algorithms: tuple[str, ...] = ()  # empty: chosen by the kind of key
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_leeway_seconds: int = 30
    tenant_claim: str = "tenant"
    default_tenant: str | None = None
    dev_key_file: Path = Path(".audit-trail/dev-signing-key")
    cursor_secret: str | None = None  # default: derived from the signing key
    token_cache_size: int = 10_000  # verified tokens remembered; 0: verify every request
    # HTTP
    max_body_bytes: int = 1 * MIB
    max_batch_entries: int = 1000
    max_query_parameters: int = 100  # name=value pairs in a query string; past it: 422
    # connection bounds (docs/operations.md, "Limits")
    max_header_bytes: int = 8 * 1024  # request line and header fields; past it: 431
    header_timeout_seconds: float = 10.0  # from a request's first byte to its last header
    request_timeout_seconds: float = 60.0  # from a request's first byte to its body's end
    max_connections: int | None = None  # open connections per worker; past it: 503
    backlog: int = 2048  # connections the kernel queues before the service accepts them
    export_page_size: int = 500  # entries per storage read of GET /entries/export
    trusted_proxies: tuple[str, ...] = ()  # addresses or CIDR ranges
    cors_origins: tuple[str, ...] = ()  # exact origins that may call the API from a browser
    # rate limits per tenant (docs/operations.md, "Rate limits"); None: unlimited
    rate_limit_writes_per_second: float | None = None
    rate_limit_writes_burst: float | None = None  # default: twice the rate
    rate_limit_reads_per_second: float | None = None
    rate_limit_reads_burst: float | None = None  # default: twice the rate
    rate_limit_store: Literal["auto", "memory", "redis"] = "auto"  # auto: redis if AUDIT_CACHE is
    idempotency_ttl_seconds: int = 86_400  # how long an Idempotency-Key's outcome is kept
    idempotency_lease_seconds: float = 30.0  # a keyed request in flight holds its key this long
    # the change stream (GET /stream)
    stream_poll_seconds: float = 0.2  # how often a stream reads the log's size when idle
    stream_heartbeat_seconds: float = 15.0  # a comment at least this often
    stream_max_lag: int = 10_000  # changes a consumer may fall behind before it is cut off
    # background delivery: webhooks and sinks (docs/streaming.md, "Processes")
    deliver: bool = True  # false: this process neither; `audit-trail deliver` does it
    # webhooks (docs/streaming.md, "Webhooks")
    webhook_poll_seconds: float = 0.2  # how often subscriptions and the log are looked at
    webhook_timeout_seconds: float = 5.0  # a receiver that takes longer: a failed attempt
    webhook_backoff_seconds: float = 1.0  # the wait after a first failure, doubled after each
    webhook_backoff_max_seconds: float = 300.0  # the longest wait between two attempts
    webhook_max_failures: int = 8  # consecutive failures before a subscription is dead
    webhook_lease_seconds: float = 30.0  # a process delivering a subscription holds it so long
    webhook_allow_private: bool = False  # allow receivers at private or loopback addresses
    # sinks: plugins' audit_forward_changes (docs/plugins.md)
    sink_poll_seconds: float = 0.2  # how often the forwarder looks at the logs when idle
    sink_backoff_seconds: float = 1.0  # the wait after a sink's first failure, doubled after each
    sink_backoff_max_seconds: float = 60.0  # the longest wait between two attempts
    sink_lease_seconds: float = 30.0  # a process forwarding a (sink, tenant) holds it so long
    syslog_url: str | None = None  # tcp://host:port: the built-in syslog sink ships there
    syslog_facility: str = "local0"  # the syslog sink's facility
    # plugins
    plugins: tuple[str, ...] = ()  # "package.module" to enable, "-name" to disable
    pii_fields: tuple[str, ...] = ()  # extra metadata paths to mask whole
    pii_patterns: tuple[str, ...] = ()  # extra regular expressions to mask
    # tenant log
    log_signing_key_file: Path | None = None  # Ed25519, PEM; default: beside dev_key_file
    log_origin: str | None = None  # default: derived from the host name
    max_pending_writes: int = 20_000  # leaves waiting for storage; past it: 503
    query_index_on_write: bool = False  # on: each group commit integrates the query index
    query_index_delay_seconds: float = 1.0  # off: integrated this long after writes; 0: on proof
    # retention (docs/lifecycle.md, "Retention and legal holds")
    retention_days: float | None = None  # default retention of every tenant; None: forever
    retention_sweep_seconds: float = 3600.0  # between two sweeps; 0: no background sweeper
    retention_batch: int = 500  # entries purged per commit
    # operations (docs/operations.md)
    metrics_max_tenants: int = 50  # tenants with their own metric labels; the rest: "_other"
    ready_timeout_seconds: float = 1.0  # GET /ready: each dependency must answer within this
    # process
    log_level: str = "INFO"  # also uvicorn's
    log_format: Literal["json", "text"] | None = None  # None: text on a terminal, else json
    access_log: bool | None = None  # one INFO line per request; None: on with json logs
    shutdown_timeout_seconds: int = 5  # how long a stop waits for open requests (streams)

    def __post_init__(self) -> None:
        for name in (
            "mongo_timeout_ms",
            "cache_ttl_seconds",
            "cache_max_entries",
            "cache_max_bytes",
            "cache_max_page_bytes",
            "redis_timeout_ms",
            "redis_invalidate_timeout_ms",
            "redis_tenant_max_bytes",
            "max_body_bytes",
            "max_batch_entries",
            "max_header_bytes",
            "max_query_parameters",
            "header_timeout_seconds",
            "request_timeout_seconds",
            "backlog",
            "export_page_size",
            "max_pending_writes",
            "ready_timeout_seconds",
            "idempotency_ttl_seconds",
            "idempotency_lease_seconds",
            "stream_poll_seconds",
            "stream_heartbeat_seconds",
            "stream_max_lag",
            "shutdown_timeout_seconds",
            "retention_batch",
            "webhook_poll_seconds",
            "webhook_timeout_seconds",
            "webhook_backoff_seconds",
            "webhook_backoff_max_seconds",
            "webhook_max_failures",
            "webhook_lease_seconds",
            "sink_poll_seconds",
            "sink_backoff_seconds",
            "sink_backoff_max_seconds",
            "sink_lease_seconds",
        ):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{_env_name(name)}: must be a positive number")
        for name in (
            "jwt_leeway_seconds",
            "token_cache_size",
            "metrics_max_tenants",
            "query_index_delay_seconds",
            "retention_sweep_seconds",
        ):
            if getattr(self, name) < 0:
                raise SettingsError(f"{_env_name(name)}: must not be negative")
        if self.max_connections is not None and self.max_connections <= 0:
            raise SettingsError("AUDIT_MAX_CONNECTIONS: must be a positive number")
        days = self.retention_days
        if days is not None and not (math.isfinite(days) and 0 < days <= MAX_RETENTION_DAYS):
            raise SettingsError(
                "AUDIT_RETENTION_DAYS: must be a positive number of days"
                f" up to {MAX_RETENTION_DAYS}"
            )
        _check_rate_limits(self)
        if self.log_level.upper() not in logging.getLevelNamesMapping():
            raise SettingsError(f"AUDIT_LOG_LEVEL: unknown level {self.log_level!r}")


def _check_rate_limits(settings: Settings) -> None:
    for kind in ("writes", "reads"):
        rate = getattr(settings, f"rate_limit_{kind}_per_second")
        burst = getattr(settings, f"rate_limit_{kind}_burst")
        if rate is not None and not (math.isfinite(rate) and rate > 0):
            raise SettingsError(f"AUDIT_RATE_LIMIT_{kind.upper()}_PER_SECOND: must be positive")
        if burst is not None and not (math.isfinite(burst) and burst >= 1):
            raise SettingsError(f"AUDIT_RATE_LIMIT_{kind.upper()}_BURST: must be at least 1")
        if burst is not None and rate is None:
            raise SettingsError(
                f"AUDIT_RATE_LIMIT_{kind.upper()}_BURST: needs"
                f" AUDIT_RATE_LIMIT_{kind.upper()}_PER_SECOND"
            )


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Settings from ``environ`` (usually ``os.environ``) and the TOML file it names."""
    values: dict[str, Any] = {}
    config_file = environ.get(CONFIG_FILE_VARIABLE)
    if config_file:
        values.update(_read_toml(Path(config_file)))
    known = {f.name: f for f in fields(Settings)}
    for variable, raw in environ.items():
        if not variable.startswith(ENV_PREFIX) or variable == CONFIG_FILE_VARIABLE:
            continue
        name = variable[len(ENV_PREFIX) :].lower()
        if name not in known:
            log.warning("ignoring unknown setting %s", variable)
            continue
        values[name] = raw
    hints = typing.get_type_hints(Settings)
    converted = {name: _convert(name, hints[name], value) for name, value in values.items()}
    return Settings(**converted)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except OSError as exc:
        raise SettingsError(f"{CONFIG_FILE_VARIABLE}: cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{CONFIG_FILE_VARIABLE}: {path} is not valid TOML: {exc}") from None
    known = {f.name for f in fields(Settings)}
    for key in data:
        if key not in known:
            raise SettingsError(f"{CONFIG_FILE_VARIABLE}: unknown setting {key!r} in {path}")
    return data


def _env_name(name: str) -> str:
    return ENV_PREFIX + name.upper()


def _convert(name: str, hint: Any, value: Any) -> Any:
    """``value`` (a string from the environment, or a TOML value) as type ``hint``."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):  # X | None
        if value is None or value == "":
            return None
        (hint,) = [arg for arg in args if arg is not type(None)]
        return _convert(name, hint, value)
    if origin is Literal:
        if value not in args:
            choices = " | ".join(str(a) for a in args)
            raise SettingsError(f"{_env_name(name)}: must be one of {choices}, not {value!r}")
        return value
    if origin is tuple:
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise SettingsError(f"{_env_name(name)}: must be a comma-separated list")
    try:
        if hint is bool:
            return _boolean(value)
        if hint in (int, float) and isinstance(value, bool):
            raise ValueError
        return hint(value)
    except (TypeError, ValueError):
        kind = {int: "an integer", float: "a number", bool: "true or false"}.get(hint, "text")
        raise SettingsError(f"{_env_name(name)}: must be {kind}, not {value!r}") from None


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(value)
