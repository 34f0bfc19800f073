"""Bounds on what a request may carry (docs/operations.md, "Limits") and the probe
findings on request input: each answered with a problem, never Python's own text.

These are the shared HTTP layer's concerns, not storage's: both apps, memory storage."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.api.client import Api, entry, error_fields, problem
from tests.api.conftest import FRAMEWORKS, Serve, api_settings
from tests.api.tokens import KeyPair, Tokens


@pytest.fixture(params=sorted(FRAMEWORKS))
async def app(
    request: pytest.FixtureRequest, keys: KeyPair, tokens: Tokens, tmp_path: Path, serve: Serve
) -> Api:
    settings = api_settings(keys, tmp_path, storage="memory", cache="memory")
    return Api(await serve(request.param, settings), tokens)


def messages(response: httpx.Response) -> str:
    """The field errors of a 422, as one line."""
    body = problem(response, 422)
    return "; ".join(f"{e['field']}: {e['message']}" for e in body["errors"])


async def post_raw(app: Api, text: str) -> httpx.Response:
    """POST /entries with ``text`` as the body, exactly as given."""
    headers = {"content-type": "application/json"}
    return await app.call("POST", "/entries", content=text.encode(), headers=headers)


@pytest.mark.parametrize(
    "path",
    [
        "/entries",
        "/entries/01M8Y0XZSACG8PBTB9AM3QN28T/history",
        "/webhooks/01M8Y0XZSACG8PBTB9AM3QN28T/deliveries",
    ],
)
async def test_a_5000_digit_limit_is_a_clean_422(app: Api, path: str) -> None:
    response = await app.call("GET", path, params={"limit": "9" * 5000})
    assert "limit" in error_fields(response)
    assert "digits" not in response.text
    response = await app.call("GET", path, params={"limit": "\u00b2"})  # a digit to isdigit()
    assert "limit" in error_fields(response)


async def test_too_many_query_parameters_are_refused(app: Api) -> None:
    params = [(f"p{i}", "x") for i in range(200)]
    assert "more than 100 parameters" in messages(await app.call("GET", "/entries", params=params))


async def test_json_nested_deeper_than_the_bound_is_refused_before_decoding(app: Api) -> None:
    # unbalanced too: the depth is found before decoding, so it is what the 422 says
    assert "deeper than 32" in messages(await post_raw(app, "[" * 10_000))
    deep = "[" * 20_000 + "]" * 20_000
    assert "deeper than 32" in messages(await post_raw(app, deep))


async def test_a_number_too_large_for_a_float_is_malformed(app: Api) -> None:
    problem(await post_raw(app, '{"action": "a.b", "n": -1e400}'), 400)


async def test_json_within_the_depth_bound_is_decoded(app: Api) -> None:
    recorded = await app.record(entry(metadata={"a": {"b": {"c": [1, "[[[[", {"d": "{{"}]}}}))
    assert recorded["metadata"]["a"]["b"]["c"][1] == "[[[["


@pytest.mark.parametrize(
    "text",
    [
        '{"action": "a.b", "action": "c.d"}',
        '{"action": "a.b", "metadata": {"k": 1, "k": 2}}',
        '{"action": "a.b", "metadata": {"k": [{"x": 1, "x": 1}]}}',
        '{"action": "a.b", "metadata": {"\\u006b": 1, "k": 2}}',
    ],
)
async def test_duplicate_keys_in_a_body_are_refused(app: Api, text: str) -> None:
    assert "duplicate" in messages(await post_raw(app, text))


async def test_equal_keys_in_different_objects_are_fine(app: Api) -> None:
    text = json.dumps(entry(metadata={"k": {"k": 1}, "j": [{"k": 1}, {"k": 2}]}))
    response = await post_raw(app, text)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "number", ["1e19", "10000000000000000000", "1e300", "-1e300", "9007199254740992.0"]
)
async def test_metadata_numbers_outside_the_schema_are_refused(app: Api, number: str) -> None:
    text = '{"action": "a.b", "metadata": {"n": ' + number + "}}"
    assert error_fields(await post_raw(app, text)) == {"metadata.n"}


async def test_metadata_masked_past_the_bound_is_refused_not_stored_larger(app: Api) -> None:
    notes = "ab@x.io " * 2000  # 16,000 bytes sent; each address masked grows by two
    response = await app.call("POST", "/entries", json=entry(metadata={"notes": notes}))
    assert "once processed" in messages(response)
    kept = await app.record(entry(metadata={"notes": "ab@x.io " * 1000}))
    assert kept["metadata"]["notes"].startswith("a***@x.io ")
