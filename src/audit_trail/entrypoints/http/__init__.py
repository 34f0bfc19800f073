"""The shared HTTP layer: one request pipeline, one routing table, one error table,
one OpenAPI document. The Quart and Litestar apps register the table's routes
natively and call ``HttpApi.serve`` with the route the framework picked."""

from audit_trail.entrypoints.http.api import HttpApi, framework_problem
from audit_trail.entrypoints.http.messages import HttpRequest, HttpResponse, build_request
from audit_trail.entrypoints.http.routes import ROUTES, Route, RouteTable

__all__ = [
    "ROUTES",
    "HttpApi",
    "HttpRequest",
    "HttpResponse",
    "Route",
    "RouteTable",
    "build_request",
    "framework_problem",
]
