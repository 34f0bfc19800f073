"""The audit-log viewer: a custom element and its standalone page, served from the
package (``audit_trail/web/viewer/``, docs/viewer.md)."""

from __future__ import annotations

from audit_trail.entrypoints.http.assets import StaticBundle
from audit_trail.entrypoints.http.messages import HttpResponse
from audit_trail.entrypoints.http.routes import Call, Endpoint

# The page runs only the service's own scripts and talks only to the service. The
# files are public, the same for everyone: any origin may load them (a module script
# from another origin needs CORS), which says nothing about the API's own CORS.
VIEWER_HEADERS = (
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    ("access-control-allow-origin", "*"),
    ("referrer-policy", "no-referrer"),
)


class ViewerEndpoints:
    def __init__(self, bundle: StaticBundle | None = None) -> None:
        self._bundle = bundle or StaticBundle.from_package("viewer", VIEWER_HEADERS)

    def endpoints(self) -> dict[str, Endpoint]:
        return {"getViewer": self.page, "getViewerAsset": self.asset}

    async def page(self, call: Call) -> HttpResponse:
        return self._bundle.response("index.html", call.request)

    async def asset(self, call: Call) -> HttpResponse:
        return self._bundle.response(call.path_param("asset"), call.request)
