"""Rate limits per tenant: a token bucket for writes and one for reads, on both apps.

The in-process limiter on a clock the test moves: nothing sleeps. The Redis limiter
(shared by processes, failing open) has its own suite in tests/integration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers
from prometheus_client.parser import text_string_to_metric_families

from audit_trail.entrypoints.container import build_container
from tests.api.client import Api, entry
from tests.api.conftest import FRAMEWORKS, Serve, api_settings
from tests.api.tokens import ADMIN, READ, WRITE, KeyPair, Tokens

WRITES, READS = 3, 2  # bursts: a write a second, a read a second


class Limited(Api):
    def __init__(self, api: Api, now: list[float]) -> None:
        super().__init__(api.http, api.tokens)
        self._now = now

    def wait(self, seconds: float) -> None:
        self._now[0] += seconds


@pytest.fixture(params=list(FRAMEWORKS))
async def limited(
    request: pytest.FixtureRequest, keys: KeyPair, tokens: Tokens, tmp_path: Path, serve: Serve
) -> Limited:
    settings = api_settings(
        keys,
        tmp_path,
        storage="memory",
        cache="memory",
        rate_limit_writes_per_second=1.0,
        rate_limit_writes_burst=float(WRITES),
        rate_limit_reads_per_second=1.0,
    )
    now = [1000.0]
    container = build_container(settings)
    container.rate_limit_clock.override(providers.Object(lambda: now[0]))
    return Limited(Api(await serve(request.param, settings, container), tokens), now)


async def write(api: Api, tenant: str = "acme") -> int:
    response = await api.call("POST", "/entries", json=entry_body(), tenant=tenant)
    return response.status_code


def entry_body() -> dict[str, Any]:
    return entry()


async def test_writes_below_the_limit_pass_and_the_one_past_it_is_429(limited: Limited) -> None:
    for left in reversed(range(WRITES)):
        response = await limited.call("POST", "/entries", json=entry_body())
        assert response.status_code == 201, response.text
        assert response.headers["ratelimit-policy"] == f'"writes";q={WRITES};w={WRITES}'
        assert response.headers["ratelimit"].startswith(f'"writes";r={left};t=')

    refused = await limited.call("POST", "/entries", json=entry_body())

    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["retry-after"] == "1"
    assert refused.headers["ratelimit"] == f'"writes";r=0;t={WRITES}'
    assert refused.headers["ratelimit-policy"] == f'"writes";q={WRITES};w={WRITES}'
    problem = refused.json()
    assert problem["status"] == 429
    assert problem["type"].endswith("rate-limited")
    stored = await limited.items("/entries")
    assert len(stored) == WRITES  # the refused write was not stored


async def test_the_bucket_refills_with_time(limited: Limited) -> None:
    for _ in range(WRITES):
        assert await write(limited) == 201
    assert await write(limited) == 429
    limited.wait(0.5)
    refused = await limited.call("POST", "/entries", json=entry_body())
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"  # 0.5 s, rounded up
    limited.wait(0.5)
    assert await write(limited) == 201
    assert await write(limited) == 429
    limited.wait(WRITES)
    assert [await write(limited) for _ in range(WRITES + 1)] == [201] * WRITES + [429]


async def test_tenants_have_their_own_buckets(limited: Limited) -> None:
    for _ in range(WRITES):
        assert await write(limited, "acme") == 201
    assert await write(limited, "acme") == 429
    assert await write(limited, "globex") == 201


async def test_reads_and_writes_have_their_own_buckets(limited: Limited) -> None:
    for _ in range(WRITES):
        assert await write(limited) == 201
    assert await write(limited) == 429
    reads = [(await limited.call("GET", "/entries")).status_code for _ in range(READS + 1)]
    assert reads == [200] * READS + [429]
    refused = await limited.call("GET", "/entries", scopes=[READ])
    assert refused.headers["ratelimit-policy"] == f'"reads";q={READS};w={READS}'


async def test_public_and_admin_routes_are_not_limited(limited: Limited) -> None:
    for _ in range(WRITES):
        assert await write(limited) == 201
    for _ in range(5):
        public = await limited.call("GET", "/log/key", anonymous=True)
        assert public.status_code == 200
        assert "ratelimit" not in public.headers
        admin = await limited.call("GET", "/tenant/retention", scopes=[ADMIN])
        assert admin.status_code == 200, admin.text
        assert "ratelimit" not in admin.headers


async def test_without_limits_nothing_is_limited_nor_announced(api: Api) -> None:
    for _ in range(5):
        response = await api.call("POST", "/entries", json=entry_body(), scopes=[WRITE])
        assert response.status_code == 201
        assert "ratelimit" not in response.headers


async def test_the_openapi_document_lists_429_on_limited_routes(limited: Limited) -> None:
    document = (await limited.call("GET", "/openapi.json", anonymous=True)).json()
    paths = document["paths"]
    too_many = paths["/apiv3/audit_trail/entries"]["post"]["responses"]["429"]
    assert set(too_many["headers"]) == {"Retry-After", "RateLimit", "RateLimit-Policy"}
    assert "429" in paths["/apiv3/audit_trail/entries"]["get"]["responses"]
    assert "429" not in paths["/apiv3/audit_trail/log/key"]["get"]["responses"]


async def test_metrics_count_what_the_limits_allowed_and_refused(limited: Limited) -> None:
    for _ in range(WRITES + 2):
        await write(limited)

    scraped = await limited.call("GET", "/metrics", anonymous=True)

    samples = {
        sample.name: sample.value
        for family in text_string_to_metric_families(scraped.text)
        for sample in family.samples
    }
    assert samples["audit_trail_rate_limit_allowed_total"] == WRITES
    assert samples["audit_trail_rate_limit_limited_total"] == 2
    assert samples["audit_trail_rate_limit_failed_open_total"] == 0
