"""The API docs page (Swagger UI, served by the service itself), in a real browser,
on both apps: it renders the operations of the service's own OpenAPI document, runs
"Try it out" against the service, loads nothing from another origin and trips no
Content-Security-Policy (a violation is a console error)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Error, Page, Request

from tests.integration.test_cli_serve import API, environment, serving

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.mark.parametrize("app", ["litestar", "quart"])
def test_swagger_ui_lists_the_operations_and_tries_one_on_this_origin_only(
    app: str, page: Page, tmp_path: Path
) -> None:
    env = environment(
        tmp_path, PYTHONPATH=str(SRC), AUDIT_JWT_SECRET="docs-page-test-secret-32-bytes!!"
    )
    requested: list[str] = []
    errors: list[str] = []

    def note(request: Request) -> None:
        requested.append(request.url)

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    def crashed(error: Error) -> None:
        errors.append(str(error))

    page.on("request", note)
    page.on("console", console)
    page.on("pageerror", crashed)
    # every violation of the page's Content-Security-Policy, as the page sees it
    page.add_init_script(
        "window.violations = [];"
        "document.addEventListener('securitypolicyviolation',"
        " e => window.violations.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    with serving(app, tmp_path, env) as service:
        page.goto(f"{service.url}{API}/docs")
        page.get_by_text(f"{API}/entries/{{entry_id}}/proof").first.wait_for()
        page.get_by_text("Record one entry").first.wait_for()
        page.get_by_role("button", name="Authorize").wait_for()  # the bearerAuth scheme
        page.get_by_text("Problem types").first.wait_for()  # the description, on top
        page.locator("a#not-found").wait_for(state="attached")  # a problem type's URI

        check_port = page.locator("#operations-service-checkPort")
        check_port.locator(".opblock-summary").click()
        check_port.get_by_role("button", name="Try it out").click()
        check_port.get_by_role("button", name="Execute").click()
        status = check_port.locator(".live-responses-table tr.response .response-col_status")
        status.wait_for()
        assert status.inner_text().strip() == "200"
        assert '"status": "ok"' in check_port.locator(".live-responses-table").inner_text()

        page.get_by_role("button", name="Authorize").click()  # the token dialog
        page.locator(".auth-container input").fill("not-a-real-token")
        page.get_by_role("button", name="Apply credentials").click()
        page.get_by_role("button", name="Remove authorization").wait_for()
        page.locator(".auth-btn-wrapper .btn-done").click()
        violations = page.evaluate("window.violations")
    assert f"{service.url}{API}/openapi.json" in requested
    assert f"{service.url}{API}/check-port" in requested
    assert all(url.startswith(service.url + "/") for url in requested), requested
    assert not errors, errors
    assert violations == []
