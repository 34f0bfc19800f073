"""Who is calling, as established by a verified token."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from audit_trail.core.errors import Forbidden
from audit_trail.core.restriction import UNRESTRICTED, Restriction


class Scope(StrEnum):
    READ = "audit:read"
    WRITE = "audit:write"
    ADMIN = "audit:admin"
    ERASE = "audit:erase"


@dataclass(frozen=True, slots=True)
class Principal:
    """A caller: the token's subject, the tenant every read and write is confined to,
    the scopes it was granted, and what of the tenant it may read (a viewer token may
    be restricted to one actor or one target; see ``Restriction``)."""

    subject: str
    tenant: str
    scopes: frozenset[str]
    restriction: Restriction = field(default=UNRESTRICTED)

    def has(self, scope: Scope) -> bool:
        return scope.value in self.scopes

    def require(self, scope: Scope) -> None:
        """Raise ``Forbidden`` unless the principal holds ``scope``."""
        if not self.has(scope):
            raise Forbidden(f"the token lacks the {scope.value} scope")
