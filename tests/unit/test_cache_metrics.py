"""Cache counters rendered in the Prometheus text format."""

from __future__ import annotations

import re

from audit_trail.adapters.cache.breaker import BreakerState
from audit_trail.adapters.cache.memory import CacheStats
from audit_trail.adapters.cache.metrics import render_prometheus
from audit_trail.adapters.cache.redis import RedisCacheStats

SAMPLE = re.compile(r'^([a-z_]+)(\{state="[a-z_]+"\})? (\d+)$')


def samples(text: str) -> dict[str, int]:
    """Every sample line, checked against the format and its # TYPE line."""
    found: dict[str, int] = {}
    typed: set[str] = set()
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("# HELP "):
            continue
        match = SAMPLE.match(line)
        assert match, line
        assert match.group(1) in typed, f"{line}: no # TYPE before it"
        found[match.group(1) + (match.group(2) or "")] = int(match.group(3))
    return found


def test_redis_stats_render_as_counters_and_a_state_gauge() -> None:
    stats = RedisCacheStats(hits=7, misses=3, loads=2, errors=4, bypasses=5, oversized=1)
    stats.breaker_opened = 2
    stats.breaker_state = BreakerState.OPEN
    text = render_prometheus(stats)
    assert samples(text) == {
        "audit_trail_cache_hits_total": 7,
        "audit_trail_cache_misses_total": 3,
        "audit_trail_cache_loads_total": 2,
        "audit_trail_cache_errors_total": 4,
        "audit_trail_cache_bypasses_total": 5,
        "audit_trail_cache_oversized_total": 1,
        "audit_trail_cache_evictions_total": 0,
        "audit_trail_cache_lost_invalidations_total": 0,
        "audit_trail_cache_breaker_opened_total": 2,
        'audit_trail_cache_breaker_state{state="closed"}': 0,
        'audit_trail_cache_breaker_state{state="open"}': 1,
        'audit_trail_cache_breaker_state{state="half_open"}': 0,
    }
    assert "# TYPE audit_trail_cache_hits_total counter" in text
    assert "# TYPE audit_trail_cache_breaker_state gauge" in text


def test_the_in_memory_cache_stats_render_the_same_way() -> None:
    text = render_prometheus(CacheStats(hits=1, misses=2, loads=2, evictions=0))
    assert samples(text) == {
        "audit_trail_cache_hits_total": 1,
        "audit_trail_cache_misses_total": 2,
        "audit_trail_cache_loads_total": 2,
        "audit_trail_cache_evictions_total": 0,
    }


def test_a_cache_without_stats_renders_nothing() -> None:
    assert render_prometheus(None) == ""
    assert render_prometheus(object()) == ""
