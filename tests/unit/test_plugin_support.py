"""Helpers shared by the plugin tests (no tests here)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pluggy

from audit_trail.core import Actor, Entry, Outcome, Principal, Target
from audit_trail.plugins import PROJECT_NAME, hookspecs
from audit_trail.plugins.manager import build_plugin_manager

BUILTIN_PLUGINS = {
    "request_context": "audit_trail.plugins.builtin.request_context",
    "pii": "audit_trail.plugins.builtin.pii",
    "syslog": "audit_trail.plugins.builtin.syslog",
}
"""The built-in plugins by entry-point name (pyproject.toml must declare exactly these)."""

READER = Principal("reader", "acme", frozenset({"audit:read", "audit:write"}))
ADMIN = Principal("admin", "acme", frozenset({"audit:read", "audit:write", "audit:admin"}))
MOMENT = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


def make_entry(**changes: Any) -> Entry:
    fields: dict[str, Any] = {
        "id": "01JD0000000000000000000000",
        "tenant": "acme",
        "action": "document.update",
        "outcome": Outcome.SUCCESS,
        "actor": Actor(id="u-42", type="user", name="Ada"),
        "target": Target(type="document", id="d-7", name="Q3 report"),
        "occurred_at": MOMENT,
        "recorded_at": MOMENT,
        "tags": ("ui",),
        "metadata": {"field": "title"},
    }
    fields.update(changes)
    return Entry(**fields)


def make_manager(*plugins: object, **named: object) -> pluggy.PluginManager:
    """A manager with only these plugins (no entry points); ``named`` ones get a name."""
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    for plugin in plugins:
        pm.register(plugin)
    for name, plugin in named.items():
        pm.register(plugin, name=name)
    return pm


def builtin_manager(*enable: str, config: Mapping[str, Any] | None = None) -> pluggy.PluginManager:
    """The built-in plugins registered by the same path as in production (by entry
    point once pyproject declares them, by module path until then), and nothing else
    that may be installed."""
    return build_plugin_manager([*BUILTIN_PLUGINS.values(), "-deploy_label", *enable], config)
