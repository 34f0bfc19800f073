"""Plugins: pluggy hookspecs, the plugin manager behind the core's EntryProcessor port,
and the built-in plugins. A plugin module needs only::

    from audit_trail.plugins import hookimpl

See ``audit_trail.plugins.hookspecs`` for the hooks and docs/plugins.md for the guide.
"""

from audit_trail.plugins.errors import PluginSetupError
from audit_trail.plugins.hookspecs import ENTRY_POINT_GROUP, PROJECT_NAME, hookimpl, hookspec

__all__ = ["ENTRY_POINT_GROUP", "PROJECT_NAME", "PluginSetupError", "hookimpl", "hookspec"]
