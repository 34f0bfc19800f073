"""GET /metrics under ``audit-trail serve --workers 2``: whichever worker answers a
scrape, it reports what every worker counted (prometheus_client's multiprocess mode)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

import audit_trail
from tests.integration.test_cli_serve import API, ENTRY, cli, environment, serving

pytestmark = pytest.mark.timeout(120)
REQUESTS = 40
SOURCE = str(Path(audit_trail.__file__).parents[1])  # the checkout under test, not the venv's


def sample(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return found.value
    return 0.0


@pytest.mark.parametrize("app", ["quart", "litestar"])
def test_counts_of_both_workers_are_summed_at_every_scrape(app: str, tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = environment(tmp_path, AUDIT_CACHE="none", PYTHONPATH=SOURCE)
    with serving(app, workdir, env, "--workers", "2") as service:
        minted = cli(workdir, env, "token", "--sub", "alice", "--tenant", "acme",
                     "--scope", "audit:write")  # fmt: skip
        auth = {"Authorization": f"Bearer {minted.stdout.strip()}"}
        for _ in range(3):  # each on a new connection: either worker may take it
            created = httpx.post(f"{service.url}{API}/entries", json=ENTRY, headers=auth)
            assert created.status_code == 201, created.text
        for _ in range(REQUESTS):
            assert httpx.get(f"{service.url}{API}/check-port").status_code == 200

        for _ in range(6):
            scraped = httpx.get(f"{service.url}{API}/metrics")
            assert scraped.status_code == 200
            text = scraped.text
            checked = sample(text, "audit_trail_http_requests_total",
                             route=f"{API}/check-port", status="200")  # fmt: skip
            assert checked >= REQUESTS, text
            assert sample(text, "audit_trail_entries_ingested_total") == 3, text
            assert sample(text, "audit_trail_http_request_duration_seconds_count",
                          route=f"{API}/entries", method="POST") == 3  # fmt: skip
