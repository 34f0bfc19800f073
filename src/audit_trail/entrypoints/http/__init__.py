"""The shared HTTP layer: one request pipeline, one routing table, one error table,
one OpenAPI document. The Quart and Litestar apps are thin glue over it."""

from audit_trail.entrypoints.http.api import HttpApi, framework_problem
from audit_trail.entrypoints.http.messages import HttpRequest, HttpResponse, build_request
from audit_trail.entrypoints.http.routes import ROUTED_METHODS, ROUTES, Route, RouteTable

__all__ = [
    "ROUTED_METHODS",
    "ROUTES",
    "HttpApi",
    "HttpRequest",
    "HttpResponse",
    "Route",
    "RouteTable",
    "build_request",
    "framework_problem",
]
