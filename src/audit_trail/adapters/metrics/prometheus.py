"""PrometheusMetrics: the ``Metrics`` port, request timings and the cache's counters,
with ``prometheus_client``, rendered in the Prometheus text format at GET /metrics.

One process: every metric lives in a registry of this object's own (never the
global default), so several apps in one process (the tests) never share a count.

Several workers (``audit-trail serve --workers N``): ``PROMETHEUS_MULTIPROC_DIR``
names a directory the serve command made; ``prometheus_client`` then keeps each
value in a file per process there, and a scrape, answered by any worker, adds the
files up (``MultiProcessCollector``): counters and histograms are summed, the queue
depth is summed over live workers, log sizes and checkpoint times take the largest.

Values that live in another object (the cache's ``stats``, the breaker's state) are
sampled at most once a second on a request and on every scrape: a counter grows by
what the cache counted since the last sample, so it sums across workers too.

Per-tenant series are bounded: the first ``max_tenants`` tenants seen by a process
have their own label; the others share ``tenant="_other"`` (their log sizes summed,
their newest checkpoint time).
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import shutil
import tempfile
import time

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector

from audit_trail.adapters.cache.breaker import BreakerState

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
OTHER_TENANTS = "_other"
MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
SAMPLE_EVERY_SECONDS = 1.0

# the fields of the caches' ``stats`` (``RedisCacheStats``, the memory cache's ``CacheStats``)
CACHE_HELP = {
    "hits": "Query pages served from the cache.",
    "misses": "Cache lookups that found no page.",
    "loads": "Query pages loaded from storage on behalf of the cache.",
    "errors": "Failed cache backend commands (timeouts, refused connections, ...).",
    "bypasses": "Queries answered from storage without the cache (backend unusable).",
    "oversized": "Query pages not cached because they exceed the page size limit.",
    "evictions": "Cached pages evicted to stay within the cache's bounds.",
    "lost_invalidations": "Invalidations not known to have reached the cache backend in time.",
    "breaker_opened": "Times the cache backend's circuit breaker opened.",
}
# the fields of the rate limiters' ``stats`` (``RateLimitStats``)
RATE_LIMIT_HELP = {
    "allowed": "Requests a rate limit let through.",
    "limited": "Requests refused with 429 by a rate limit.",
    "failed_open": "Requests let through because the rate limit store could not decide.",
    "breaker_opened": "Times the rate limit store's circuit breaker opened.",
}


def multiprocess_dir() -> str | None:
    """The directory of the workers' shared values, when several workers serve."""
    return os.environ.get(MULTIPROCESS_VARIABLE) or None


def share_between_workers() -> str:
    """Before the workers start: a fresh directory for their values, named in the
    environment they inherit, removed when this process exits. One set by the
    operator is kept (and never removed: it is theirs to empty between runs)."""
    kept = multiprocess_dir()
    if kept is not None:
        return kept
    path = tempfile.mkdtemp(prefix="audit-trail-metrics-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    os.environ[MULTIPROCESS_VARIABLE] = path
    return path


class PrometheusMetrics:
    """Counts what the core and the HTTP layer report; ``render`` is the scrape."""

    def __init__(
        self,
        *,
        max_tenants: int = 50,
        cache: object | None = None,
        rate_limiter: object | None = None,
    ) -> None:
        self._registry = CollectorRegistry(auto_describe=True)
        self._multiprocess = multiprocess_dir() is not None
        self._max_tenants = max_tenants
        self._named: set[str] = set()
        self._other_sizes: dict[str, int] = {}
        self._sources = (
            ("cache", cache, CACHE_HELP),
            ("rate_limit", rate_limiter, RATE_LIMIT_HELP),
        )
        self._seen: dict[str, int] = {}
        self._sampled_at = 0.0
        # each (route, method, status)'s counter and histogram, looked up once
        self._request_series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        r = self._registry
        route = ("route", "method", "status")
        self.requests = Counter(
            "audit_trail_http_requests",
            "HTTP requests answered, by route template.",
            route,
            registry=r,
        )
        self.latency = Histogram(
            "audit_trail_http_request_duration_seconds",
            "Time to answer an HTTP request (to its first byte for a stream), by route template.",
            route,
            registry=r,
        )
        self.entries = Counter(
            "audit_trail_entries_ingested", "New entries stored (first revisions).", registry=r
        )
        self.leaves = Counter(
            "audit_trail_log_leaves_appended", "Leaves appended to tenant logs.", registry=r
        )
        self.batches = Histogram(
            "audit_trail_group_commit_batch_leaves",
            "Leaves stored by one group commit (one storage write).",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.queue = Gauge(
            "audit_trail_write_queue_depth",
            "Leaves waiting in the bounded write queue (503 past AUDIT_MAX_PENDING_WRITES).",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.log_size = Gauge(
            "audit_trail_log_size_leaves",
            "Leaves in a tenant's log, as of this service's last write to it.",
            ("tenant",),
            registry=r,
            multiprocess_mode="max",
        )
        self.checkpoint_time = Gauge(
            "audit_trail_checkpoint_timestamp_seconds",
            "When the newest checkpoint of a tenant's log was signed (Unix time); "
            "its age: time() - this.",
            ("tenant",),
            registry=r,
            multiprocess_mode="max",
        )
        self.checkpoint_size = Gauge(
            "audit_trail_checkpoint_size_leaves",
            "Leaves covered by the newest checkpoint this service signed of a tenant's log.",
            ("tenant",),
            registry=r,
            multiprocess_mode="max",
        )
        self.webhooks = Counter(
            "audit_trail_webhook_deliveries",
            "Webhook delivery attempts, by outcome (delivered or failed).",
            ("outcome",),
            registry=r,
        )
        self.webhook_failures = Counter(
            "audit_trail_webhook_delivery_failures",
            "Webhook delivery attempts that failed (no 2xx in time).",
            registry=r,
        )
        self._counters: dict[str, Counter] = {}
        self._breakers = {
            prefix: Gauge(
                f"audit_trail_{prefix}_breaker_state",
                f"State of the {prefix.replace('_', ' ')} backend's circuit breaker "
                "(1 for the current state).",
                ("state",),
                registry=r,
                multiprocess_mode="livemax",
            )
            for prefix, _, _ in self._sources
        }
        self._sample()

    # --- the core's Metrics port

    def committed(self, tenant: str, *, leaves: int, entries: int, log_size: int) -> None:
        self.leaves.inc(leaves)
        self.batches.observe(leaves)
        if entries:
            self.entries.inc(entries)
        label = self._tenant(tenant)
        if label == OTHER_TENANTS:
            self._other_sizes[tenant] = log_size
            log_size = sum(self._other_sizes.values())
        self.log_size.labels(label).set(log_size)

    def pending_writes(self, leaves: int) -> None:
        self.queue.set(leaves)

    def checkpoint_signed(self, tenant: str, size: int) -> None:
        label = self._tenant(tenant)
        self.checkpoint_time.labels(label).set(time.time())
        if label != OTHER_TENANTS:
            self.checkpoint_size.labels(label).set(size)

    def webhook_attempt(self, *, delivered: bool) -> None:
        self.webhooks.labels("delivered" if delivered else "failed").inc()
        if not delivered:
            self.webhook_failures.inc()

    # --- the HTTP layer

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One request answered: ``route`` is its template, never the raw path."""
        series = self._request_series.get((route, method, status))
        if series is None:
            labels = (route, method, str(status))
            series = self.requests.labels(*labels), self.latency.labels(*labels)
            self._request_series[route, method, status] = series
        series[0].inc()
        series[1].observe(seconds)
        if time.monotonic() - self._sampled_at >= SAMPLE_EVERY_SECONDS:
            self._sample()

    def render(self) -> bytes:
        """Every metric in the Prometheus text format (0.0.4), summed over the workers
        when several serve."""
        self._sample()
        if not self._multiprocess:
            return generate_latest(self._registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)

    # ---

    def _tenant(self, tenant: str) -> str:
        if tenant in self._named:
            return tenant
        if len(self._named) < self._max_tenants:
            self._named.add(tenant)
            return tenant
        return OTHER_TENANTS

    def _sample(self) -> None:
        """Bring the counters and breaker states of the cache and the rate limiter (what
        their ``stats`` hold) up to date."""
        self._sampled_at = time.monotonic()
        for prefix, source, helps in self._sources:
            stats = getattr(source, "stats", None)
            if stats is None or not dataclasses.is_dataclass(stats) or isinstance(stats, type):
                continue
            for field in dataclasses.fields(stats):
                value = getattr(stats, field.name)
                if isinstance(value, BreakerState):
                    for state in BreakerState:
                        self._breakers[prefix].labels(state.value).set(int(state is value))
                elif isinstance(value, int) and not isinstance(value, bool):
                    name = f"audit_trail_{prefix}_{field.name}"
                    seen = self._seen.get(name, 0)
                    self._counter(name, helps.get(field.name, name)).inc(max(0, value - seen))
                    self._seen[name] = value

    def _counter(self, name: str, help_text: str) -> Counter:
        counter = self._counters.get(name)
        if counter is None:
            counter = self._counters[name] = Counter(name, help_text, registry=self._registry)
        return counter
