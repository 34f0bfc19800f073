"""The public endpoints: liveness, readiness, the OpenAPI document, the docs (Swagger UI),
the metrics."""

from __future__ import annotations

from typing import Any

import msgspec

from audit_trail.adapters.metrics.prometheus import CONTENT_TYPE as METRICS_CONTENT_TYPE
from audit_trail.adapters.metrics.prometheus import PrometheusMetrics
from audit_trail.entrypoints.http.assets import StaticBundle
from audit_trail.entrypoints.http.messages import HttpResponse, json_response
from audit_trail.entrypoints.http.readiness import Readiness
from audit_trail.entrypoints.http.routes import Call, Endpoint

# The docs are Swagger UI, vendored in the package (scripts/vendor-swagger-ui): it
# runs its own scripts only, and talks to this origin only. No 'unsafe-inline' for
# styles: React sets its inline styles through the CSSOM, which the policy allows
# (tests/browser/test_docs_page.py records every violation); its CSS inlines SVG
# icons as data: URIs, hence img-src data:.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


class MetaEndpoints:
    """Serves the OpenAPI document (rendered once), the docs (Swagger UI's files,
    read once), the metrics and the readiness checks."""

    def __init__(
        self, openapi: dict[str, Any], metrics: PrometheusMetrics, readiness: Readiness
    ) -> None:
        self._metrics = metrics
        self._readiness = readiness
        self._openapi = HttpResponse(
            200, (("content-type", "application/json"),), msgspec.json.encode(openapi)
        )
        self._docs = StaticBundle.from_package(
            "docs", headers=(("content-security-policy", DOCS_CSP),)
        )

    def endpoints(self) -> dict[str, Endpoint]:
        return {
            "checkPort": self.check_port,
            "getOpenApi": self.openapi,
            "getDocs": self.docs,
            "getDocsAsset": self.docs_asset,
            "getMetrics": self.metrics,
            "getReady": self._readiness.ready,
        }

    async def check_port(self, call: Call) -> HttpResponse:
        return json_response(200, {"status": "ok"})

    async def openapi(self, call: Call) -> HttpResponse:
        return self._openapi

    async def docs(self, call: Call) -> HttpResponse:
        return self._docs.response("index.html", call.request)

    async def docs_asset(self, call: Call) -> HttpResponse:
        return self._docs.response(call.path_param("asset"), call.request)

    async def metrics(self, call: Call) -> HttpResponse:
        return HttpResponse(200, (("content-type", METRICS_CONTENT_TYPE),), self._metrics.render())
