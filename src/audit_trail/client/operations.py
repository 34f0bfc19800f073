"""Every operation of the client once, as a flow (see ``flows``): the request it
makes, and how the answer is read. The sync and async clients only run them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from audit_trail.client import proofs
from audit_trail.client.errors import UnexpectedResponse
from audit_trail.client.flows import Flow, Request, TokenSource, exchange, json_of
from audit_trail.client.inputs import EntryLike, EntryQuery, entry_json
from audit_trail.client.models import Entry, History, LogKey, Page, Proof, entries_of
from audit_trail.client.retry import RetryPolicy
from audit_trail.verify.service import BASE_PATH

HISTORY_PAGE = 1000


def _entry_path(entry_id: str, tail: str = "") -> str:
    return f"{BASE_PATH}/entries/{quote(entry_id, safe='')}{tail}"


def _if_match(revision: int | None) -> dict[str, str]:
    return {} if revision is None else {"if-match": f'"{revision}"'}


class Operations:
    """The operations over one service: its token, its retry policy, and the verifier
    key trusted for proofs (``vkey``; None: the served one, fetched once)."""

    def __init__(self, token: TokenSource, policy: RetryPolicy, vkey: str | None) -> None:
        self.token = token
        self.policy = policy
        self.vkey = None if vkey is None else proofs.check_vkey(vkey)

    def _call(self, request: Request) -> Flow[Any]:
        response = yield from exchange(request, self.token, self.policy)
        return json_of(response) if response.content else None

    def check(self) -> Flow[bool]:
        body = yield from self._call(Request("GET", f"{BASE_PATH}/check-port", authenticated=False))
        return isinstance(body, dict) and body.get("status") == "ok"

    def record(self, entry: EntryLike, idempotency_key: str | None = None) -> Flow[Entry]:
        key = idempotency_key or str(uuid.uuid4())
        path, payload = f"{BASE_PATH}/entries", entry_json(entry)
        body = yield from self._call(Request("POST", path, json=payload, idempotency_key=key))
        return Entry.from_json(body)

    def record_batch(
        self, entries: Iterable[EntryLike], idempotency_key: str | None = None
    ) -> Flow[tuple[Entry, ...]]:
        key = idempotency_key or str(uuid.uuid4())
        payload = {"entries": [entry_json(e) for e in entries]}
        path = f"{BASE_PATH}/entries/batch"
        body = yield from self._call(Request("POST", path, json=payload, idempotency_key=key))
        return entries_of(body, "the recorded batch")

    def get(self, entry_id: str) -> Flow[Entry]:
        body = yield from self._call(Request("GET", _entry_path(entry_id)))
        return Entry.from_json(body)

    def query_page(self, query: EntryQuery | None, cursor: str | None = None) -> Flow[Page]:
        params = (query or EntryQuery()).params(cursor)
        body = yield from self._call(Request("GET", f"{BASE_PATH}/entries", params=params))
        return Page.from_json(body)

    def history(self, entry_id: str) -> Flow[History]:
        revisions: list[Entry] = []
        after: int | None = 0
        while after is not None:
            params = {"after": str(after), "limit": str(HISTORY_PAGE)}
            body = yield from self._call(Request("GET", _entry_path(entry_id, "/history"), params))
            revisions += entries_of(body, f"the history of {entry_id}")
            after = body.get("next_after")
            if after is not None and not isinstance(after, int):
                raise UnexpectedResponse(f"history of {entry_id}: next_after {after!r}")
        return History(entry_id, tuple(revisions))

    def amend(self, entry_id: str, entry: EntryLike, if_match: int | None = None) -> Flow[Entry]:
        payload, headers = entry_json(entry), _if_match(if_match)
        request = Request("PUT", _entry_path(entry_id), json=payload, headers=headers)
        body = yield from self._call(request)
        return Entry.from_json(body)

    def delete(self, entry_id: str, if_match: int | None = None) -> Flow[None]:
        request = Request("DELETE", _entry_path(entry_id), headers=_if_match(if_match))
        yield from self._call(request)

    def log_key(self) -> Flow[LogKey]:
        request = Request("GET", f"{BASE_PATH}/log/key", authenticated=False)
        return proofs.log_key((yield from self._call(request)))

    def checkpoint(self) -> Flow[str]:
        request = Request("GET", f"{BASE_PATH}/log/checkpoint")
        response = yield from exchange(request, self.token, self.policy)
        return response.text

    def get_proof(
        self, entry_id: str, revision: int | None, tree_size: int | None, verify: bool
    ) -> Flow[Proof]:
        params = {
            name: str(value)
            for name, value in (("revision", revision), ("tree_size", tree_size))
            if value is not None
        }
        vkey: str | None = None
        if verify:
            if self.vkey is None:  # trust on first use: see docs/client.md
                self.vkey = (yield from self.log_key()).vkey
            vkey = self.vkey
        body = yield from self._call(Request("GET", _entry_path(entry_id, "/proof"), params))
        return proofs.proof(body, entry_id, revision, vkey)
