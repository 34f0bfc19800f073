"""The Idempotency-Key header (draft-ietf-httpapi-idempotency-key-header) of the
recording routes: its syntax, and keyed requests' answers.

The draft's value is a Structured Field String, ``Idempotency-Key: "8e03978e-..."``;
a bare token (``Idempotency-Key: 8e03978e-...``) is taken as the same key, since
clients often send one. A key is 1 to ``MAX_KEY_LENGTH`` printable ASCII characters;
anything else (an empty or over-long key, a stray quote, two keys) is a 400. Without
the header a request is recorded as it always was.
"""

from __future__ import annotations

import re

from audit_trail.core.ports.idempotency import StoredResponse
from audit_trail.core.usecases.idempotent import IdempotentOutcome
from audit_trail.entrypoints.http.messages import HttpRequest, HttpResponse
from audit_trail.entrypoints.http.problems import IDEMPOTENCY_KEY_INVALID, HttpProblem

HEADER = "idempotency-key"
REPLAYED_HEADER = "idempotent-replayed"  # "true" on an answer that replays the first one
MAX_KEY_LENGTH = 255

_SF_STRING = re.compile(r'"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"')
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z:/]+")
_ESCAPE = re.compile(r"\\([\"\\])")


def idempotency_key(request: HttpRequest) -> str | None:
    """The request's key; None without the header; 400 when it is not a valid key."""
    raw = request.header(HEADER)
    if raw is None:
        return None
    value = raw.strip(" \t")
    if not value:
        raise _invalid("must not be empty")
    quoted = _SF_STRING.fullmatch(value)
    if quoted is not None:
        key = _ESCAPE.sub(r"\1", quoted.group(1))
    elif _TOKEN.fullmatch(value):
        key = value
    else:
        raise _invalid('must be a quoted string ("key") or a token of printable characters')
    if not key:
        raise _invalid("must not be empty")
    if len(key) > MAX_KEY_LENGTH:
        raise _invalid(f"must be at most {MAX_KEY_LENGTH} characters")
    return key


def _invalid(why: str) -> HttpProblem:
    return HttpProblem(IDEMPOTENCY_KEY_INVALID, f"the Idempotency-Key header {why}")


def stored_response(response: HttpResponse) -> StoredResponse:
    return StoredResponse(response.status, response.headers, response.body)


def keyed_response(outcome: IdempotentOutcome) -> HttpResponse:
    """The answer to a keyed request; a replay says so in ``Idempotent-Replayed``."""
    response = outcome.response
    headers = response.headers
    if outcome.replayed:
        headers = (*headers, (REPLAYED_HEADER, "true"))
    return HttpResponse(response.status, headers, response.body)
