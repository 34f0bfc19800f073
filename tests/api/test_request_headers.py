"""X-Request-ID, Cache-Control and X-Content-Type-Options on every answer of both apps,
and the request log line that names each request without its secrets.

These run on the memory backend only: the headers and the log line are the HTTP
layer's, the same over every storage (the full matrix costs a CPU minute here)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from audit_trail.entrypoints.logs import TEXT_FORMAT, JsonFormatter
from tests.api.client import BASE, Api, entry
from tests.api.conftest import FRAMEWORKS, Serve, api_settings
from tests.api.tokens import KeyPair, Tokens

NOSNIFF = "nosniff"


@pytest.fixture(params=sorted(FRAMEWORKS))
async def app(
    request: pytest.FixtureRequest, keys: KeyPair, tokens: Tokens, tmp_path: Path, serve: Serve
) -> Api:
    settings = api_settings(keys, tmp_path, storage="memory", cache="memory")
    return Api(await serve(request.param, settings), tokens)


# (method, path, anonymous, the status it answers)
ANSWERS = [
    pytest.param("POST", "/entries", False, 201, id="2xx"),
    pytest.param("GET", "/entries", True, 401, id="problem-401"),
    pytest.param("GET", "/entries?limit=abc", False, 422, id="problem-422"),
    pytest.param("GET", "/no/such/path", False, 404, id="unknown-path"),
    pytest.param("PATCH", "/entries", False, 405, id="method-not-allowed"),
    pytest.param("GET", "/check-port", True, 200, id="public"),
]


@pytest.mark.parametrize(("method", "path", "anonymous", "status"), ANSWERS)
async def test_a_valid_request_id_is_echoed(
    app: Api, method: str, path: str, anonymous: bool, status: int
) -> None:
    body = entry() if method == "POST" else None
    response = await app.call(
        method, path, anonymous=anonymous, headers={"X-Request-ID": "trace-1.a:b_C"}, json=body
    )
    assert response.status_code == status, response.text
    assert response.headers["x-request-id"] == "trace-1.a:b_C"
    assert response.headers["x-content-type-options"] == NOSNIFF


@pytest.mark.parametrize(("method", "path", "anonymous", "status"), ANSWERS)
async def test_a_request_id_is_made_when_none_is_sent(
    app: Api, method: str, path: str, anonymous: bool, status: int
) -> None:
    body = entry() if method == "POST" else None
    first = await app.call(method, path, anonymous=anonymous, json=body)
    second = await app.call(method, path, anonymous=anonymous, json=body)
    assert first.status_code == status
    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert ids[0] != ids[1]
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)  # 128 random bits, in hex


@pytest.mark.parametrize(
    "sent", ["", "x" * 129, "a b", "é", "<script>", "id\u2028", "a/b", "a,b"], ids=repr
)
async def test_an_invalid_request_id_is_replaced(app: Api, sent: str) -> None:
    token = app.tokens.token()
    headers = [(b"authorization", f"Bearer {token}".encode()), (b"x-request-id", sent.encode())]
    response = await app.http.get(f"{BASE}/entries", headers=headers)
    assert response.status_code == 200
    made = response.headers["x-request-id"]
    assert made != sent
    assert len(made) == 32


async def test_the_longest_valid_request_id_is_kept(app: Api) -> None:
    sent = "a" * 128
    response = await app.call("GET", "/check-port", anonymous=True, headers={"X-Request-ID": sent})
    assert response.headers["x-request-id"] == sent


async def test_a_streamed_answer_carries_the_headers(app: Api) -> None:
    await app.record()
    response = await app.call("GET", "/entries/export", headers={"X-Request-ID": "export-1"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "export-1"
    assert response.headers["x-content-type-options"] == NOSNIFF
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("method", "path", "anonymous"),
    [("GET", "/entries", False), ("GET", "/entries", True), ("POST", "/entries", False)],
)
async def test_authenticated_answers_are_not_stored(
    app: Api, method: str, path: str, anonymous: bool
) -> None:
    body = entry() if method == "POST" else None
    response = await app.call(method, path, anonymous=anonymous, json=body)
    assert response.headers["cache-control"] == "no-store"


async def test_an_entry_with_an_etag_is_not_stored_either(app: Api) -> None:
    stored = await app.record()
    response = await app.call("GET", f"/entries/{stored['id']}")
    assert response.headers["etag"]
    assert response.headers["cache-control"] == "no-store"


async def test_public_assets_keep_their_own_caching(app: Api) -> None:
    response = await app.call("GET", "/docs", anonymous=True)
    assert response.headers.get("cache-control") != "no-store"
    assert response.headers["x-content-type-options"] == NOSNIFF


# --- the request log ---

TOKEN_MARK = "SecretEntryContent-7f3a"


def _service_records(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    """The service's records: not the test client's (httpx logs the URL it sends)."""
    return [r for r in records if not r.name.startswith(("httpx", "httpcore"))]


def _log_text(records: list[logging.LogRecord]) -> str:
    formatter, text = JsonFormatter(), logging.Formatter(TEXT_FORMAT)
    return "\n".join(f"{formatter.format(r)}\n{text.format(r)}" for r in records)


async def test_each_request_is_logged_without_its_secrets(
    app: Api, caplog: pytest.LogCaptureFixture
) -> None:
    token = app.tokens.token(tenant="acme")
    with caplog.at_level(logging.DEBUG):
        stored = await app.call(
            "POST",
            f"/entries?note={TOKEN_MARK}",
            token=token,
            json=entry(metadata={"secret": TOKEN_MARK}, action=f"x.{TOKEN_MARK.lower()}"),
            headers={"X-Request-ID": "req-1"},
        )
        assert stored.status_code == 201, stored.text
        entry_id = stored.json()["id"]
        await app.call("GET", f"/entries/{entry_id}", token=token)
        await app.call("GET", "/entries", token=f"{token}x")  # a bad token
        await app.call("GET", "/entries", token=f"not-a-jwt-{TOKEN_MARK}")
        await app.call("GET", f"/nothing/{TOKEN_MARK}", token=token)
    records = _service_records(caplog.records)
    assert records
    text = _log_text(records)
    for secret in (token, token.split(".")[2], TOKEN_MARK, TOKEN_MARK.lower()):
        assert secret not in text
    lines = [
        json.loads(JsonFormatter().format(r))
        for r in caplog.records
        if r.name == "audit_trail.access"
    ]
    assert [(line["method"], line["route"], line["status"]) for line in lines] == [
        ("POST", f"{BASE}/entries", 201),
        ("GET", f"{BASE}/entries/{{entry_id}}", 200),
        ("GET", f"{BASE}/entries", 401),
        ("GET", f"{BASE}/entries", 401),
        ("GET", "(unmatched)", 404),
    ]
    assert lines[0]["request_id"] == "req-1"
    assert lines[0]["tenant"] == lines[1]["tenant"] == "acme"
    assert "tenant" not in lines[2]
    assert all(line["duration_ms"] >= 0 for line in lines)


async def test_the_openapi_document_says_what_a_request_id_may_be(app: Api) -> None:
    document = (await app.call("GET", "/openapi.json", anonymous=True)).json()
    assert "`X-Request-ID`" in document["info"]["description"]
    assert "1 to 128 characters" in document["info"]["description"]
