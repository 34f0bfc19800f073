"""Errors of the plugin layer (the core's ``PluginFailed`` covers failures per entry)."""

from __future__ import annotations


class PluginSetupError(Exception):
    """The plugins cannot start: a module that does not import, an implementation of
    an unknown hook or with unknown arguments, or a plugin that refused its
    configuration. The message names the plugin or the setting; start-up stops.

    A plugin's ``audit_configure`` may raise it to refuse its configuration."""
