"""Cache counters in the Prometheus text exposition format (version 0.0.4).

``render_prometheus`` takes whatever stats object the active cache keeps (a
dataclass such as ``RedisCacheStats`` or the in-memory cache's ``CacheStats``, or
None for a cache that keeps none) and renders each integer field as a counter
``audit_trail_cache_<field>_total`` and a ``BreakerState`` field as a gauge with one
sample per state, 1 for the current one. One code path for every cache.
"""

from __future__ import annotations

import dataclasses

from audit_trail.adapters.cache.breaker import BreakerState

PREFIX = "audit_trail_cache"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_HELP = {
    "hits": "Query pages served from the cache.",
    "misses": "Cache lookups that found no page.",
    "loads": "Query pages loaded from storage on behalf of the cache.",
    "errors": "Failed cache backend commands (timeouts, refused connections, ...).",
    "bypasses": "Queries answered from storage without the cache (backend unusable).",
    "oversized": "Query pages not cached because they exceed the page size limit.",
    "evictions": "Cached pages evicted to stay within the cache's bounds.",
    "lost_invalidations": "Invalidations not known to have reached the cache backend in time.",
    "breaker_opened": "Times the cache backend's circuit breaker opened.",
    "breaker_state": "State of the cache backend's circuit breaker (1 for the current state).",
}


def render_prometheus(stats: object | None) -> str:
    """The counters of ``stats`` as Prometheus text; empty when there are none."""
    if stats is None or not dataclasses.is_dataclass(stats) or isinstance(stats, type):
        return ""
    lines: list[str] = []
    for field in dataclasses.fields(stats):
        value = getattr(stats, field.name)
        help_text = _HELP.get(field.name, f"Cache counter {field.name}.")
        if isinstance(value, BreakerState):
            name = f"{PREFIX}_{field.name}"
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
            lines += [
                f'{name}{{state="{state.value}"}} {int(state is value)}' for state in BreakerState
            ]
        elif isinstance(value, int) and not isinstance(value, bool):
            name = f"{PREFIX}_{field.name}_total"
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter", f"{name} {value}"]
    return "".join(line + "\n" for line in lines)
