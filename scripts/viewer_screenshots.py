"""Screenshots of the viewer for docs/viewer.md, taken the way the browser tests run it.

    .venv/bin/python scripts/viewer_screenshots.py [--out docs/images]

Starts ``audit-trail serve`` on a fresh SQLite file in a temporary folder, seeds a
tenant (one entry amended, one with erased fields), and saves, with Debian's
Chromium: ``viewer-timeline.png``, ``viewer-detail.png`` (an amendment's diff) and
``viewer-not-verified.png`` (after an entry was changed in the database). The test
run never writes these files; run this script when the viewer's look changes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from playwright.sync_api import Page, sync_playwright  # noqa: E402
from tests.browser.viewer_support import (  # noqa: E402
    CHECKPOINT_LAG_SECONDS,
    viewer_service,
)

CHROMIUM = "/usr/bin/chromium"
ELEMENT = "audit-trail-viewer"


def ready(page: Page) -> None:
    page.wait_for_function(f"() => document.querySelector('{ELEMENT}')?.dataset.state === 'ready'")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    out: Path = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder, viewer_service(Path(folder) / "work") as service:
        made = service.seed("acme", 14)
        amended = made[-2]
        body = {name: amended[name] for name in ("action", "actor", "target", "occurred_at")}
        body["metadata"] = {**amended["metadata"], "note": "title fixed", "reviewed": True}
        service.call("PUT", f"/entries/{amended['id']}", "acme", "audit:admin", json=body)
        erase = {"fields": ["actor.name"], "reason": "GDPR request"}
        service.call("POST", f"/entries/{made[-4]['id']}/erase", "acme", "audit:erase", json=erase)
        time.sleep(CHECKPOINT_LAG_SECONDS)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
            page = browser.new_page(viewport={"width": 1360, "height": 860})
            page.goto(service.viewer_url("acme"))
            ready(page)
            page.screenshot(path=out / "viewer-timeline.png", full_page=True)
            page.locator(f'{ELEMENT} li[data-id="{amended["id"]}"] button').click()
            page.locator(f"{ELEMENT} .detail .diff").wait_for()
            page.screenshot(path=out / "viewer-detail.png", full_page=True)
            service.tamper("acme", made[-3]["id"], "document.delete")
            page.goto("about:blank")
            page.goto(service.viewer_url("acme"))
            ready(page)
            page.locator(f'{ELEMENT} li[data-id="{made[-3]["id"]}"] button').click()
            page.locator(f"{ELEMENT} .detail").wait_for()
            page.screenshot(path=out / "viewer-not-verified.png", full_page=True)
            browser.close()
    for name in ("timeline", "detail", "not-verified"):
        print(out / f"viewer-{name}.png")


if __name__ == "__main__":
    main()
