"""Finding, registering and configuring plugins; describing them for ``audit-trail plugins``.

Plugins come from the ``audit_trail.plugins`` entry-point group (built-in ones too)
and from the ``plugins`` setting (``AUDIT_PLUGINS``): ``package.module`` enables an
extra plugin module, ``-name`` disables a plugin by its registered name (its
entry-point name, e.g. ``-pii``) or by its module path.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass
from types import MappingProxyType
from typing import Any

import pluggy

from audit_trail.plugins import hookspecs
from audit_trail.plugins.errors import PluginSetupError
from audit_trail.plugins.hookspecs import ENTRY_POINT_GROUP, PROJECT_NAME

log = logging.getLogger(__name__)

CONFIGURED_SUFFIX = ":configured"
"""Suffix of the name under which an object returned by ``audit_configure`` is registered."""

SECRET_SETTINGS = frozenset({"jwt_secret", "cursor_secret", "mongo_uri", "redis_url"})
"""Settings never handed to plugins (keys, and URLs that may carry passwords)."""

_MODULE_PATH = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """One plugin as ``audit-trail plugins`` lists it."""

    name: str
    hooks: tuple[str, ...]
    dist: str | None = None
    version: str | None = None


def plugin_config(settings: object) -> Mapping[str, Any]:
    """The settings (a dataclass instance) as the read-only mapping ``audit_configure``
    receives, without ``SECRET_SETTINGS``."""
    if not is_dataclass(settings) or isinstance(settings, type):
        raise TypeError("settings must be a dataclass instance")
    values = {
        f.name: getattr(settings, f.name) for f in fields(settings) if f.name not in SECRET_SETTINGS
    }
    return MappingProxyType(values)


def build_plugin_manager(
    enable: Sequence[str], config: Mapping[str, Any] | None = None
) -> pluggy.PluginManager:
    """A plugin manager with every plugin found, enabled and configured.

    ``enable`` is the ``plugins`` setting; ``config`` is passed to ``audit_configure``
    (see ``plugin_config``). Raises ``PluginSetupError`` when a plugin cannot be
    loaded, implements an unknown hook, or refuses its configuration."""
    modules, disabled = _parse(enable)
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    for name in disabled:
        pm.set_blocked(name)
    try:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    except pluggy.PluginValidationError as exc:
        raise _invalid(pm, exc) from None
    except Exception as exc:
        raise PluginSetupError(
            f"cannot load the plugins of entry-point group {ENTRY_POINT_GROUP!r}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    for path in modules:
        _register_module(pm, path)
    for name in disabled:
        _disable(pm, name)
    _check_pending(pm)
    _configure(pm, MappingProxyType(dict(config or {})))
    _check_pending(pm)
    return pm


def plugin_manager_for(
    *plugins: object, config: Mapping[str, Any] | None = None
) -> pluggy.PluginManager:
    """A plugin manager with only ``plugins`` (modules or objects; no entry points, no
    ``AUDIT_PLUGINS``), checked and configured like ``build_plugin_manager``'s: for
    testing a plugin on its own."""
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    for plugin in plugins:
        try:
            pm.register(plugin)
        except pluggy.PluginValidationError as exc:
            raise _invalid(pm, exc) from None
    _check_pending(pm)
    _configure(pm, MappingProxyType(dict(config or {})))
    _check_pending(pm)
    return pm


def _parse(enable: Sequence[str]) -> tuple[list[str], list[str]]:
    modules: list[str] = []
    disabled: list[str] = []
    for item in (raw.strip() for raw in enable):
        if item.startswith("-") and item[1:]:
            disabled.append(item[1:])
        elif _MODULE_PATH.fullmatch(item):
            modules.append(item)
        else:
            raise PluginSetupError(
                f"AUDIT_PLUGINS: {item!r} is neither a module path to enable nor -name to disable"
            )
    return modules, disabled


def _register_module(pm: pluggy.PluginManager, path: str) -> None:
    try:
        module = importlib.import_module(path)
    except ImportError as exc:
        raise PluginSetupError(f"AUDIT_PLUGINS: cannot import module {path!r}: {exc}") from exc
    if pm.is_registered(module) or pm.is_blocked(path):
        return  # already loaded through its entry point, or disabled
    try:
        pm.register(module, name=path)
    except pluggy.PluginValidationError as exc:
        raise _invalid(pm, exc) from None
    except ValueError as exc:
        raise PluginSetupError(f"AUDIT_PLUGINS: cannot register {path!r}: {exc}") from None


def _disable(pm: pluggy.PluginManager, name: str) -> None:
    """Unregister a plugin by module path (by name it was blocked before loading)."""
    found = any(ep.name == name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    for registered, plugin in pm.list_name_plugin():
        if plugin is not None and getattr(plugin, "__name__", None) == name:
            pm.unregister(plugin)
            pm.set_blocked(registered)
            found = True
    if not found:
        log.warning("AUDIT_PLUGINS: no plugin named %r to disable", name)


def _check_pending(pm: pluggy.PluginManager) -> None:
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise _invalid(pm, exc) from None


def _invalid(pm: pluggy.PluginManager, exc: pluggy.PluginValidationError) -> PluginSetupError:
    name = pm.get_name(exc.plugin) or getattr(exc.plugin, "__name__", repr(exc.plugin))
    known = ", ".join(sorted(_hook_names()))
    return PluginSetupError(f"plugin {name!r} is not valid: {exc} (known hooks: {known})")


def _hook_names() -> list[str]:
    return [name for name in vars(hookspecs) if name.startswith("audit_")]


def _configure(pm: pluggy.PluginManager, config: Mapping[str, Any]) -> None:
    """Call every ``audit_configure`` and register the objects they return."""
    returned: list[tuple[str, object]] = []
    for impl in reversed(pm.hook.audit_configure.get_hookimpls()):
        name = impl.plugin_name
        if impl.wrapper or impl.hookwrapper:
            raise PluginSetupError(f"plugin {name!r}: audit_configure cannot be a wrapper")
        try:
            value = impl.function(*[{"config": config}[arg] for arg in impl.argnames])
        except PluginSetupError:
            raise
        except Exception as exc:
            raise PluginSetupError(f"plugin {name!r} refused its configuration: {exc}") from exc
        if inspect.isawaitable(value):
            if inspect.iscoroutine(value):
                value.close()
            raise PluginSetupError(f"plugin {name!r}: audit_configure must not be async")
        if value is not None:
            returned.append((name, value))
    for name, plugin in returned:
        if pm.is_registered(plugin):
            continue
        try:
            pm.register(plugin, name=name + CONFIGURED_SUFFIX)
        except pluggy.PluginValidationError as exc:
            raise _invalid(pm, exc) from None


def describe_plugins(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """Every registered plugin, by name, with its distribution (if installed as one)
    and the hooks it implements (its configured object's included)."""
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    hooks: dict[str, set[str]] = {}
    origin: dict[str, tuple[str | None, str | None]] = {}
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue  # blocked
        owner = name.removesuffix(CONFIGURED_SUFFIX)
        callers = pm.get_hookcallers(plugin) or []
        hooks.setdefault(owner, set()).update(caller.name for caller in callers)
        dist = dists.get(id(plugin))
        if dist is not None:
            origin[owner] = (dist.project_name, dist.version)
    return [
        PluginInfo(name, tuple(sorted(names)), *origin.get(name, (None, None)))
        for name, names in sorted(hooks.items())
    ]
