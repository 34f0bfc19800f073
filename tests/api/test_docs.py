"""The API docs: Swagger UI, served from inside the package, on the same OpenAPI
document, with a Content-Security-Policy that lets it load nothing from elsewhere."""

from __future__ import annotations

import re
from importlib.resources import files

import pytest

from tests.api.client import Api, problem


@pytest.mark.parametrize("path", ["/docs", "/docs/"])
async def test_the_docs_page_is_swagger_ui_under_a_strict_policy(api: Api, path: str) -> None:
    response = await api.call("GET", path, anonymous=True)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self';" in policy
    assert "connect-src 'self'" in policy
    page = response.text
    assert 'src="/apiv3/audit_trail/docs/swagger-ui-bundle.js"' in page
    assert 'src="/apiv3/audit_trail/docs/init.js"' in page
    assert "<script>" not in page  # no inline script: the policy would refuse it
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)


async def test_the_page_script_reads_the_services_own_openapi_document(api: Api) -> None:
    response = await api.call("GET", "/docs/init.js", anonymous=True)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert 'url: "/apiv3/audit_trail/openapi.json"' in response.text


async def test_swagger_ui_is_served_whole_with_an_etag_and_revalidated(api: Api) -> None:
    response = await api.call("GET", "/docs/swagger-ui-bundle.js", anonymous=True)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    on_disk = files("audit_trail").joinpath("web", "docs", "swagger-ui-bundle.js").read_bytes()
    assert len(on_disk) > 1_000_000
    assert response.content == on_disk
    tag = response.headers["etag"]
    assert response.headers["cache-control"] == "no-cache"

    again = await api.call(
        "GET", "/docs/swagger-ui-bundle.js", anonymous=True, headers={"if-none-match": tag}
    )
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == tag

    head = await api.call("HEAD", "/docs/swagger-ui-bundle.js", anonymous=True)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["etag"] == tag


async def test_the_style_sheet_is_served_as_css(api: Api) -> None:
    response = await api.call("GET", "/docs/swagger-ui.css", anonymous=True)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/css; charset=utf-8"


@pytest.mark.parametrize("asset", ["nothing.js", "index.htm", "..%2Fopenapi.json"])
async def test_an_unknown_docs_file_is_a_404_problem(api: Api, asset: str) -> None:
    problem(await api.call("GET", f"/docs/{asset}", anonymous=True), 404)


async def test_the_openapi_document_describes_the_docs_and_bearer_auth(api: Api) -> None:
    document = (await api.call("GET", "/openapi.json", anonymous=True)).json()
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    asset = document["paths"]["/apiv3/audit_trail/docs/{asset}"]["get"]
    assert asset["operationId"] == "getDocsAsset"
    assert asset["security"] == []
