"""ParsedQueries: a query string is validated once, a refused one every time."""

from __future__ import annotations

import pytest

from audit_trail.core import ValidationFailed, parse_query
from audit_trail.core.query import QueryRequest
from audit_trail.entrypoints.http.messages import build_request
from audit_trail.entrypoints.http.parsed_queries import ParsedQueries


def parsed(queries: ParsedQueries, raw: str) -> QueryRequest:
    request = build_request(
        method="GET",
        path_params={},
        raw_query=raw.encode(),
        raw_headers=[],
        body=b"",
        client=None,
    )
    return queries.parse(request.raw_query)


def test_the_same_query_string_gives_the_same_request_as_parse_query() -> None:
    queries = ParsedQueries()
    first = parsed(queries, "actor_id=u-1&limit=5")
    assert first == parse_query({"actor_id": ["u-1"], "limit": ["5"]})
    assert parsed(queries, "actor_id=u-1&limit=5") is first
    assert first.canonical() == "actor_id=u-1&limit=5&sort=-occurred_at"


def test_a_refused_query_is_refused_every_time() -> None:
    queries = ParsedQueries()
    for _ in range(2):
        with pytest.raises(ValidationFailed):
            parsed(queries, "limit=0")


def test_only_the_last_queries_are_kept() -> None:
    queries = ParsedQueries(kept=2)
    first = parsed(queries, "actor_id=a")
    second = parsed(queries, "actor_id=b")
    parsed(queries, "actor_id=c")
    assert parsed(queries, "actor_id=b") is second  # still kept
    again = parsed(queries, "actor_id=a")
    assert again == first
    assert again is not first  # forgotten, parsed anew
