"""A tenant's retention period: how many days its entries are kept after their current
revision was recorded (docs/lifecycle.md, "Retention and legal holds")."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from audit_trail.core.errors import FieldError, ValidationFailed

MAX_RETENTION_DAYS = 100_000  # about 273 years: far enough, and a datetime can hold it


class PolicySource(StrEnum):
    TENANT = "tenant"  # set for this tenant (PUT /tenant/retention)
    DEFAULT = "default"  # AUDIT_RETENTION_DAYS, or keep forever when it is unset


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """``days`` None: keep forever."""

    days: float | None
    source: PolicySource

    def cutoff(self, now: datetime) -> datetime | None:
        """Entries whose current revision was recorded before this are due; None: none."""
        if self.days is None:
            return None
        return now - timedelta(days=self.days)

    def as_json(self) -> dict[str, object]:
        return {"days": self.days, "source": self.source.value}


def effective_policy(stored: tuple[float | None] | None, default: float | None) -> RetentionPolicy:
    """The tenant's own setting (``(days,)``, days None meaning keep forever) when it
    has one, else the default."""
    if stored is not None:
        return RetentionPolicy(stored[0], PolicySource.TENANT)
    return RetentionPolicy(default, PolicySource.DEFAULT)


def parse_retention_body(body: object) -> float | None:
    """The ``days`` of a ``PUT /tenant/retention`` body: a positive finite number (up
    to ``MAX_RETENTION_DAYS``, fractions allowed), or null to keep forever."""
    if not isinstance(body, Mapping):
        raise ValidationFailed.single("", "the body must be a JSON object")
    errors = [FieldError(str(k), "unknown field") for k in body if k != "days"]
    if "days" not in body:
        errors.append(FieldError("days", "required: a positive number of days, or null"))
    else:
        days = body["days"]
        if days is not None and not _valid_days(days):
            errors.append(
                FieldError(
                    "days",
                    f"must be a positive, finite number of days up to {MAX_RETENTION_DAYS},"
                    " or null to keep entries forever",
                )
            )
    if errors:
        raise ValidationFailed(errors)
    value = body["days"]
    return None if value is None else float(value)


def _valid_days(days: object) -> bool:
    if isinstance(days, bool) or not isinstance(days, int | float):
        return False
    return math.isfinite(days) and 0 < days <= MAX_RETENTION_DAYS
