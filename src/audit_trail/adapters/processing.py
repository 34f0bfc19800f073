"""An EntryProcessor that changes nothing: the core's behaviour without plugins."""

from __future__ import annotations

from audit_trail.core.model import Entry
from audit_trail.core.ports import RequestContext
from audit_trail.core.principal import Principal


class PassThroughEntryProcessor:
    async def prepare(self, entry: Entry, context: RequestContext) -> Entry:
        return entry

    async def recorded(self, entry: Entry) -> None:
        return None

    async def redact_for_reader(self, entry: Entry, principal: Principal) -> Entry:
        return entry
