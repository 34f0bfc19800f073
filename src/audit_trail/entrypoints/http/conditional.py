"""Entity tags of entries and the ``If-Match`` precondition of PUT and DELETE.

An entry's ETag is its revision number as a strong tag (``"3"``). Without
``If-Match``, or with ``If-Match: *``, a change applies to whatever revision is
current. Otherwise it applies only if one of the listed tags is the current
revision (strong comparison: weak tags never match), else 412.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TypeVar

from audit_trail.core import Entry, RevisionConflict
from audit_trail.entrypoints.http.messages import HttpRequest
from audit_trail.entrypoints.http.problems import PRECONDITION_FAILED, HttpProblem

T = TypeVar("T")
_ENTITY_TAG = re.compile(r'\s*(W/)?"([^"]*)"\s*(?:,|$)')
_MAX_DIGITS = 18


def etag(entry: Entry) -> tuple[str, str]:
    return ("etag", f'"{entry.revision}"')


def expected_revisions(request: HttpRequest) -> tuple[int, ...] | None:
    """The revisions ``If-Match`` accepts; None when it accepts any (absent or ``*``).

    Tags this service never issues (weak, non-numeric, malformed) are dropped, so a
    header made only of those accepts nothing."""
    header = request.header("if-match")
    if header is None or header.strip() == "*":
        return None
    revisions: list[int] = []
    position = 0
    while position < len(header):
        match = _ENTITY_TAG.match(header, position)
        if match is None:
            break
        weak, opaque = match.groups()
        if not weak and opaque.isascii() and opaque.isdigit() and len(opaque) <= _MAX_DIGITS:
            revisions.append(int(opaque))
        position = match.end()
    return tuple(dict.fromkeys(revisions))


async def when_matching(request: HttpRequest, change: Callable[[int | None], Awaitable[T]]) -> T:
    """Run ``change(expected_revision)`` under the request's ``If-Match``.

    ``change`` raises ``RevisionConflict`` when the revision it expected is not the
    current one; with ``If-Match`` that becomes a 412, without it the conflict (a
    concurrent change) goes up as it is."""
    revisions = expected_revisions(request)
    if revisions is None:
        return await change(None)
    detail = "no entity tag in If-Match is the entry's current revision"
    for revision in revisions:
        try:
            return await change(revision)
        except RevisionConflict as conflict:
            detail = f"the entry is at revision {conflict.actual}; If-Match does not name it"
    raise HttpProblem(PRECONDITION_FAILED, detail)
