"""The endpoints of /holds and /tenant/retention: parse, call a use case, render."""

from __future__ import annotations

from urllib.parse import quote

from audit_trail.core.checks import ErrorCollector
from audit_trail.core.holds import parse_hold_body
from audit_trail.core.retention.policy import parse_retention_body
from audit_trail.core.usecases.holds import LegalHoldRegistry
from audit_trail.core.usecases.retention import TenantRetention
from audit_trail.entrypoints.http.body import json_body
from audit_trail.entrypoints.http.messages import HttpRequest, HttpResponse, json_response
from audit_trail.entrypoints.http.paths import BASE_PATH
from audit_trail.entrypoints.http.routes import Call, Endpoint

STATUSES = ("active", "released", "all")


def hold_location(hold_id: str) -> str:
    return f"{BASE_PATH}/holds/{quote(hold_id, safe='')}"


def _no_query(request: HttpRequest, allowed: tuple[str, ...] = ()) -> dict[str, str]:
    """The query parameters ``allowed`` (each at most once); 422 for any other."""
    errors = ErrorCollector()
    values: dict[str, str] = {}
    for name, given in request.query.items():
        if name not in allowed:
            errors.add(name, "unknown query parameter")
        elif len(given) != 1:
            errors.add(name, "must be given once")
        else:
            values[name] = given[0]
    errors.raise_if_any()
    return values


class HoldEndpoints:
    """Legal holds (``core.usecases.holds``) and the tenant's retention period."""

    def __init__(self, holds: LegalHoldRegistry, retention: TenantRetention) -> None:
        self._holds = holds
        self._retention = retention

    def endpoints(self) -> dict[str, Endpoint]:
        return {
            "createHold": self.create,
            "listHolds": self.list,
            "getHold": self.get,
            "releaseHold": self.release,
            "releaseHoldByPost": self.release,
            "getRetention": self.get_retention,
            "setRetention": self.set_retention,
            "clearRetention": self.clear_retention,
        }

    async def create(self, call: Call) -> HttpResponse:
        _no_query(call.request)
        request = parse_hold_body(json_body(call.request))
        hold = await self._holds.create(call.caller, request)
        return json_response(201, hold.as_json(), (("location", hold_location(hold.id)),))

    async def list(self, call: Call) -> HttpResponse:
        status = _no_query(call.request, ("status",)).get("status", "active")
        if status not in STATUSES:
            errors = ErrorCollector()
            errors.add("status", f"must be one of {', '.join(STATUSES)}")
            errors.raise_if_any()
        holds = await self._holds.list(call.caller, include_released=status != "active")
        if status == "released":
            holds = [hold for hold in holds if not hold.active]
        return json_response(200, {"items": [hold.as_json() for hold in holds]})

    async def get(self, call: Call) -> HttpResponse:
        _no_query(call.request)
        hold = await self._holds.get(call.caller, call.path_param("hold_id"))
        return json_response(200, hold.as_json())

    async def release(self, call: Call) -> HttpResponse:
        _no_query(call.request)
        hold = await self._holds.release(call.caller, call.path_param("hold_id"))
        return json_response(200, hold.as_json())

    async def get_retention(self, call: Call) -> HttpResponse:
        _no_query(call.request)
        return json_response(200, (await self._retention.get(call.caller)).as_json())

    async def set_retention(self, call: Call) -> HttpResponse:
        _no_query(call.request)
        days = parse_retention_body(json_body(call.request))
        return json_response(200, (await self._retention.set(call.caller, days)).as_json())

    async def clear_retention(self, call: Call) -> HttpResponse:
        _no_query(call.request)
        return json_response(200, (await self._retention.clear(call.caller)).as_json())
