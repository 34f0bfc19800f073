"""GET /metrics (Prometheus text, no token) and GET /ready (readiness, no token)."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.api.client import BASE, Api, entry

ENTRY_TEMPLATE = BASE + "/entries/{entry_id}"


async def scrape(api: Api) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Each sample of GET /metrics by name, then by its labels (sorted)."""
    response = await api.call("GET", "/metrics", anonymous=True)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def value(
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]], name: str, **labels: str
) -> float:
    return samples.get(name, {}).get(tuple(sorted(labels.items())), 0.0)


async def test_metrics_need_no_token_and_count_cache_hits(api: Api) -> None:
    await api.record()
    first = await api.items("/entries?action=document.update")
    assert await api.items("/entries?action=document.update") == first

    samples = await scrape(api)

    assert value(samples, "audit_trail_cache_hits_total") >= 1
    assert value(samples, "audit_trail_cache_misses_total") >= 1


async def test_requests_are_counted_and_timed_by_route_template(api: Api) -> None:
    stored = await api.record()
    for _ in range(3):
        response = await api.call("GET", f"/entries/{stored['id']}")
        assert response.status_code == 200
    assert (await api.call("GET", "/entries/no-such-entry")).status_code == 404

    samples = await scrape(api)

    template = {"route": ENTRY_TEMPLATE, "method": "GET"}
    assert value(samples, "audit_trail_http_requests_total", **template, status="200") == 3
    assert value(samples, "audit_trail_http_requests_total", **template, status="404") == 1
    histogram = "audit_trail_http_request_duration_seconds"
    assert value(samples, f"{histogram}_count", **template, status="200") == 3
    assert value(samples, f"{histogram}_bucket", **template, status="200", le="+Inf") == 3
    posted = {"route": BASE + "/entries", "method": "POST", "status": "201"}
    assert value(samples, "audit_trail_http_requests_total", **posted) == 1
    routes = {dict(labels)["route"] for labels in samples["audit_trail_http_requests_total"]}
    assert not any(stored["id"] in route for route in routes), routes


async def test_entries_ingested_count_exactly_the_entries_recorded(api: Api) -> None:
    before = value(await scrape(api), "audit_trail_entries_ingested_total")
    for _ in range(3):
        await api.record()
    batch = {"entries": [entry() for _ in range(4)]}
    assert (await api.call("POST", "/entries/batch", json=batch)).status_code == 201

    samples = await scrape(api)

    assert value(samples, "audit_trail_entries_ingested_total") == before + 7
    assert value(samples, "audit_trail_group_commit_batch_leaves_sum") == 7
    assert value(samples, "audit_trail_log_size_leaves", tenant="acme") == 7
    assert value(samples, "audit_trail_write_queue_depth") == 0


async def test_a_signed_checkpoint_has_its_time_per_tenant(api: Api) -> None:
    await api.record()
    assert (await api.call("GET", "/log/checkpoint")).status_code == 200

    samples = await scrape(api)

    assert value(samples, "audit_trail_checkpoint_timestamp_seconds", tenant="acme") > 0
    assert value(samples, "audit_trail_checkpoint_size_leaves", tenant="acme") == 1


async def test_ready_answers_200_when_every_dependency_answers(api: Api) -> None:
    response = await api.call("GET", "/ready", anonymous=True)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["storage"] == "ok"
    assert body["checks"]["signer"] == "ok"
    assert set(body["checks"].values()) == {"ok"}
