"""GET /entries/export: every matching entry of the caller's tenant, streamed."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from audit_trail.core.integrity import leaf_hash
from audit_trail.core.integrity.leaf import leaf_bytes
from audit_trail.verify.export_file import ExportResult, verify_export
from audit_trail.verify.query_entries import rebuilt_leaves
from tests.api.client import Api, entry, error_fields, problem
from tests.api.conftest import APP_PARAMS, BACKENDS, Serve, api_settings
from tests.api.tokens import KeyPair, Tokens

PAGE = 7  # entries per storage read: a few entries span several pages


@pytest.fixture(params=APP_PARAMS)
async def small_pages(
    request: pytest.FixtureRequest, keys: KeyPair, tokens: Tokens, tmp_path: Path, serve: Serve
) -> Api:
    """Every app on every backend, reading the export ``PAGE`` entries at a time."""
    framework, backend = request.param
    overrides = {**BACKENDS[backend](request), "export_page_size": PAGE}
    return Api(await serve(framework, api_settings(keys, tmp_path, **overrides)), tokens)


async def _record_many(api: Api, count: int, tenant: str = "acme", **fields: Any) -> None:
    for start in range(0, count, 20):  # MAX_BATCH_ENTRIES of the suite
        batch = [
            entry(occurred_at=f"2026-11-28T09:{i // 60:02d}:{i % 60:02d}.000Z", **fields)
            for i in range(start, min(count, start + 20))
        ]
        response = await api.call("POST", "/entries/batch", json={"entries": batch}, tenant=tenant)
        assert response.status_code == 201, response.text


def _lines(body: str) -> list[dict[str, Any]]:
    """The entry lines of an NDJSON export, once its last line is the trailer."""
    lines = [json.loads(line) for line in body.splitlines()]
    assert set(lines[-1]) == {"trailer"}
    return lines[:-1]


async def _verified_offline(api: Api, body: str) -> ExportResult:
    vkey = (await api.call("GET", "/log/key", anonymous=True)).json()["vkey"]
    result = verify_export(body.splitlines(), vkey)
    assert result.failures == []
    return result


async def test_ndjson_exports_every_matching_entry_once_across_pages(small_pages: Api) -> None:
    api = small_pages
    await _record_many(api, 3 * PAGE + 2, action="doc.read")
    await _record_many(api, 3, action="doc.delete")
    await _record_many(api, 4, tenant="globex", action="doc.read")
    response = await api.call("GET", "/entries/export", params={"action": "doc.read"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="audit-trail-acme-')
    assert disposition.endswith('.ndjson"')
    lines = _lines(response.text)
    exported = [line["entry"] for line in lines]
    assert len({e["id"] for e in exported}) == len(exported) == 3 * PAGE + 2
    assert {(e["tenant"], e["action"]) for e in exported} == {("acme", "doc.read")}
    assert all(isinstance(line["leaf_index"], int) for line in lines)
    assert all(set(line["salts"]) >= {"action", "actor.id"} for line in lines)
    # the same entries, in the same order, as GET /entries shows them
    shown = await api.items("/entries", params={"action": "doc.read", "limit": "1000"})
    assert exported == shown
    verified = await _verified_offline(api, response.text)
    assert verified.lines == 3 * PAGE + 2
    assert verified.checkpoint is not None
    assert verified.checkpoint.size == 3 * PAGE + 2 + 3  # all of acme's log, not globex's


async def test_an_amended_entry_and_a_deleted_one_verify_offline(small_pages: Api) -> None:
    api = small_pages
    await _record_many(api, PAGE + 1)
    first, second = (await api.items("/entries", params={"limit": "2"}))[:2]
    await api.call("PUT", f"/entries/{first['id']}", json=entry(action="doc.amended"))
    assert (await api.call("DELETE", f"/entries/{second['id']}")).status_code == 204
    response = await api.call("GET", "/entries/export")
    lines = _lines(response.text)
    assert len(lines) == PAGE
    verified = await _verified_offline(api, response.text)
    assert verified.checkpoint is not None
    assert verified.checkpoint.size == PAGE + 3
    trailer = json.loads(response.text.splitlines()[-1])["trailer"]
    assert trailer["count"] == PAGE
    assert trailer["after_checkpoint"] == 0
    assert len(trailer["complement"]) >= 1  # the replaced revision, the tombstoned entry


async def test_oldest_first_when_asked(small_pages: Api) -> None:
    await _record_many(small_pages, PAGE + 1)
    response = await small_pages.call("GET", "/entries/export", params={"sort": "occurred_at"})
    times = [line["entry"]["occurred_at"] for line in _lines(response.text)]
    assert times == sorted(times)
    assert len(times) == PAGE + 1


async def test_csv_has_stable_columns_and_neutralises_formulas(api: Api) -> None:
    stored = await api.record(
        entry(actor={"id": "=HYPERLINK(1)", "name": "@Ada"}, metadata={"n": 'x,"y"\n'})
    )
    response = await api.call("GET", "/entries/export", params={"format": "csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].endswith('.csv"')
    rows = list(csv.reader(io.StringIO(response.text, newline="")))
    assert rows[0] == [
        "id", "revision", "tenant", "occurred_at", "recorded_at", "action", "outcome",
        "actor.id", "actor.type", "actor.name", "target.type", "target.id", "target.name",
        "tags", "metadata", "source.ip", "source.user_agent", "recorded_by", "erased",
    ]  # fmt: skip
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["id"] == stored["id"]
    assert row["actor.id"] == "'=HYPERLINK(1)"
    assert row["actor.name"] == "'@Ada"
    assert json.loads(row["metadata"]) == {"n": 'x,"y"\n'}
    assert json.loads(row["tags"]) == ["ui"]
    assert row["erased"] == ""


async def test_an_empty_export_is_its_trailer_or_just_the_header(api: Api) -> None:
    body = (await api.call("GET", "/entries/export")).text
    trailer = json.loads(body)["trailer"]
    assert (trailer["tree_size"], trailer["count"], trailer["complement"]) == (0, 0, [])
    assert (await _verified_offline(api, body)).lines == 0
    csv_body = (await api.call("GET", "/entries/export", params={"format": "csv"})).text
    assert csv_body.count("\n") == 1


async def test_refusals(api: Api) -> None:
    problem(await api.call("GET", "/entries/export", anonymous=True), 401)
    problem(await api.call("GET", "/entries/export", scopes=["audit:write"]), 403)
    bad = await api.call("GET", "/entries/export", params={"format": "xlsx"})
    assert "ndjson" in problem(bad, 422)["errors"][0]["message"]
    assert error_fields(bad) == {"format"}
    unknown = await api.call("GET", "/entries/export", params={"limit": "5", "bogus": "1"})
    assert error_fields(unknown) == {"limit", "bogus"}
    assert error_fields(await api.call("GET", "/entries/export", params={"since": "x"})) == {
        "since"
    }


async def test_the_openapi_document_describes_it(api: Api) -> None:
    document = (await api.call("GET", "/openapi.json", anonymous=True)).json()
    operation = document["paths"]["/apiv3/audit_trail/entries/export"]["get"]
    assert operation["operationId"] == "exportEntries"
    names = {p["name"] for p in operation["parameters"]}
    assert {"format", "action", "since", "sort"} <= names
    assert not names & {"limit", "cursor", "proof"}
    assert set(operation["responses"]["200"]["content"]) == {
        "application/x-ndjson",
        "text/csv; charset=utf-8",
    }


async def test_each_line_rebuilds_the_leaf_at_its_index(api: Api) -> None:
    first = await api.record()
    await api.call("PUT", f"/entries/{first['id']}", json=entry(action="doc.amended"))
    await api.record(entry(action="doc.other"))
    lines = _lines((await api.call("GET", "/entries/export")).text)
    end = max(line["leaf_index"] for line in lines) + 1
    leaves = await api.call("GET", "/log/leaves", params={"start": "0", "end": str(end)})
    assert leaves.status_code == 200, leaves.text
    by_index = {leaf["index"]: leaf["leaf"] for leaf in leaves.json()["leaves"]}
    rebuilt = rebuilt_leaves({line["entry"]["id"]: line for line in lines}, "acme")
    for line in lines:
        served = rebuilt[line["entry"]["id"]]
        assert served.failure is None
        assert served.leaf_hash == leaf_hash(leaf_bytes(by_index[line["leaf_index"]]))
    assert {line["prev"] is None for line in lines} == {True, False}


async def test_head_sends_the_headers_without_the_body(api: Api) -> None:
    await api.record()
    response = await api.call("HEAD", "/entries/export", params={"format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content == b""
