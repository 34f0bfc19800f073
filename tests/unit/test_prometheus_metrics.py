"""PrometheusMetrics: the cache's counters, bounded tenant labels, one registry per app."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from audit_trail.adapters.cache.breaker import BreakerState
from audit_trail.adapters.cache.memory import CacheStats
from audit_trail.adapters.cache.redis import RedisCacheStats
from audit_trail.adapters.metrics.prometheus import OTHER_TENANTS, PrometheusMetrics


@dataclass
class StatsCache:
    """A cache as the metrics see one: anything with a ``stats`` dataclass."""

    stats: object = field(default_factory=CacheStats)


def samples(metrics: PrometheusMetrics) -> dict[str, float]:
    """Each sample, as ``name{label="value",...}``, parsed from the rendered text."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            found[sample.name + (f"{{{labels}}}" if labels else "")] = sample.value
    return found


def test_redis_stats_become_counters_and_a_state_gauge() -> None:
    stats = RedisCacheStats(hits=7, misses=3, loads=2, errors=4, bypasses=5, oversized=1)
    stats.breaker_opened = 2
    stats.breaker_state = BreakerState.OPEN
    found = samples(PrometheusMetrics(cache=StatsCache(stats)))
    assert found["audit_trail_cache_hits_total"] == 7
    assert found["audit_trail_cache_errors_total"] == 4
    assert found["audit_trail_cache_breaker_opened_total"] == 2
    assert found['audit_trail_cache_breaker_state{state="open"}'] == 1
    assert found['audit_trail_cache_breaker_state{state="closed"}'] == 0


def test_cache_counters_follow_the_cache_between_scrapes() -> None:
    cache = StatsCache(CacheStats(hits=1, misses=2))
    metrics = PrometheusMetrics(cache=cache)
    assert samples(metrics)["audit_trail_cache_hits_total"] == 1
    cache.stats = CacheStats(hits=5, misses=2)
    assert samples(metrics)["audit_trail_cache_hits_total"] == 5
    assert samples(metrics)["audit_trail_cache_misses_total"] == 2


def test_a_cache_without_stats_adds_no_cache_metric() -> None:
    found = samples(PrometheusMetrics(cache=object()))
    assert not [name for name in found if name.startswith("audit_trail_cache_")]


def test_tenants_past_the_cap_share_one_label() -> None:
    metrics = PrometheusMetrics(max_tenants=2)
    for index, tenant in enumerate(["a", "b", "c", "d", "a"], start=1):
        metrics.committed(tenant, leaves=1, entries=1, log_size=index * 10)
    found = samples(metrics)
    sizes = {k: v for k, v in found.items() if k.startswith("audit_trail_log_size_leaves")}
    assert sizes == {
        'audit_trail_log_size_leaves{tenant="a"}': 50,
        'audit_trail_log_size_leaves{tenant="b"}': 20,
        f'audit_trail_log_size_leaves{{tenant="{OTHER_TENANTS}"}}': 30 + 40,
    }
    assert found["audit_trail_entries_ingested_total"] == 5


def test_two_apps_in_one_process_count_apart() -> None:
    first, second = PrometheusMetrics(), PrometheusMetrics()
    first.webhook_attempt(delivered=False)
    first.webhook_attempt(delivered=True)
    assert samples(first)['audit_trail_webhook_deliveries_total{outcome="failed"}'] == 1
    assert samples(first)["audit_trail_webhook_delivery_failures_total"] == 1
    assert samples(second)["audit_trail_webhook_delivery_failures_total"] == 0
