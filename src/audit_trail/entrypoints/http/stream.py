"""GET /stream: the tenant's changes as Server-Sent Events (docs/streaming.md).

Every event is ``id: <log index>``, ``event: <leaf kind>`` (``record``, ``amend``,
``delete``, ``erase``, ``purge``), ``data: <one line of JSON>``. ``Last-Event-ID`` (a reconnect)
or ``?after=`` resumes after that index; with neither, the stream starts at the end
of the log. Comments keep proxies from closing a quiet stream; a consumer that falls
too far behind gets a ``lagging`` event and the end of the stream.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator

from audit_trail.core import FieldError, ValidationFailed
from audit_trail.core.usecases.stream import (
    Change,
    ChangeStream,
    Heartbeat,
    Lagging,
    StreamItem,
    StreamRequest,
)
from audit_trail.entrypoints.http.messages import HttpResponse
from audit_trail.entrypoints.http.parameters import query_without
from audit_trail.entrypoints.http.routes import Call

NOT_STREAM_PARAMETERS = ("limit", "cursor", "proof", "sort")  # a stream has no pages
_INDEX = re.compile(r"-?[0-9]{1,19}")
RETRY_MS = 2000  # how long an EventSource waits before it reconnects
_HEADERS = (
    ("content-type", "text/event-stream; charset=utf-8"),
    ("cache-control", "no-store"),
    ("x-accel-buffering", "no"),  # nginx: pass each event on at once
)


class StreamEndpoint:
    def __init__(self, stream: ChangeStream) -> None:
        self._stream = stream

    async def stream_changes(self, call: Call) -> HttpResponse:
        params = call.request.query
        after_values = params.pop("after", None)
        query, errors = query_without(params, NOT_STREAM_PARAMETERS)
        after = _after(call.request.header("last-event-id"), after_values, errors)
        if errors:
            raise ValidationFailed(errors)
        request = StreamRequest(call.caller, query.filters, after)
        position = await self._stream.start(request)
        return HttpResponse(200, _HEADERS, stream=self._events(request, position))

    async def _events(self, request: StreamRequest, position: int) -> AsyncGenerator[bytes, None]:
        yield f"retry: {RETRY_MS}\n: changes from log index {position}\n\n".encode()
        async for item in self._stream.follow(request, position):
            yield event_bytes(item)


def event_bytes(item: StreamItem) -> bytes:
    """One item as the text/event-stream format writes it."""
    if isinstance(item, Change):
        data = json.dumps(item.data, separators=(",", ":"), ensure_ascii=False)
        return f"id: {item.index}\nevent: {item.kind}\ndata: {data}\n\n".encode()
    if isinstance(item, Heartbeat):
        return b": heartbeat\n\n"
    assert isinstance(item, Lagging)
    data = json.dumps(
        {
            "detail": f"the stream fell {item.behind} changes behind the log and ends here;"
            f" reconnect with Last-Event-ID: {item.last_index} to go on from where it was",
            "last_event_id": item.last_index,
            "behind": item.behind,
        }
    )
    return f"id: {item.last_index}\nevent: lagging\ndata: {data}\n\n".encode()


def _after(header: str | None, values: list[str] | None, errors: list[FieldError]) -> int | None:
    """Where to resume: a reconnect's ``Last-Event-ID`` wins over ``?after=``."""
    if header is not None and header.strip():
        raw, name = header.strip(), "Last-Event-ID"
    elif values is not None:
        if len(values) != 1:
            errors.append(FieldError("after", "give it once"))
            return None
        raw, name = values[0], "after"
    else:
        return None
    if not _INDEX.fullmatch(raw) or int(raw) < -1:
        errors.append(FieldError(name, "must be a log index, or -1 for the start of the log"))
        return None
    return int(raw)
