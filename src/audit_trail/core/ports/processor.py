"""EntryProcessor: the only door from the core to plugins."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from audit_trail.core.model import Entry
from audit_trail.core.principal import Principal


@dataclass(frozen=True, slots=True)
class RequestContext:
    """What the edge knows of the request that carries an entry.

    ``client_ip`` is the peer address of the connection; ``headers`` are lower-cased."""

    client_ip: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


class EntryProcessor(Protocol):
    """Prepares entries on the way in and filters them on the way out."""

    async def prepare(self, entry: Entry, context: RequestContext) -> Entry:
        """Enrich, validate and redact an entry before it is stored.

        ``ValidationFailed`` refuses the entry with field errors; ``PluginFailed``
        refuses it because a plugin broke. Never returns an entry that skipped redaction."""
        ...

    async def recorded(self, entry: Entry) -> None:
        """Tell plugins the entry is durable. Never raises: failures are logged."""
        ...

    async def redact_for_reader(self, entry: Entry, principal: Principal) -> Entry:
        """The entry as ``principal`` may see it."""
        ...
