"""Forwarding every tenant's changes to sinks (docs/plugins.md, audit_forward_changes)."""

from __future__ import annotations
