"""What the request pipeline reports about each request it answered."""

from __future__ import annotations

from typing import Protocol


class RequestMetrics(Protocol):
    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One request answered with ``status`` after ``seconds``; ``route`` is the
        route's template (``/apiv3/audit_trail/entries/{entry_id}``), never the raw path."""
