"""The one error table, driven through the shared layer with endpoints that fail."""

from __future__ import annotations

import logging

import msgspec
import pytest

from audit_trail.core import (
    DuplicateEntry,
    EntryTooLarge,
    PluginFailed,
    Principal,
    RevisionConflict,
    StorageUnavailable,
)
from audit_trail.entrypoints.http import ROUTES, HttpApi, HttpRequest, HttpResponse
from audit_trail.entrypoints.http.auth import BearerAuthenticator
from audit_trail.entrypoints.http.routes import Call

SECRET_DETAIL = "mongodb://admin:hunter2@db.internal:27017 refused"


class TrustingVerifier:
    def verify(self, token: str) -> Principal:
        return Principal("u-1", "acme", frozenset({"audit:read"}))


def api_raising(error: Exception) -> HttpApi:
    async def fail(call: Call) -> HttpResponse:
        raise error

    endpoints = {route.operation: fail for route in ROUTES.routes}
    return HttpApi(endpoints, BearerAuthenticator(TrustingVerifier()), max_body_bytes=1024)


async def answer(error: Exception) -> tuple[HttpResponse, dict[str, object]]:
    request = HttpRequest("GET", headers={"authorization": "Bearer t"})
    query = next(route for route in ROUTES.routes if route.operation == "queryEntries")
    response = await api_raising(error).serve(query, request)
    assert response.header("content-type") == "application/problem+json"
    body: dict[str, object] = msgspec.json.decode(response.body)
    assert body["status"] == response.status
    return response, body


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (DuplicateEntry("e-1"), 409),
        (RevisionConflict("e-1", 1, 2), 409),
        (EntryTooLarge(SECRET_DETAIL), 413),
        (PluginFailed("acme_secret_plugin", "audit_prepare"), 500),
        (StorageUnavailable(SECRET_DETAIL), 503),
        (RuntimeError(SECRET_DETAIL), 500),
    ],
)
async def test_errors_map_to_problems_that_name_no_internals(error: Exception, status: int) -> None:
    response, body = await answer(error)
    assert response.status == status
    assert "hunter2" not in str(body)
    assert "acme_secret_plugin" not in str(body)


async def test_storage_unavailable_says_when_to_retry() -> None:
    response, _ = await answer(StorageUnavailable("down"))
    retry_after = response.header("retry-after")
    assert retry_after is not None
    assert retry_after.isdigit()


async def test_an_unexpected_error_is_logged_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR):
        response, body = await answer(ZeroDivisionError("boom"))
    assert response.status == 500
    assert body["title"] == "Internal server error"
    records = [r for r in caplog.records if r.exc_info]
    assert records
    assert records[0].exc_info is not None
    assert records[0].exc_info[0] is ZeroDivisionError


@pytest.mark.parametrize(
    ("hook", "detail"),
    [
        ("audit_redact_entry", "the entry could not be prepared; it was not stored"),
        ("audit_redact_for_reader", "the entry could not be prepared for reading"),
    ],
)
async def test_a_plugin_failure_says_whether_a_write_was_refused(hook: str, detail: str) -> None:
    response, body = await answer(PluginFailed("acme_secret_plugin", hook))
    assert response.status == 500
    assert body["detail"] == detail
