"""The core's EntryProcessor port, implemented by calling the plugins' hooks."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pluggy

from audit_trail.core.errors import PluginFailed
from audit_trail.core.model import Entry
from audit_trail.core.ports.processor import RequestContext
from audit_trail.core.principal import Principal
from audit_trail.plugins.calling import CallMode, HookFailure, call_hook
from audit_trail.plugins.enrichment import apply_enrichments, check_enrichment

log = logging.getLogger(__name__)


def _check_entry(value: Any) -> Entry:
    if not isinstance(value, Entry):
        raise ValueError(f"returned {type(value).__name__}, not an Entry or None")
    return value


# every entry a reader gets goes through it: made once
_FOR_READER = CallMode(chain="entry", check=_check_entry)


class PluggyEntryProcessor:
    """Runs the hooks of ``audit_trail.plugins.hookspecs`` for the core.

    ``prepare`` is enrich -> validate -> redact. A failing enrichment, validation or
    redaction implementation refuses the entry with ``PluginFailed`` (the log names the
    plugin and has the traceback), so an entry is never stored unredacted."""

    def __init__(self, plugin_manager: pluggy.PluginManager) -> None:
        self._hook = plugin_manager.hook

    async def prepare(self, entry: Entry, context: RequestContext) -> Entry:
        enrichments = await self._call(
            self._hook.audit_enrich_entry,
            {"entry": entry, "request": context},
            CallMode(check=check_enrichment, refusals=True),
        )
        enriched = apply_enrichments(entry, enrichments)
        await self._call(
            self._hook.audit_validate_entry, {"entry": enriched}, CallMode(refusals=True)
        )
        redacted: Entry = await self._call(
            self._hook.audit_redact_entry,
            {"entry": enriched},
            CallMode(chain="entry", check=_check_entry, refusals=True),
        )
        return redacted

    async def recorded(self, entry: Entry) -> None:
        try:
            await call_hook(
                self._hook.audit_entry_recorded,
                {"entry": entry},
                CallMode(on_failure=self._log_recorded_failure),
            )
        except Exception:  # the contract: never raise, whatever a plugin does
            log.exception("plugins failed after entry %s was recorded", entry.id)

    async def redact_for_reader(self, entry: Entry, principal: Principal) -> Entry:
        visible: Entry = await self._call(
            self._hook.audit_redact_for_reader,
            {"entry": entry, "principal": principal},
            _FOR_READER,
        )
        return visible

    async def _call(
        self, caller: pluggy.HookCaller, kwargs: Mapping[str, Any], mode: CallMode
    ) -> Any:
        try:
            return await call_hook(caller, kwargs, mode)
        except HookFailure as failure:
            log.error(
                "plugin %r failed in %s: %s",
                failure.plugin,
                failure.hook,
                failure.__cause__,
                exc_info=failure.__cause__,
            )
            raise PluginFailed(failure.plugin, failure.hook) from failure.__cause__

    @staticmethod
    def _log_recorded_failure(failure: HookFailure) -> None:
        log.error(
            "plugin %r failed in %s (the entry is recorded): %s",
            failure.plugin,
            failure.hook,
            failure.__cause__,
            exc_info=failure.__cause__,
        )
