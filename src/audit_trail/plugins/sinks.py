"""The plugins' ``audit_forward_changes`` implementations as the core's ``Sink``s: one
per plugin, each called through pluggy with only its own implementation."""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import pluggy

from audit_trail.core.usecases.change_reader import Change
from audit_trail.plugins.errors import PluginSetupError
from audit_trail.plugins.manager import CONFIGURED_SUFFIX

HOOK = "audit_forward_changes"


class PluginSink:
    """One plugin's ``audit_forward_changes``."""

    def __init__(self, name: str, caller: pluggy.HookCaller) -> None:
        self._name = name
        self._caller = caller

    @property
    def name(self) -> str:
        return self._name

    async def forward(self, tenant: str, changes: Sequence[Change]) -> None:
        for value in self._caller(tenant=tenant, changes=list(changes)):
            if inspect.isawaitable(value):
                await value


def plugin_sinks(pm: pluggy.PluginManager) -> list[PluginSink]:
    """A sink per plugin that implements ``audit_forward_changes``, by plugin name
    (a configured object counts as its plugin); ``PluginSetupError`` for a wrapper."""
    impls = getattr(pm.hook, HOOK).get_hookimpls()
    sinks: list[PluginSink] = []
    for impl in impls:
        if impl.wrapper or impl.hookwrapper:
            raise PluginSetupError(f"plugin {impl.plugin_name!r}: {HOOK} cannot be a wrapper")
        others = [other.plugin for other in impls if other is not impl]
        name = impl.plugin_name.removesuffix(CONFIGURED_SUFFIX)
        if any(sink.name == name for sink in sinks):
            raise PluginSetupError(f"plugin {name!r} implements {HOOK} twice")
        sinks.append(PluginSink(name, pm.subset_hook_caller(HOOK, others)))
    return sorted(sinks, key=lambda sink: sink.name)
