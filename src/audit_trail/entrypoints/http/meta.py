"""The public endpoints: liveness, the OpenAPI document, the docs page, the metrics."""

from __future__ import annotations

from typing import Any

import msgspec

from audit_trail.adapters.cache.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from audit_trail.adapters.cache.metrics import render_prometheus
from audit_trail.core.ports import QueryCache
from audit_trail.entrypoints.http.docs_page import render_docs_page
from audit_trail.entrypoints.http.messages import HttpResponse, json_response
from audit_trail.entrypoints.http.routes import Call, Endpoint

# The docs page runs no script and loads nothing; say so to the browser.
_DOCS_HEADERS = (
    ("content-type", "text/html; charset=utf-8"),
    ("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'"),
)


class MetaEndpoints:
    """Serves the OpenAPI document and the docs page, both rendered once, and the
    counters of the query cache (whatever ``stats`` the active cache keeps)."""

    def __init__(self, openapi: dict[str, Any], cache: QueryCache | None = None) -> None:
        self._cache = cache
        self._openapi = HttpResponse(
            200, (("content-type", "application/json"),), msgspec.json.encode(openapi)
        )
        self._docs = HttpResponse(200, _DOCS_HEADERS, render_docs_page(openapi))

    def endpoints(self) -> dict[str, Endpoint]:
        return {
            "checkPort": self.check_port,
            "getOpenApi": self.openapi,
            "getDocs": self.docs,
            "getMetrics": self.metrics,
        }

    async def check_port(self, call: Call) -> HttpResponse:
        return json_response(200, {"status": "ok"})

    async def openapi(self, call: Call) -> HttpResponse:
        return self._openapi

    async def docs(self, call: Call) -> HttpResponse:
        return self._docs

    async def metrics(self, call: Call) -> HttpResponse:
        text = render_prometheus(getattr(self._cache, "stats", None))
        return HttpResponse(200, (("content-type", METRICS_CONTENT_TYPE),), text.encode())
