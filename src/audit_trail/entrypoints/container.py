"""The composition root: every adapter, use case and the HTTP layer, wired from Settings.

Nothing is built at import time. ``build_container(settings)`` makes a container;
the app's startup awaits ``start`` (``init_resources()``, opening storage and cache,
then ``http_api`` resolved once and kept by the app); its shutdown awaits ``stop``.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import logging
import socket
import time
from pathlib import Path
from typing import Any

import pluggy
from dependency_injector import containers, providers

from audit_trail.adapters.auth.keys import KeyConfigError, load_or_create_dev_key
from audit_trail.adapters.auth.pyjwt_verifier import JwtConfig, PyJWTTokenVerifier
from audit_trail.adapters.auth.token_cache import CachingTokenVerifier, WindowedVerifier
from audit_trail.adapters.auth.viewer_tokens import (
    VIEWER_KEY_LABEL,
    ViewerAwareVerifier,
    ViewerTokens,
)
from audit_trail.adapters.clock import SystemClock
from audit_trail.adapters.ids import UlidIdFactory
from audit_trail.adapters.json_encoding import MsgspecJsonEncoder
from audit_trail.adapters.signing.ed25519 import Ed25519NoteSigner, load_or_create_signing_key
from audit_trail.core import CursorCodec
from audit_trail.core.index.integrate import IndexIntegrator
from audit_trail.core.index.upkeep import IndexUpkeep
from audit_trail.core.ledger.checkpoints import Checkpoints
from audit_trail.core.ledger.committer import GroupCommitter
from audit_trail.core.ledger.tree import LogTree
from audit_trail.core.ports import QueryCache, TokenVerifier
from audit_trail.core.ports.holds import LegalHolds
from audit_trail.core.ports.idempotency import IdempotencyStore
from audit_trail.core.ports.index import QueryIndex
from audit_trail.core.ports.log import TenantLog
from audit_trail.core.ports.metrics import Metrics
from audit_trail.core.ports.rate_limit import RateLimiter
from audit_trail.core.ports.retention import RetentionStore
from audit_trail.core.ports.sinks import SinkCursors
from audit_trail.core.ports.storage import Storage
from audit_trail.core.ports.webhooks import WebhookStore
from audit_trail.core.retention.sweeper import RetentionSweeper
from audit_trail.core.usecases import (
    AmendEntry,
    DeleteEntry,
    EntryHistory,
    GetEntry,
    QueryEntries,
    RecordEntries,
    RecordEntry,
)
from audit_trail.core.usecases.change_reader import ChangeReader
from audit_trail.core.usecases.erase import EraseFields
from audit_trail.core.usecases.evidence import LogEvidence
from audit_trail.core.usecases.export import ExportEntries
from audit_trail.core.usecases.holds import LegalHoldRegistry
from audit_trail.core.usecases.idempotent import IdempotentRecording
from audit_trail.core.usecases.query_proof import ProveQuery
from audit_trail.core.usecases.record import EntryFactory
from audit_trail.core.usecases.retention import TenantRetention
from audit_trail.core.usecases.stream import ChangeStream, StreamSettings
from audit_trail.core.usecases.viewer_tokens import MintViewerToken
from audit_trail.core.usecases.webhooks import WebhookRegistry
from audit_trail.core.webhooks.worker import SubscriptionWorker
from audit_trail.entrypoints.http.api import HttpApi
from audit_trail.entrypoints.http.auth import BearerAuthenticator
from audit_trail.entrypoints.http.cors import CorsPolicy
from audit_trail.entrypoints.http.entries import EntryEndpoints
from audit_trail.entrypoints.http.erase import EraseEndpoint
from audit_trail.entrypoints.http.evidence import EvidenceEndpoints
from audit_trail.entrypoints.http.export import ExportEndpoint
from audit_trail.entrypoints.http.holds import HoldEndpoints
from audit_trail.entrypoints.http.meta import MetaEndpoints
from audit_trail.entrypoints.http.observe import RequestMetrics
from audit_trail.entrypoints.http.openapi import build_openapi
from audit_trail.entrypoints.http.stream import StreamEndpoint
from audit_trail.entrypoints.http.viewer import ViewerEndpoints
from audit_trail.entrypoints.http.viewer_tokens import ViewerTokenEndpoints
from audit_trail.entrypoints.http.webhooks import WebhookEndpoints
from audit_trail.entrypoints.observability import build_metrics, build_readiness
from audit_trail.entrypoints.rate_limits import open_rate_limiter
from audit_trail.entrypoints.resources import open_index_upkeep, open_query_cache, open_repository
from audit_trail.entrypoints.retention import open_retention_schedule
from audit_trail.entrypoints.settings import Settings, SettingsError
from audit_trail.entrypoints.sinks import build_forwarder, open_sink_forwarding
from audit_trail.entrypoints.webhooks import (
    WebhookDispatcher,
    open_webhook_delivery,
    open_webhook_sender,
    webhook_settings,
)
from audit_trail.plugins.manager import build_plugin_manager, plugin_config
from audit_trail.plugins.processor import PluggyEntryProcessor
from audit_trail.plugins.sinks import plugin_sinks

log = logging.getLogger(__name__)

_CURSOR_LABEL = b"audit-trail cursor secret v1"
RETENTION_PAUSE_SECONDS = 0.05  # between two purge batches: requests go first


def jwt_config(settings: Settings) -> JwtConfig:
    """How tokens are verified. With no key configured: the development key file,
    created on first use (the one ``audit-trail token`` signs with)."""
    secret = settings.jwt_secret
    if not _has_configured_key(settings):
        secret = load_or_create_dev_key(settings.dev_key_file)
    try:
        return JwtConfig(
            secret=secret,
            public_key=settings.jwt_public_key,
            jwks_file=settings.jwt_jwks_file,
            algorithms=settings.jwt_algorithms,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway_seconds=settings.jwt_leeway_seconds,
            tenant_claim=settings.tenant_claim,
            default_tenant=settings.default_tenant,
        )
    except KeyConfigError as exc:
        raise SettingsError(f"{_key_setting(settings)}: {exc}") from None


def build_token_verifier(config: JwtConfig, settings: Settings) -> PyJWTTokenVerifier:
    try:
        return PyJWTTokenVerifier(config)
    except KeyConfigError as exc:
        raise SettingsError(f"{_key_setting(settings)}: {exc}") from None


def cached_token_verifier(verifier: WindowedVerifier, settings: Settings) -> TokenVerifier:
    """``verifier`` behind a cache of ``AUDIT_TOKEN_CACHE_SIZE`` tokens (0: none)."""
    if settings.token_cache_size == 0:
        return verifier
    return CachingTokenVerifier(verifier, settings.token_cache_size)


def build_cursor_codec(config: JwtConfig, settings: Settings) -> CursorCodec:
    """``AUDIT_CURSOR_SECRET``, or a secret derived (HMAC-SHA256) from the JWT key."""
    if settings.cursor_secret is not None:
        secret = settings.cursor_secret.encode()
        if len(secret) < 16:
            raise SettingsError("AUDIT_CURSOR_SECRET: must be at least 16 bytes")
        return CursorCodec(secret)
    if config.secret is not None:
        material = config.secret.encode()
    else:
        # Public key material: cursors stay valid across instances and restarts, but
        # anyone holding the key could forge one (a position in their own query only).
        log.warning("AUDIT_CURSOR_SECRET is not set; deriving it from the public JWT key")
        if config.public_key is not None:
            material = config.public_key.encode()
        else:
            assert config.jwks_file is not None
            material = config.jwks_file.read_bytes()
    return CursorCodec(hmac.new(material, _CURSOR_LABEL, hashlib.sha256).digest())


def _has_configured_key(settings: Settings) -> bool:
    keys = (settings.jwt_secret, settings.jwt_public_key, settings.jwt_jwks_file)
    return any(key is not None for key in keys)


def _key_setting(settings: Settings) -> str:
    if settings.jwt_algorithms:
        return "AUDIT_JWT_ALGORITHMS"
    configured = [
        name
        for name, value in (
            ("AUDIT_JWT_SECRET", settings.jwt_secret),
            ("AUDIT_JWT_PUBLIC_KEY", settings.jwt_public_key),
            ("AUDIT_JWT_JWKS_FILE", settings.jwt_jwks_file),
        )
        if value is not None
    ]
    return " / ".join(configured) or "AUDIT_DEV_KEY_FILE"


def log_origin(settings: Settings) -> str:
    """``AUDIT_LOG_ORIGIN``, or a name derived from the host: ``<host>/audit-trail``."""
    return settings.log_origin or f"{socket.gethostname().lower()}/audit-trail"


def build_note_signer(settings: Settings) -> Ed25519NoteSigner:
    """The checkpoint signer, named after the log origin, with the key of
    ``AUDIT_LOG_SIGNING_KEY_FILE``, or a development key beside the JWT development key,
    created on first start (mode 0600) and reused."""
    path = log_signing_key_file(settings)
    try:
        key, created = load_or_create_signing_key(path)
    except KeyConfigError as exc:
        raise SettingsError(f"AUDIT_LOG_SIGNING_KEY_FILE: {exc}") from None
    if created:
        log.warning("created a new log signing key in %s", path)
    if settings.log_signing_key_file is None:
        log.warning(
            "checkpoints are signed with the DEVELOPMENT key %s; set AUDIT_LOG_SIGNING_KEY_FILE"
            " to a key you keep safe (anyone holding it can sign a forged checkpoint)",
            path,
        )
    return Ed25519NoteSigner(log_origin(settings), key)


def build_viewer_tokens(signer: Ed25519NoteSigner) -> ViewerTokens:
    """Viewer tokens are signed with a key derived from the log signing key: every
    process that shares the log's key accepts every other's viewer tokens."""
    return ViewerTokens(signer.derive_secret(VIEWER_KEY_LABEL))


def log_signing_key_file(settings: Settings) -> Path:
    return settings.log_signing_key_file or settings.dev_key_file.with_name("log-signing-key")


def settings_plugin_manager(settings: Settings) -> pluggy.PluginManager:
    """The plugins (entry points and ``AUDIT_PLUGINS``), configured from ``settings``."""
    return build_plugin_manager(settings.plugins, plugin_config(settings))


def storage_sink_cursors(storage: Storage) -> SinkCursors:
    """The sinks' cursors of the storage."""
    return storage.sink_cursors()


def storage_query_index(storage: Storage) -> QueryIndex:
    """The query index the storage keeps beside its tenant logs."""
    return storage.query_index()


def storage_idempotency(storage: Storage) -> IdempotencyStore:
    """The Idempotency-Key records the storage keeps beside the entries."""
    return storage.idempotency()


def stream_settings(settings: Settings) -> StreamSettings:
    return StreamSettings(
        poll_seconds=settings.stream_poll_seconds,
        heartbeat_seconds=settings.stream_heartbeat_seconds,
        max_lag=settings.stream_max_lag,
    )


def storage_legal_holds(storage: Storage) -> LegalHolds:
    """The legal holds the storage keeps beside the entries."""
    return storage.legal_holds()


def storage_webhooks(storage: Storage) -> WebhookStore:
    """The webhook subscriptions of the storage."""
    return storage.webhooks()


def storage_retention(storage: Storage) -> RetentionStore:
    """The retention settings and purges of the storage."""
    return storage.retention()


def build_committer(
    repository: TenantLog,
    cache: QueryCache,
    index: IndexUpkeep | None,
    settings: Settings,
    metrics: Metrics,
) -> GroupCommitter:
    return GroupCommitter(
        repository, cache, max_pending=settings.max_pending_writes, index=index, metrics=metrics
    )


def build_http_api(
    entries: EntryEndpoints,
    evidence: EvidenceEndpoints,
    meta: MetaEndpoints,
    authenticator: BearerAuthenticator,
    settings: Settings,
    *,
    export: ExportEndpoint,
    erase: EraseEndpoint,
    stream: StreamEndpoint,
    holds: HoldEndpoints,
    webhooks: WebhookEndpoints,
    viewer: ViewerEndpoints,
    viewer_tokens: ViewerTokenEndpoints,
    rate_limiter: RateLimiter | None = None,
    metrics: RequestMetrics | None = None,
) -> HttpApi:
    return HttpApi(
        {
            **entries.endpoints(),
            **evidence.endpoints(),
            **meta.endpoints(),
            "exportEntries": export.export_entries,
            "eraseEntryFields": erase.erase_entry,
            "streamChanges": stream.stream_changes,
            **holds.endpoints(),
            **webhooks.endpoints(),
            **viewer.endpoints(),
            **viewer_tokens.endpoints(),
        },
        authenticator,
        max_body_bytes=settings.max_body_bytes,
        max_query_parameters=settings.max_query_parameters,
        cors=CorsPolicy(settings.cors_origins),
        rate_limiter=rate_limiter,
        metrics=metrics,
    )


class Container(containers.DeclarativeContainer):
    """Every provider of the service. ``settings`` is the one input."""

    settings = providers.Dependency(instance_of=Settings)

    # clients, opened on startup and closed on shutdown
    repository = providers.Resource(open_repository, settings)
    cache = providers.Resource(open_query_cache, settings)

    # adapters
    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(UlidIdFactory)
    plugin_manager = providers.Singleton(settings_plugin_manager, settings)
    processor = providers.Singleton(PluggyEntryProcessor, plugin_manager)
    jwt = providers.Singleton(jwt_config, settings)
    jwt_verifier = providers.Singleton(build_token_verifier, jwt, settings)
    cursors = providers.Singleton(build_cursor_codec, jwt, settings)

    # the write path: every storage adapter is the tenant log and keeps its query index
    query_index = providers.Singleton(storage_query_index, repository)
    index_integrator = providers.Singleton(IndexIntegrator, query_index, repository)
    index_upkeep = providers.Resource(open_index_upkeep, index_integrator, settings)
    rate_limit_clock = providers.Object(time.monotonic)  # tests override it
    rate_limiter = providers.Resource(open_rate_limiter, settings, rate_limit_clock)
    metrics = providers.Singleton(build_metrics, settings, cache, rate_limiter)
    committer = providers.Singleton(
        build_committer, repository, cache, index_upkeep, settings, metrics
    )

    # the evidence: proofs and signed checkpoints
    signer = providers.Singleton(build_note_signer, settings)
    log_tree = providers.Singleton(LogTree, repository)
    checkpoints = providers.Singleton(
        Checkpoints,
        repository,
        log_tree,
        signer,
        providers.Callable(log_origin, settings),
        metrics=metrics,
    )
    log_evidence = providers.Singleton(
        LogEvidence, repository, repository, log_tree, checkpoints, processor
    )

    # use cases
    entry_factory = providers.Singleton(EntryFactory, processor, clock, ids)
    record_entry = providers.Singleton(RecordEntry, committer, processor, entry_factory)
    record_entries = providers.Singleton(RecordEntries, committer, processor, entry_factory)
    idempotency_store = providers.Singleton(storage_idempotency, repository)
    idempotent_recording = providers.Singleton(
        IdempotentRecording,
        idempotency_store,
        repository,
        processor,
        clock,
        ids,
        ttl_seconds=settings.provided.idempotency_ttl_seconds,
        lease_seconds=settings.provided.idempotency_lease_seconds,
    )
    get_entry = providers.Singleton(GetEntry, repository, processor)
    json_encoder = providers.Singleton(MsgspecJsonEncoder)
    query_entries = providers.Singleton(
        QueryEntries, repository, cache, processor, cursors, json_encoder
    )
    amend_entry = providers.Singleton(AmendEntry, repository, committer, processor, clock)
    delete_entry = providers.Singleton(DeleteEntry, repository, committer, clock)
    entry_history = providers.Singleton(EntryHistory, repository, processor)
    export_entries = providers.Singleton(
        ExportEntries,
        repository,
        repository,
        processor,
        checkpoints=checkpoints,
        tree=log_tree,
        page_size=settings.provided.export_page_size,
    )
    change_stream = providers.Singleton(
        ChangeStream,
        repository,
        repository,
        processor,
        providers.Callable(stream_settings, settings),
    )
    prove_query = providers.Singleton(
        ProveQuery,
        repository,
        repository,
        query_index,
        tree=log_tree,
        checkpoints=checkpoints,
        processor=processor,
        cursors=cursors,
        integrator=index_integrator,  # one per process: it keeps the map nodes it wrote
    )

    # retention and legal holds (docs/lifecycle.md)
    legal_holds = providers.Singleton(storage_legal_holds, repository)
    retention_store = providers.Singleton(storage_retention, repository)
    legal_hold_registry = providers.Singleton(LegalHoldRegistry, legal_holds, clock, ids)
    erase_fields = providers.Singleton(
        EraseFields,
        repository,
        committer,
        clock,
        cache,
        idempotency_store,
        holds=legal_hold_registry,
    )
    tenant_retention = providers.Singleton(
        TenantRetention, retention_store, settings.provided.retention_days
    )
    retention_sweeper = providers.Singleton(
        RetentionSweeper,
        retention_store,
        repository,
        committer,
        legal_holds,
        index_integrator,
        cache,
        clock,
        default_days=settings.provided.retention_days,
        batch=settings.provided.retention_batch,
        pause=RETENTION_PAUSE_SECONDS,
    )
    retention_schedule = providers.Resource(open_retention_schedule, retention_sweeper, settings)

    # webhooks (docs/streaming.md)
    webhook_store = providers.Singleton(storage_webhooks, repository)
    webhook_sender = providers.Resource(open_webhook_sender, settings)
    change_reader = providers.Singleton(ChangeReader, repository, repository, processor)
    webhook_registry = providers.Singleton(
        WebhookRegistry, webhook_store, repository, webhook_sender, clock, ids
    )
    webhook_worker = providers.Singleton(
        SubscriptionWorker,
        webhook_store,
        change_reader,
        webhook_sender,
        clock,
        providers.Callable(webhook_settings, settings, providers.Callable(log_origin, settings)),
        metrics=metrics,
    )
    webhook_dispatcher = providers.Singleton(
        WebhookDispatcher, webhook_store, webhook_worker, clock
    )
    webhook_delivery = providers.Resource(open_webhook_delivery, webhook_dispatcher, settings)

    # sinks: the plugins' audit_forward_changes (docs/plugins.md)
    sink_cursors = providers.Singleton(storage_sink_cursors, repository)
    sinks = providers.Singleton(plugin_sinks, plugin_manager)
    sink_forwarder = providers.Singleton(
        build_forwarder, sink_cursors, change_reader, clock, settings
    )
    sink_forwarding = providers.Resource(
        open_sink_forwarding, sink_forwarder, sinks, retention_store, settings
    )

    # the HTTP layer
    openapi = providers.Singleton(
        build_openapi, max_batch_entries=settings.provided.max_batch_entries
    )
    entry_endpoints = providers.Singleton(
        EntryEndpoints,
        record=record_entry,
        record_many=record_entries,
        get=get_entry,
        query=query_entries,
        amend=amend_entry,
        delete=delete_entry,
        history=entry_history,
        prove=prove_query,
        idempotent=idempotent_recording,
        max_batch_entries=settings.provided.max_batch_entries,
    )
    evidence_endpoints = providers.Singleton(EvidenceEndpoints, log_evidence, signer)
    readiness = providers.Singleton(build_readiness, settings, repository, signer, cache)
    meta_endpoints = providers.Singleton(MetaEndpoints, openapi, metrics, readiness)
    export_endpoint = providers.Singleton(ExportEndpoint, export_entries, clock)
    erase_endpoint = providers.Singleton(EraseEndpoint, erase_fields)
    stream_endpoint = providers.Singleton(StreamEndpoint, change_stream)
    viewer_tokens = providers.Singleton(build_viewer_tokens, signer)
    mint_viewer_token = providers.Singleton(MintViewerToken, viewer_tokens, clock)
    viewer_token_endpoints = providers.Singleton(ViewerTokenEndpoints, mint_viewer_token)
    identity_or_viewer = providers.Singleton(ViewerAwareVerifier, jwt_verifier, viewer_tokens)
    accepted_tokens = providers.Singleton(cached_token_verifier, identity_or_viewer, settings)
    authenticator = providers.Singleton(BearerAuthenticator, accepted_tokens)
    hold_endpoints = providers.Singleton(HoldEndpoints, legal_hold_registry, tenant_retention)
    webhook_endpoints = providers.Singleton(WebhookEndpoints, webhook_registry)
    viewer_endpoints = providers.Singleton(ViewerEndpoints)
    http_api = providers.Singleton(
        build_http_api,
        entry_endpoints,
        evidence_endpoints,
        meta_endpoints,
        authenticator,
        settings,
        export=export_endpoint,
        erase=erase_endpoint,
        stream=stream_endpoint,
        holds=hold_endpoints,
        webhooks=webhook_endpoints,
        viewer=viewer_endpoints,
        viewer_tokens=viewer_token_endpoints,
        rate_limiter=rate_limiter,
        metrics=metrics,
    )


def build_container(settings: Settings) -> Container:
    return Container(settings=settings)


async def start(container: Container) -> HttpApi:
    """Open the resources and build the HTTP layer. Both apps call this once, on
    startup, and hand the ``HttpApi`` it returns to their handlers."""
    await _resolved(container.init_resources())
    try:
        api: HttpApi = await _resolved(container.http_api())
    except BaseException:
        await stop(container)
        raise
    return api


async def stop(container: Container) -> None:
    """Close the resources (both apps call this on shutdown). The background tasks
    that hold leases in storage stop first, while storage is open to give them up."""
    for background in (container.sink_forwarding, container.webhook_delivery):
        if background.initialized:
            await _resolved(background.shutdown())
    await _resolved(container.shutdown_resources())


async def start_delivery(container: Container) -> None:
    """Open what background delivery needs (storage, the webhook sender, the change
    reader) and start webhook delivery and sink forwarding: ``audit-trail deliver``
    without the HTTP layer; ``stop`` ends it."""
    try:
        await _resolved(container.webhook_delivery())
        await _resolved(container.sink_forwarding())
    except BaseException:
        await stop(container)
        raise


async def _resolved(value: Any) -> Any:
    """Providers that depend on an async resource hand out awaitables."""
    return await value if inspect.isawaitable(value) else value
