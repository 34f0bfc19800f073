"""Minting viewer tokens: short-lived, read-only, for the caller's tenant, optionally
restricted to one actor or one target (README, "Viewer tokens")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from audit_trail.core.checks import ErrorCollector
from audit_trail.core.errors import Forbidden, ValidationFailed
from audit_trail.core.ports import Clock, ViewerGrant, ViewerTokenIssuer
from audit_trail.core.principal import Principal, Scope
from audit_trail.core.restriction import Restriction, parse_restriction

DEFAULT_VIEWER_TTL_SECONDS = 300
MAX_VIEWER_TTL_SECONDS = 3600
VIEWER_SUBJECT_PREFIX = "viewer:"


@dataclass(frozen=True, slots=True)
class MintViewerTokenCommand:
    principal: Principal
    restriction: Restriction
    ttl_seconds: int = DEFAULT_VIEWER_TTL_SECONDS


@dataclass(frozen=True, slots=True)
class ViewerToken:
    token: str
    expires_at: datetime
    tenant: str
    restriction: Restriction


def parse_viewer_token_body(body: Any) -> tuple[int, Restriction]:
    """``{"ttl_seconds"?: 1..3600, "actor_id"?: str, "target"?: {"type", "id"}}``: the
    lifetime and the restriction; one ``ValidationFailed`` naming every error."""
    errors = ErrorCollector()
    if not isinstance(body, dict):
        errors.add("body", "must be a JSON object")
        errors.raise_if_any()
    fields = {name: value for name, value in body.items() if name != "ttl_seconds"}
    restriction = parse_restriction(fields, errors)
    ttl = errors.check("ttl_seconds", body.get("ttl_seconds", DEFAULT_VIEWER_TTL_SECONDS), _ttl)
    errors.raise_if_any()
    assert ttl is not None
    return ttl, restriction


def _ttl(value: Any) -> int:
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not 1 <= value <= MAX_VIEWER_TTL_SECONDS
    ):
        raise ValueError(f"must be an integer from 1 to {MAX_VIEWER_TTL_SECONDS}")
    return value


class MintViewerToken:
    """A viewer token for the caller's tenant (scope audit:admin): scope audit:read
    only, the command's restriction, valid for ``ttl_seconds`` (1..3600) from now.
    Its subject is the minting caller's, prefixed ``viewer:``. A restricted caller
    cannot mint (it could widen its own restriction)."""

    def __init__(self, issuer: ViewerTokenIssuer, clock: Clock) -> None:
        self._issuer = issuer
        self._clock = clock

    async def execute(self, command: MintViewerTokenCommand) -> ViewerToken:
        principal = command.principal
        principal.require(Scope.ADMIN)
        if not principal.restriction.unrestricted:
            raise Forbidden("a restricted token cannot mint viewer tokens")
        try:
            _ttl(command.ttl_seconds)
        except ValueError as exc:
            raise ValidationFailed.single("ttl_seconds", str(exc)) from None
        issued = self._clock.now().replace(microsecond=0)
        expires = issued + timedelta(seconds=command.ttl_seconds)
        grant = ViewerGrant(
            VIEWER_SUBJECT_PREFIX + principal.subject,
            principal.tenant,
            command.restriction,
            issued,
            expires,
        )
        return ViewerToken(self._issuer.issue(grant), expires, principal.tenant, grant.restriction)
