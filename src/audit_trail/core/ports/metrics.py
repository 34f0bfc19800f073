"""Metrics: what the core tells an observer about its work, as it happens.

The core never imports a metrics library: it calls these methods, and an adapter
(``adapters.metrics.prometheus``) turns them into counters, histograms and gauges.
``NoMetrics`` is the default: a core built without an observer counts nothing.
Every method is called on the event loop, must be cheap and must never raise.
"""

from __future__ import annotations

from typing import Protocol


class Metrics(Protocol):
    def committed(self, tenant: str, *, leaves: int, entries: int, log_size: int) -> None:
        """One group commit of ``tenant`` stored ``leaves`` leaves (at least one),
        ``entries`` of them new entries (first revisions); the log now holds
        ``log_size`` leaves."""

    def pending_writes(self, leaves: int) -> None:
        """Leaves now waiting in the bounded write queue, over every tenant."""

    def checkpoint_signed(self, tenant: str, size: int) -> None:
        """A checkpoint of ``tenant``'s log at ``size`` leaves was signed just now."""

    def webhook_attempt(self, *, delivered: bool) -> None:
        """One webhook delivery attempt ended: delivered (2xx) or failed."""


class NoMetrics:
    """The observer that counts nothing."""

    def committed(self, tenant: str, *, leaves: int, entries: int, log_size: int) -> None:
        return None

    def pending_writes(self, leaves: int) -> None:
        return None

    def checkpoint_signed(self, tenant: str, size: int) -> None:
        return None

    def webhook_attempt(self, *, delivered: bool) -> None:
        return None


NO_METRICS: Metrics = NoMetrics()
