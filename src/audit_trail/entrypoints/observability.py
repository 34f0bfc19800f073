"""The metrics and the readiness probes, built from Settings for the container."""

from __future__ import annotations

from audit_trail.adapters.metrics.prometheus import PrometheusMetrics
from audit_trail.core.integrity.checkpoint import ROOT_SIZE, Checkpoint
from audit_trail.core.ports import QueryCache
from audit_trail.core.ports.log import TenantLog
from audit_trail.core.ports.rate_limit import RateLimiter
from audit_trail.core.ports.signer import NoteSigner
from audit_trail.entrypoints.http.readiness import Probe, Readiness
from audit_trail.entrypoints.settings import Settings

# no tenant is named so (tenant names are checked at the edge): reading its size
# is one cheap round trip that finds nothing
READY_TENANT = "_ready"
_PROBE_CHECKPOINT = Checkpoint("audit-trail/ready", 0, bytes(ROOT_SIZE))


def build_metrics(
    settings: Settings, cache: QueryCache, rate_limiter: RateLimiter | None
) -> PrometheusMetrics:
    return PrometheusMetrics(
        max_tenants=settings.metrics_max_tenants, cache=cache, rate_limiter=rate_limiter
    )


def build_readiness(
    settings: Settings, log_store: TenantLog, signer: NoteSigner, cache: QueryCache
) -> Readiness:
    timeout = settings.ready_timeout_seconds
    probes: dict[str, Probe] = {
        "storage": lambda: log_store.size(READY_TENANT),
        "signer": lambda: signer.sign_checkpoint(_PROBE_CHECKPOINT),
    }
    answers = getattr(cache, "answers", None)  # RedisQueryCache: a PING past its breaker
    if settings.cache == "redis" and answers is not None:
        probes["redis"] = lambda: answers(timeout)
    return Readiness(probes, timeout_seconds=timeout)
