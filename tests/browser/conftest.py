"""Browser tests: Playwright for Python driving Debian's Chromium (``/usr/bin/chromium``,
installed by ``scripts/install-dev``; Playwright never downloads a browser here),
headless, one browser per test module and a fresh context (no shared storage) per
test. The tests are plain functions (Playwright's sync API) against real
``audit-trail serve`` processes.

Playwright's sync API runs its event loop on this thread for as long as it is open,
and every asyncio test after it would find that loop running ("Runner.run() cannot be
called from a running event loop"). So the browser lives for one module only and is
closed before the next module's tests, and the fixture checks, once it is closed, that
an asyncio test could run now."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/install-dev installs Debian's chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield launched
        finally:
            launched.close()
    assert asyncio.run(_answer()) == 42, "the browser left an event loop behind"


async def _answer() -> int:
    return 42


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    opened = browser.new_context()
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()
