"""The endpoints of /webhooks: parse, call ``WebhookRegistry``, render."""

from __future__ import annotations

from urllib.parse import quote

from audit_trail.core.checks import ErrorCollector
from audit_trail.core.ports.webhooks import DELIVERY_LOG_SIZE
from audit_trail.core.usecases.webhooks import WebhookRegistry
from audit_trail.core.webhooks.subscription import parse_webhook_body
from audit_trail.entrypoints.http.body import json_body
from audit_trail.entrypoints.http.holds import _no_query
from audit_trail.entrypoints.http.messages import HttpResponse, json_response
from audit_trail.entrypoints.http.paths import BASE_PATH
from audit_trail.entrypoints.http.routes import Call, Endpoint


def webhook_location(subscription_id: str) -> str:
    return f"{BASE_PATH}/webhooks/{quote(subscription_id, safe='')}"


class WebhookEndpoints:
    def __init__(self, registry: WebhookRegistry) -> None:
        self._registry = registry

    def endpoints(self) -> dict[str, Endpoint]:
        return {
            "createWebhook": self.create,
            "listWebhooks": self.list,
            "getWebhook": self.get,
            "deleteWebhook": self.delete,
            "resumeWebhook": self.resume,
            "listWebhookDeliveries": self.deliveries,
        }

    async def create(self, call: Call) -> HttpResponse:
        _no_query(call.request)
        request = parse_webhook_body(json_body(call.request))
        sub = await self._registry.create(call.caller, request)
        location = (("location", webhook_location(sub.id)),)
        return json_response(201, sub.as_json(with_secret=True), location)

    async def list(self, call: Call) -> HttpResponse:
        _no_query(call.request)
        subs = await self._registry.list(call.caller)
        return json_response(200, {"items": [sub.as_json() for sub in subs]})

    async def get(self, call: Call) -> HttpResponse:
        _no_query(call.request)
        sub = await self._registry.get(call.caller, call.path_param("webhook_id"))
        return json_response(200, sub.as_json())

    async def delete(self, call: Call) -> HttpResponse:
        _no_query(call.request)
        await self._registry.delete(call.caller, call.path_param("webhook_id"))
        return HttpResponse(204)

    async def resume(self, call: Call) -> HttpResponse:
        _no_query(call.request)
        sub = await self._registry.resume(call.caller, call.path_param("webhook_id"))
        return json_response(200, sub.as_json())

    async def deliveries(self, call: Call) -> HttpResponse:
        raw = _no_query(call.request, ("limit",)).get("limit")
        limit = DELIVERY_LOG_SIZE
        if raw is not None:
            errors = ErrorCollector()
            digits = raw.isascii() and raw.isdigit() and len(raw) <= len(str(DELIVERY_LOG_SIZE))
            if not digits or not 1 <= int(raw) <= DELIVERY_LOG_SIZE:
                errors.add("limit", f"must be an integer from 1 to {DELIVERY_LOG_SIZE}")
            errors.raise_if_any()
            limit = int(raw)
        attempts = await self._registry.deliveries(
            call.caller, call.path_param("webhook_id"), limit
        )
        return json_response(200, {"items": [a.as_json() for a in attempts]})
