"""The endpoint of POST /viewer-tokens: parse, call the use case, render."""

from __future__ import annotations

from audit_trail.core import format_timestamp
from audit_trail.core.usecases.viewer_tokens import (
    MintViewerToken,
    MintViewerTokenCommand,
    parse_viewer_token_body,
)
from audit_trail.entrypoints.http.body import json_body
from audit_trail.entrypoints.http.messages import HttpResponse, json_response
from audit_trail.entrypoints.http.routes import Call, Endpoint

# a bearer token in a body: no cache may keep it
_NO_STORE = (("cache-control", "no-store"),)


class ViewerTokenEndpoints:
    def __init__(self, mint: MintViewerToken) -> None:
        self._mint = mint

    def endpoints(self) -> dict[str, Endpoint]:
        return {"createViewerToken": self.create}

    async def create(self, call: Call) -> HttpResponse:
        ttl, restriction = parse_viewer_token_body(json_body(call.request))
        minted = await self._mint.execute(MintViewerTokenCommand(call.caller, restriction, ttl))
        body = {
            "token": minted.token,
            "token_type": "Bearer",
            "expires_at": format_timestamp(minted.expires_at),
            "tenant": minted.tenant,
            "restriction": minted.restriction.as_json(),
        }
        return json_response(201, body, _NO_STORE)
