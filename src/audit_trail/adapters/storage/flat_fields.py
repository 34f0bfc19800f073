"""The fields of a revision as the databases keep them: flat, one per value a query
may filter on or a reader sees (``actor_id``, not ``actor.id``), besides its evidence
and the flags only storage uses."""

from __future__ import annotations

FLAT_FIELDS = (
    "tenant",
    "id",
    "revision",
    "action",
    "outcome",
    "actor_id",
    "actor_type",
    "actor_name",
    "target_type",
    "target_id",
    "target_name",
    "occurred_at",
    "recorded_at",
    "tags",
    "metadata",
    "source_ip",
    "source_user_agent",
    "recorded_by",
    "erased",
)
