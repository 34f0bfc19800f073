"""StaticBundle: the files the service serves from inside the package."""

from __future__ import annotations

from importlib.resources import files

import pytest

from audit_trail.entrypoints.http.assets import StaticBundle
from audit_trail.entrypoints.http.messages import HttpRequest
from audit_trail.entrypoints.http.problems import HttpProblem

BUNDLE = StaticBundle(
    {"index.html": b"<!doctype html>", "app.js": b"export {}"},
    headers=[("content-security-policy", "default-src 'self'")],
)


def get(name: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    answer = BUNDLE.response(name, HttpRequest("GET", headers=headers))
    return answer.status, dict(answer.headers), answer.body


def test_a_file_is_served_with_its_type_a_strong_etag_and_the_bundles_headers() -> None:
    status, headers, body = get("app.js")
    assert (status, body) == (200, b"export {}")
    assert headers["content-type"] == "text/javascript; charset=utf-8"
    assert headers["etag"].startswith('"')
    assert headers["etag"].endswith('"')
    assert headers["cache-control"] == "no-cache"
    assert headers["content-security-policy"] == "default-src 'self'"


def test_files_with_other_bytes_have_other_etags() -> None:
    assert get("app.js")[1]["etag"] != get("index.html")[1]["etag"]


@pytest.mark.parametrize("form", ["{tag}", "W/{tag}", '"other", {tag}', "*"])
def test_a_revalidation_naming_the_etag_is_304_without_a_body(form: str) -> None:
    tag = get("app.js")[1]["etag"]
    status, headers, body = get("app.js", **{"if-none-match": form.format(tag=tag)})
    assert (status, body) == (304, b"")
    assert headers["etag"] == tag


def test_a_revalidation_naming_another_etag_gets_the_file() -> None:
    assert get("app.js", **{"if-none-match": '"stale"'})[0] == 200


def test_an_unknown_name_is_404() -> None:
    with pytest.raises(HttpProblem) as caught:
        get("../secrets.txt")
    assert caught.value.kind.status == 404


def test_a_file_of_an_unknown_type_is_refused_when_the_bundle_is_made() -> None:
    with pytest.raises(ValueError, match="no content type"):
        StaticBundle({"run.exe": b"MZ"})


DOCS_FILES = {"index.html", "init.js", "swagger-ui-bundle.js", "swagger-ui.css", "LICENSE.txt"}


def test_the_vendored_swagger_ui_is_a_package_resource_the_docs_bundle_serves() -> None:
    root = files("audit_trail").joinpath("web", "docs")
    assert {item.name for item in root.iterdir()} >= DOCS_FILES
    assert StaticBundle.from_package("docs").names >= DOCS_FILES
    assert "swagger-ui-dist 5." in root.joinpath("VERSION.txt").read_text()
