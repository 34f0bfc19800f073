"""GET /entries/export: every matching entry, streamed as NDJSON or CSV (docs/lifecycle.md).

NDJSON ends with a trailer line (the checkpoint pinned at the start, the count, the
complement's hashes) that lets a reader verify the whole file offline; CSV has none.

The query filters are GET /entries' own (``parse_query``), without ``limit``, ``cursor``
and ``proof``: an export has no pages. Everything is validated before the first byte:
once streaming has begun the status cannot change.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncGenerator
from datetime import UTC
from typing import Any

import msgspec

from audit_trail.core import ValidationFailed
from audit_trail.core.integrity.leaf import b64
from audit_trail.core.ports.clock import Clock
from audit_trail.core.serialization import entry_to_json
from audit_trail.core.usecases.export import (
    ExportedEntry,
    ExportEntries,
    ExportQuery,
    ExportTrailer,
)
from audit_trail.entrypoints.http.messages import HttpResponse
from audit_trail.entrypoints.http.parameters import query_without
from audit_trail.entrypoints.http.routes import Call

FORMATS = ("ndjson", "csv")
CHUNK_BYTES = 64 * 1024  # lines are sent in chunks of about this much
_MEDIA_TYPES = {"ndjson": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
NOT_EXPORT_PARAMETERS = ("limit", "cursor", "proof")  # an export has no pages

CSV_COLUMNS = (
    "id",
    "revision",
    "tenant",
    "occurred_at",
    "recorded_at",
    "action",
    "outcome",
    "actor.id",
    "actor.type",
    "actor.name",
    "target.type",
    "target.id",
    "target.name",
    "tags",
    "metadata",
    "source.ip",
    "source.user_agent",
    "recorded_by",
    "erased",
)
# OWASP CSV injection: a spreadsheet evaluates a cell that starts with one of these
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def ndjson_line(exported: ExportedEntry) -> bytes:
    line: dict[str, Any] = {"entry": entry_to_json(exported.entry)}
    line["leaf_index"] = exported.leaf_index
    proven = exported.proven
    if proven is not None:
        # msgspec writes bytes as standard base64 with padding: the format's own
        line["salts"] = proven.salts
        line["digests"] = proven.digests
        line["prev"] = proven.prev
    return msgspec.json.encode(line) + b"\n"


async def trailer_line(trailer: ExportTrailer) -> AsyncGenerator[bytes, None]:
    """``{"trailer": {...}}`` and a newline, the complement's hashes written out as
    storage gives them, never all held at once."""
    head = {
        "checkpoint": trailer.checkpoint,
        "tree_size": trailer.tree_size,
        "count": trailer.count,
        "after_checkpoint": trailer.after_checkpoint,
    }
    yield b'{"trailer":' + msgspec.json.encode(head)[:-1] + b',"complement":['
    separator = b""
    async for hashes in trailer.complement:
        if hashes:
            yield separator + b",".join(b'"' + b64(h).encode() + b'"' for h in hashes)
            separator = b","
    yield b"]}}\n"


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    else:
        text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_row(values: list[object]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([_cell(v) for v in values])
    return buffer.getvalue().encode()


def csv_values(exported: ExportedEntry) -> list[object]:
    data = entry_to_json(exported.entry)
    values: list[object] = []
    for column in CSV_COLUMNS:
        if column in ("tags", "metadata"):
            values.append(data.get(column, [] if column == "tags" else {}))
            continue
        if column == "erased":  # the erased paths, space-separated; empty when none
            values.append(" ".join(data.get("erased", ())))
            continue
        value: Any = data
        for part in column.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        values.append(value)
    return values


class ExportEndpoint:
    def __init__(self, export: ExportEntries, clock: Clock) -> None:
        self._export = export
        self._clock = clock

    async def export_entries(self, call: Call) -> HttpResponse:
        params = call.request.query
        kind = _format(params.pop("format", None))
        request, errors = query_without(params, NOT_EXPORT_PARAMETERS)
        if errors:
            raise ValidationFailed(errors)
        query = ExportQuery(call.caller, request.filters, request.sort, trailer=kind == "ndjson")
        self._export.check(query)
        stamp = self._clock.now().astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        tenant = "".join(c if c.isalnum() or c in "-_." else "_" for c in call.caller.tenant)
        filename = f"audit-trail-{tenant}-{stamp}.{kind}"
        headers = (
            ("content-type", _MEDIA_TYPES[kind]),
            ("content-disposition", f'attachment; filename="{filename}"'),
            ("cache-control", "no-store"),
        )
        body = self._ndjson(query) if kind == "ndjson" else self._csv(query)
        return HttpResponse(200, headers, stream=body)

    async def _ndjson(self, query: ExportQuery) -> AsyncGenerator[bytes, None]:
        chunk: list[bytes] = []
        size = 0
        async for exported in self._export.execute(query):
            if isinstance(exported, ExportTrailer):
                if chunk:
                    yield b"".join(chunk)
                async for part in trailer_line(exported):
                    yield part
                return
            line = ndjson_line(exported)
            chunk.append(line)
            size += len(line)
            if size >= CHUNK_BYTES:  # one send per line would cost more than the line
                yield b"".join(chunk)
                chunk, size = [], 0
        if chunk:
            yield b"".join(chunk)

    async def _csv(self, query: ExportQuery) -> AsyncGenerator[bytes, None]:
        chunk = [csv_row(list(CSV_COLUMNS))]
        size = 0
        async for exported in self._export.execute(query):
            if isinstance(exported, ExportedEntry):
                chunk.append(csv_row(csv_values(exported)))
                size += len(chunk[-1])
                if size >= CHUNK_BYTES:
                    yield b"".join(chunk)
                    chunk, size = [], 0
        if chunk:
            yield b"".join(chunk)


def _format(raw: list[str] | None) -> str:
    if raw is None:
        return FORMATS[0]
    if len(raw) != 1 or raw[0] not in FORMATS:
        raise ValidationFailed.single("format", f"must be one of: {', '.join(FORMATS)}")
    return raw[0]
