"""The viewer's files, and CORS for the listed origins (AUDIT_CORS_ORIGINS), on both
apps. Neither depends on the storage, so one backend is enough."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.client import Api
from tests.api.conftest import FRAMEWORKS, Serve, api_settings
from tests.api.tokens import KeyPair, Tokens

VIEWER = "/apiv3/audit_trail/viewer"
LISTED = "https://app.example"


@pytest.fixture(params=list(FRAMEWORKS))
async def api(
    request: pytest.FixtureRequest, keys: KeyPair, tokens: Tokens, tmp_path: Path, serve: Serve
) -> Api:
    settings = api_settings(keys, tmp_path, storage="memory", cors_origins=(LISTED,))
    return Api(await serve(request.param, settings), tokens)


@pytest.mark.parametrize("path", [f"{VIEWER}/", VIEWER])
async def test_the_viewer_page_is_served_with_or_without_the_slash(api: Api, path: str) -> None:
    response = await api.http.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<audit-trail-viewer" in response.text
    assert f'src="{VIEWER}/viewer.js"' in response.text  # absolute: both paths work
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "connect-src 'self'" in policy


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("viewer.js", "text/javascript"),
        ("verify.js", "text/javascript"),
        ("jcs.js", "text/javascript"),
        ("viewer.css", "text/css"),
    ],
)
async def test_the_viewer_files_are_served_to_any_origin(api: Api, name: str, kind: str) -> None:
    response = await api.http.get(f"{VIEWER}/{name}", headers={"origin": "https://other.example"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(kind)
    # a module script on another origin's page is a CORS request; the files are public
    assert response.headers["access-control-allow-origin"] == "*"
    again = await api.http.get(
        f"{VIEWER}/{name}", headers={"if-none-match": response.headers["etag"]}
    )
    assert again.status_code == 304


@pytest.mark.parametrize("name", ["nope.js", "..%2Fopenapi.json", "index.htm"])
async def test_an_unknown_viewer_file_is_404(api: Api, name: str) -> None:
    response = await api.http.get(f"{VIEWER}/{name}")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_preflight_from_a_listed_origin_is_answered(api: Api) -> None:
    response = await api.call(
        "OPTIONS",
        "/entries/some-id",
        anonymous=True,
        headers={
            "origin": LISTED,
            "access-control-request-method": "GET",
            "access-control-request-headers": "authorization",
        },
    )
    assert response.status_code == 204
    headers = response.headers
    assert headers["access-control-allow-origin"] == LISTED
    assert headers["access-control-allow-methods"] == "GET, HEAD, PUT, DELETE"
    allowed = {h.strip().lower() for h in headers["access-control-allow-headers"].split(",")}
    sent = {"authorization", "content-type", "idempotency-key", "if-match", "last-event-id"}
    assert {*sent, "x-request-id"} <= allowed
    assert int(headers["access-control-max-age"]) > 0
    assert "Origin" in headers["vary"]


async def test_an_actual_request_from_a_listed_origin_carries_cors_headers(api: Api) -> None:
    created = await api.record()
    response = await api.call("GET", f"/entries/{created['id']}", headers={"origin": LISTED})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == LISTED
    exposed = {
        h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")
    }
    assert {"etag", "link", "retry-after", "x-request-id"} <= exposed
    refused = await api.call("GET", "/entries", anonymous=True, headers={"origin": LISTED})
    assert refused.status_code == 401  # the browser lets the page read why
    assert refused.headers["access-control-allow-origin"] == LISTED


@pytest.mark.parametrize("origin", ["https://evil.example", "https://app.example:8443", None])
async def test_an_unlisted_origin_gets_no_cors_headers(api: Api, origin: str | None) -> None:
    headers = {"access-control-request-method": "GET"} | ({"origin": origin} if origin else {})
    preflight = await api.call("OPTIONS", "/entries", anonymous=True, headers=headers)
    assert preflight.status_code == 405
    assert "access-control-allow-origin" not in preflight.headers
    actual = await api.call("GET", "/entries", headers=headers)
    assert actual.status_code == 200
    assert not any(name.startswith("access-control-") for name in actual.headers)
