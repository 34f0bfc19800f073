"""GET /stream refusals, on every app and backend: what is checked before the first
byte (the events themselves: tests/integration/test_stream.py, on real servers)."""

from __future__ import annotations

import pytest

from tests.api.client import Api, error_fields, problem


@pytest.mark.parametrize(
    ("params", "headers", "named"),
    [
        ({"after": "x"}, {}, "after"),
        ({"after": "-2"}, {}, "after"),
        ({"after": ["1", "2"]}, {}, "after"),
        ({}, {"last-event-id": "seven"}, "Last-Event-ID"),
        ({"limit": "5"}, {}, "limit"),
        ({"cursor": "abc"}, {}, "cursor"),
        ({"sort": "occurred_at"}, {}, "sort"),
        ({"outcome": "sideways"}, {}, "outcome"),
        ({"colour": "red"}, {}, "colour"),
    ],
)
async def test_a_bad_stream_request_is_a_422_naming_the_parameter(
    api: Api, params: dict[str, str], headers: dict[str, str], named: str
) -> None:
    response = await api.call("GET", "/stream", params=params, headers=headers)
    assert named in error_fields(response)


async def test_a_stream_needs_a_token_with_the_read_scope(api: Api) -> None:
    problem(await api.call("GET", "/stream", anonymous=True), 401)
    problem(await api.call("GET", "/stream", scopes=["audit:write"]), 403)


async def test_head_answers_the_streams_headers_without_a_body(api: Api) -> None:
    response = await api.call("HEAD", "/stream")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert response.content == b""
