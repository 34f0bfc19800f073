"""ParsedQueries: each distinct query string validated once per process, not per request.

Readers ask the same queries again and again (a dashboard's page, a poll, a viewer):
for a cache hit, validating the parameters and putting the query in canonical form
was a sixth of the request. The last ``kept`` query strings seen are remembered with
their ``QueryRequest`` (frozen, so sharing it is safe); a refused one is not.
"""

from __future__ import annotations

from collections import OrderedDict

from audit_trail.core import parse_query
from audit_trail.core.query import QueryRequest
from audit_trail.entrypoints.http.messages import query_parameters


class ParsedQueries:
    def __init__(self, kept: int = 1024) -> None:
        if kept <= 0:
            raise ValueError("keep at least one query")
        self._kept = kept
        self._requests: OrderedDict[str, QueryRequest] = OrderedDict()

    def parse(self, raw_query: str) -> QueryRequest:
        """``parse_query`` of the parameters of ``raw_query``, remembered."""
        request = self._requests.get(raw_query)
        if request is not None:
            self._requests.move_to_end(raw_query)
            return request
        # raises when refused: nothing remembered
        request = parse_query(query_parameters(raw_query))
        self._requests[raw_query] = request
        if len(self._requests) > self._kept:
            self._requests.popitem(last=False)
        return request
