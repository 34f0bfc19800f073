"""Who is calling, as established by a verified token."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from audit_trail.core.errors import Forbidden


class Scope(StrEnum):
    READ = "audit:read"
    WRITE = "audit:write"
    ADMIN = "audit:admin"
    ERASE = "audit:erase"


@dataclass(frozen=True, slots=True)
class Principal:
    """A caller: the token's subject, the tenant every read and write is confined to,
    and the scopes it was granted."""

    subject: str
    tenant: str
    scopes: frozenset[str]

    def has(self, scope: Scope) -> bool:
        return scope.value in self.scopes

    def require(self, scope: Scope) -> None:
        """Raise ``Forbidden`` unless the principal holds ``scope``."""
        if not self.has(scope):
            raise Forbidden(f"the token lacks the {scope.value} scope")
