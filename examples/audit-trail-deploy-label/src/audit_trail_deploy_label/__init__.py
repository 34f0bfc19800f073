"""Tag entries with the deployment label; require a ticket for guarded actions.

Inactive until ``DEPLOY_LABEL`` is set, so that installing the package into a shared
environment (as the repository's install script does) changes nothing by itself.
"""

from __future__ import annotations

import os
import re
from typing import Any

from audit_trail.core import Entry, ValidationFailed
from audit_trail.plugins import PluginSetupError, hookimpl

DEFAULT_TICKET_ACTIONS = "prod.*,config.*"
TICKET = re.compile(r"[A-Z]+-\d+")
LABEL = re.compile(r"[A-Za-z0-9_.:/-]{1,60}")


class DeployLabel:
    def __init__(self, label: str, ticket_actions: list[str]) -> None:
        if not LABEL.fullmatch(label):
            raise PluginSetupError(f"DEPLOY_LABEL: {label!r} is not a label such as 'eu-prod-2'")
        self.tag = f"deploy:{label}"
        self.ticket_actions = ticket_actions

    @hookimpl
    def audit_enrich_entry(self) -> dict[str, Any]:
        return {"tags": [self.tag]}

    @hookimpl
    def audit_validate_entry(self, entry: Entry) -> None:
        if not self.needs_ticket(entry.action):
            return
        ticket = entry.metadata.get("ticket")
        if not isinstance(ticket, str) or not TICKET.fullmatch(ticket):
            raise ValidationFailed.single(
                "metadata.ticket",
                f"{entry.action} needs a ticket id such as OPS-123",
            )

    def needs_ticket(self, action: str) -> bool:
        return any(
            action.startswith(guard[:-1]) if guard.endswith("*") else action == guard
            for guard in self.ticket_actions
        )


@hookimpl
def audit_configure() -> DeployLabel | None:
    label = os.environ.get("DEPLOY_LABEL")
    if label is None:
        return None  # not configured: stay out of the way
    raw = os.environ.get("DEPLOY_LABEL_TICKET_ACTIONS", DEFAULT_TICKET_ACTIONS)
    actions = [action.strip() for action in raw.split(",") if action.strip()]
    return DeployLabel(label, actions)
