"""QueryCache adapters inside the process: bounded memory, and none at all."""

from audit_trail.adapters.cache.memory import CacheStats, InMemoryQueryCache
from audit_trail.adapters.cache.none import NoQueryCache

__all__ = ["CacheStats", "InMemoryQueryCache", "NoQueryCache"]
