"""The endpoints of /entries: parse, call a use case, render. Nothing framework-specific."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from audit_trail.core import Entry, ValidationFailed, validate_entry
from audit_trail.core.ports import RequestContext
from audit_trail.core.ports.idempotency import StoredResponse
from audit_trail.core.serialization import entry_to_json
from audit_trail.core.usecases import (
    AmendEntry,
    AmendEntryCommand,
    DeleteEntry,
    DeleteEntryCommand,
    EntryHistory,
    EntryHistoryQuery,
    GetEntry,
    GetEntryQuery,
    QueryEntries,
    QueryEntriesQuery,
    RecordEntries,
    RecordEntriesCommand,
    RecordEntry,
    RecordEntryCommand,
)
from audit_trail.core.usecases.idempotent import (
    IdempotentCommand,
    IdempotentRecording,
    Perform,
    Render,
    request_fingerprint,
)
from audit_trail.core.usecases.query_proof import ProveQuery, QueryProofRequest
from audit_trail.core.usecases.read import DEFAULT_HISTORY_LIMIT
from audit_trail.entrypoints.http.batch import validate_batch
from audit_trail.entrypoints.http.body import json_body
from audit_trail.entrypoints.http.conditional import etag, when_matching
from audit_trail.entrypoints.http.idempotency import (
    idempotency_key,
    keyed_response,
    stored_response,
)
from audit_trail.entrypoints.http.messages import (
    HttpRequest,
    HttpResponse,
    empty_response,
    json_response,
)
from audit_trail.entrypoints.http.parameters import integer_parameters
from audit_trail.entrypoints.http.parsed_queries import ParsedQueries
from audit_trail.entrypoints.http.paths import entry_location
from audit_trail.entrypoints.http.query_proofs import query_proof_json
from audit_trail.entrypoints.http.routes import Call, Endpoint

_JSON = (("content-type", "application/json"),)

# Credentials never reach plugins: they have no use for them, and must not log them.
_PRIVATE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def _context(request: HttpRequest) -> RequestContext:
    headers = {k: v for k, v in request.headers.items() if k not in _PRIVATE_HEADERS}
    return RequestContext(client_ip=request.client_ip, headers=headers)


def _one(status: int, entry: Entry, *headers: tuple[str, str]) -> HttpResponse:
    return json_response(status, entry_to_json(entry), (*headers, etag(entry)))


def _created(entry: Entry) -> HttpResponse:
    return _one(201, entry, ("location", entry_location(entry.id)))


def _many(status: int, entries: Sequence[Entry]) -> HttpResponse:
    return json_response(status, {"items": [entry_to_json(e) for e in entries]})


@dataclass(frozen=True, slots=True)
class _Keyed:
    """A recording request with an Idempotency-Key: what its fingerprint is made of,
    and how many entries it records."""

    key: str
    operation: str
    payload: object
    count: int


class EntryEndpoints:
    """Receives the use cases; never reaches into the container."""

    def __init__(
        self,
        *,
        record: RecordEntry,
        record_many: RecordEntries,
        get: GetEntry,
        query: QueryEntries,
        amend: AmendEntry,
        delete: DeleteEntry,
        history: EntryHistory,
        prove: ProveQuery,
        idempotent: IdempotentRecording,
        max_batch_entries: int,
    ) -> None:
        self._record = record
        self._record_many = record_many
        self._get = get
        self._query = query
        self._amend = amend
        self._delete = delete
        self._history = history
        self._prove = prove
        self._idempotent = idempotent
        self._max_batch_entries = max_batch_entries
        self._queries = ParsedQueries()

    def endpoints(self) -> dict[str, Endpoint]:
        return {
            "recordEntry": self.record_entry,
            "recordEntries": self.record_entries,
            "queryEntries": self.query_entries,
            "getEntry": self.get_entry,
            "amendEntry": self.amend_entry,
            "deleteEntry": self.delete_entry,
            "getEntryHistory": self.entry_history,
        }

    async def record_entry(self, call: Call) -> HttpResponse:
        key = idempotency_key(call.request)
        payload = json_body(call.request)
        draft = validate_entry(payload)
        context = _context(call.request)
        if key is None:
            entry = await self._record.execute(RecordEntryCommand(call.caller, draft, context))
            return _created(entry)

        async def perform(ids: Sequence[str]) -> StoredResponse:
            command = RecordEntryCommand(call.caller, draft, context, ids[0])
            return stored_response(_created(await self._record.execute(command)))

        def render(entries: Sequence[Entry]) -> StoredResponse:
            return stored_response(_created(entries[0]))

        keyed = _Keyed(key, "recordEntry", payload, 1)
        return await self._keyed(call, keyed, perform, render)

    async def record_entries(self, call: Call) -> HttpResponse:
        key = idempotency_key(call.request)
        payload = json_body(call.request)
        drafts = validate_batch(payload, self._max_batch_entries)
        context = _context(call.request)

        async def record(ids: Sequence[str] | None) -> list[Entry]:
            command = RecordEntriesCommand(call.caller, drafts, context, ids)
            try:
                return await self._record_many.execute(command)
            except ValidationFailed as failure:  # items are named [i]; the body: entries
                raise failure.within("entries") from None

        if key is None:
            return _many(201, await record(None))

        async def perform(ids: Sequence[str]) -> StoredResponse:
            return stored_response(_many(201, await record(ids)))

        def render(entries: Sequence[Entry]) -> StoredResponse:
            return stored_response(_many(201, entries))

        keyed = _Keyed(key, "recordEntries", payload, len(drafts))
        return await self._keyed(call, keyed, perform, render)

    async def _keyed(
        self, call: Call, keyed: _Keyed, perform: Perform, render: Render
    ) -> HttpResponse:
        fingerprint = request_fingerprint(keyed.operation, keyed.payload)
        command = IdempotentCommand(call.caller, keyed.key, fingerprint, keyed.count)
        return keyed_response(await self._idempotent.execute(command, perform, render))

    async def query_entries(self, call: Call) -> HttpResponse:
        request = self._queries.parse(call.request.raw_query)
        if request.proof:
            asked = QueryProofRequest(call.caller, request.filters, request.limit, request.cursor)
            proof = await self._prove.execute(asked)
            return json_response(200, query_proof_json(proof))
        result = await self._query.execute(QueryEntriesQuery(call.caller, request))
        return HttpResponse(200, _JSON, result.body)

    async def get_entry(self, call: Call) -> HttpResponse:
        query = GetEntryQuery(call.caller, call.path_param("entry_id"))
        return _one(200, await self._get.execute(query))

    async def amend_entry(self, call: Call) -> HttpResponse:
        draft = validate_entry(json_body(call.request))
        entry_id, context = call.path_param("entry_id"), _context(call.request)

        async def amend(revision: int | None) -> Entry:
            command = AmendEntryCommand(call.caller, entry_id, draft, revision, context)
            return await self._amend.execute(command)

        return _one(200, await when_matching(call.request, amend))

    async def delete_entry(self, call: Call) -> HttpResponse:
        entry_id = call.path_param("entry_id")

        async def delete(revision: int | None) -> None:
            await self._delete.execute(DeleteEntryCommand(call.caller, entry_id, revision))

        await when_matching(call.request, delete)
        return empty_response(204)

    async def entry_history(self, call: Call) -> HttpResponse:
        page = integer_parameters(call.request.query, (), ("after", "limit"))
        query = EntryHistoryQuery(
            call.caller,
            call.path_param("entry_id"),
            after=page.get("after", 0),
            limit=page.get("limit", DEFAULT_HISTORY_LIMIT),
        )
        history = await self._history.execute(query)
        items = [entry_to_json(e) for e in history.items]
        return json_response(200, {"items": items, "next_after": history.next_after})
