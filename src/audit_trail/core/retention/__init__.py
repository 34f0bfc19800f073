"""Retention: per-tenant retention periods, the purge leaf and the sweeper."""

from __future__ import annotations
