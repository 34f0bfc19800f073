"""Rate limits at the edge: which routes spend which bucket, and the headers that say so.

Writes are the routes that need ``audit:write`` or ``audit:erase``; reads those that
need ``audit:read`` (a stream counts once, when it opens). Public routes and
``audit:admin`` routes are not limited: the first need no tenant, the second are an
operator's (placing a legal hold must work while a tenant floods writes).

Headers follow draft-ietf-httpapi-ratelimit-headers-10 (September 2025), whose
fields are Structured Fields lists of named policies:
``RateLimit-Policy: "writes";q=20;w=2`` (a full bucket, ``q`` requests, refills in
``w`` seconds: ``q / w`` is the sustained rate) and ``RateLimit: "writes";r=19;t=1``
(``r`` requests left now, ``t`` seconds until the bucket is full). A refused
request (429) also gets ``Retry-After``: whole seconds, rounded up, until one
request would be allowed.
"""

from __future__ import annotations

import math
from typing import Any

from audit_trail.core import Scope
from audit_trail.core.rate_limit import Decision, RateKind
from audit_trail.entrypoints.http.problems import RATE_LIMITED, Headers, HttpProblem
from audit_trail.entrypoints.http.routes import Route

# How the OpenAPI document describes a 429's headers.
RATE_LIMIT_HEADERS: dict[str, Any] = {
    "Retry-After": {"schema": {"type": "integer", "minimum": 1}},
    "RateLimit": {"schema": {"type": "string"}},
    "RateLimit-Policy": {"schema": {"type": "string"}},
}

KINDS: dict[Scope, RateKind] = {
    Scope.WRITE: RateKind.WRITES,
    Scope.ERASE: RateKind.WRITES,
    Scope.READ: RateKind.READS,
}


def rate_kind(route: Route) -> RateKind | None:
    """The bucket a request to ``route`` spends, or None when it is not limited."""
    return None if route.scope is None else KINDS.get(route.scope)


def rate_headers(kind: RateKind, decision: Decision) -> Headers:
    policy = decision.policy
    return (
        ("ratelimit-policy", f'"{kind.value}";q={policy.quota};w={policy.window}'),
        (
            "ratelimit",
            f'"{kind.value}";r={decision.remaining};t={math.ceil(decision.reset_seconds)}',
        ),
    )


def rate_limited(kind: RateKind, decision: Decision) -> HttpProblem:
    """The 429 for a refused ``decision``."""
    retry_after = max(1, math.ceil(decision.retry_after))
    return HttpProblem(
        RATE_LIMITED,
        f"the tenant's {kind.value} are over their limit; retry after {retry_after} s",
        (("retry-after", str(retry_after)), *rate_headers(kind, decision)),
    )
