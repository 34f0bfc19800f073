"""Checking a query proof (``GET /entries?…&proof=1``, docs/query-proofs.md).

An answer comes in pages: ``limit`` postings each, the next one asked for with the
page's ``next_cursor``, every page pinned to page 1's checkpoint and index leaf.
``check_query_pages`` verifies the pages of one walk (``query_walk.QueryWalk`` says
how), ``check_query_proof`` an answer of one page, and ``verify_query`` fetches every
page of a query from the service and verifies the walk. What is left, filtered by every
filter of the query, sorted, is the verified answer. Each failure names its entry,
bucket or page.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TextIO

from audit_trail.core.errors import ValidationFailed
from audit_trail.core.index.buckets import proof_plan
from audit_trail.core.integrity import Checkpoint
from audit_trail.core.query import MAX_LIMIT, EntryFilters, SortOrder, parse_query
from audit_trail.verify.evidence import check_consistency
from audit_trail.verify.query_walk import QueryResult, QueryWalk
from audit_trail.verify.results import Failed, Failure
from audit_trail.verify.service import ServiceClient, ServiceError

__all__ = [
    "QueryResult",
    "QueryWalk",
    "check_query_pages",
    "check_query_proof",
    "print_entries",
    "verify_query",
]


def check_query_proof(
    body: Mapping[str, Any],
    vkey: str,
    filters: EntryFilters,
    sort: SortOrder = SortOrder.NEWEST_FIRST,
) -> QueryResult:
    """Verify a ``proof=1`` answer of one page to a query with ``filters``, against
    ``vkey``; an answer whose page names a next one fails (use ``check_query_pages``)."""
    return check_query_pages([body], vkey, filters, sort)


def check_query_pages(
    pages: Iterable[Mapping[str, Any]],
    vkey: str,
    filters: EntryFilters,
    sort: SortOrder = SortOrder.NEWEST_FIRST,
) -> QueryResult:
    """Verify the pages of one walk, page 1 first, each the answer to the cursor of the
    one before it: together they must prove the whole answer."""
    walk = QueryWalk(vkey, filters, sort)
    for page in pages:
        walk.add(page)
    return walk.result()


async def verify_query(
    service: ServiceClient, vkey: str, trusted: Checkpoint, params: dict[str, str]
) -> QueryResult:
    """Fetch every page of the answer to the query of ``params`` with its proof (of
    ``MAX_LIMIT`` postings each, unless ``params`` says ``limit``) and verify the walk;
    its checkpoint must extend ``trusted`` (the latest one verified)."""
    try:
        request = parse_query({name: [value] for name, value in params.items()})
        proof_plan(request.filters)  # refused here, before asking the service
    except ValidationFailed as failed:
        return QueryResult(None, 0, (), tuple(Failure(e.field, e.message) for e in failed.errors))
    asked = {"limit": str(MAX_LIMIT), **params}
    walk = QueryWalk(vkey, request.filters, request.sort)
    try:
        walk.add(await service.query_proof(asked))
        while (cursor := walk.next_cursor) is not None:
            walk.add(await service.query_proof({**asked, "cursor": cursor}))
    except ServiceError as exc:
        cut = walk.result()
        return replace(cut, entries=(), failures=(*cut.failures, Failure("query", str(exc))))
    result = walk.result()
    if result.checkpoint is None or result.checkpoint.size == trusted.size:
        return result
    try:
        first, second = sorted((trusted, result.checkpoint), key=lambda c: c.size)
        check_consistency(first, second, await service.consistency(first.size, second.size))
    except ServiceError as exc:
        return replace(result, failures=(*result.failures, Failure("checkpoint", str(exc))))
    except Failed as failed:
        return replace(result, failures=(*result.failures, failed.failure))
    return result


def print_entries(entries: Sequence[Mapping[str, Any]], style: str, out: TextIO) -> None:
    """The verified entries: one JSON object per line, or a table."""
    if style == "ndjson":
        for entry in entries:
            out.write(json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n")
        return
    rows = [
        (
            str(e.get("occurred_at", "")),
            str(e.get("id", "")),
            str(e.get("actor", {}).get("id", "")),
            str(e.get("action", "")),
            "/".join(str(e["target"].get(k, "")) for k in ("type", "id"))
            if e.get("target")
            else "",
        )
        for e in entries
    ]
    header = ("occurred_at", "id", "actor", "action", "target")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        out.write(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            + "\n"
        )
