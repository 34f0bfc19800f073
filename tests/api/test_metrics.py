"""GET /metrics: the query cache's counters in the Prometheus text format, no token."""

from __future__ import annotations

from tests.api.client import Api


def sample(text: str, name: str) -> int:
    values = [line.split()[-1] for line in text.splitlines() if line.split()[0] == name]
    assert len(values) == 1, text
    return int(values[0])


async def test_metrics_need_no_token_and_count_cache_hits(api: Api) -> None:
    await api.record()
    first = await api.items("/entries?action=document.update")
    assert await api.items("/entries?action=document.update") == first

    response = await api.call("GET", "/metrics", anonymous=True)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "# TYPE audit_trail_cache_hits_total counter" in response.text
    assert sample(response.text, "audit_trail_cache_hits_total") >= 1
    assert sample(response.text, "audit_trail_cache_misses_total") >= 1
