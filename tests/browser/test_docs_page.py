"""The API docs page, in a real browser, on both apps: it renders the operations of
the service's own OpenAPI document and loads nothing from another origin."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, Request

from tests.integration.test_cli_serve import API, environment, serving

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.mark.parametrize("app", ["litestar", "quart"])
def test_the_docs_page_lists_the_operations_and_loads_nothing_from_elsewhere(
    app: str, page: Page, tmp_path: Path
) -> None:
    env = environment(
        tmp_path, PYTHONPATH=str(SRC), AUDIT_JWT_SECRET="docs-page-test-secret-32-bytes!!"
    )
    requested: list[str] = []

    def note(request: Request) -> None:
        requested.append(request.url)

    page.on("request", note)
    with serving(app, tmp_path, env) as service:
        page.goto(f"{service.url}{API}/docs")
        page.get_by_text("/entries/{entry_id}/proof").first.wait_for()
    assert requested
    assert all(url.startswith(service.url) for url in requested), requested
