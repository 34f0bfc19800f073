"""The connection bounds' settings (docs/operations.md, "Limits")."""

from __future__ import annotations

import json
import resource

import pytest

from audit_trail.entrypoints.connections import (
    FD_HEADROOM,
    default_max_connections,
    problem_response,
)
from audit_trail.entrypoints.settings import SettingsError, load_settings


def test_the_bounds_have_their_documented_defaults() -> None:
    settings = load_settings({})
    assert settings.max_header_bytes == 8192
    assert (settings.header_timeout_seconds, settings.request_timeout_seconds) == (10.0, 60.0)
    assert (settings.max_connections, settings.backlog) == (None, 2048)
    assert settings.max_query_parameters == 100


@pytest.mark.parametrize(
    "variable",
    [
        "AUDIT_MAX_HEADER_BYTES",
        "AUDIT_HEADER_TIMEOUT_SECONDS",
        "AUDIT_REQUEST_TIMEOUT_SECONDS",
        "AUDIT_MAX_CONNECTIONS",
        "AUDIT_BACKLOG",
        "AUDIT_MAX_QUERY_PARAMETERS",
    ],
)
def test_a_bound_must_be_positive(variable: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_settings({variable: "0"})


def test_connections_default_to_the_descriptor_limit_less_a_headroom() -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY:
        assert default_max_connections() == max(16, soft - FD_HEADROOM)


def test_a_refusal_is_a_whole_response_with_a_problem_body() -> None:
    response = problem_response(503, "busy", "retry-after: 1")
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"retry-after: 1" in head.split(b"\r\n")
    assert f"content-length: {len(body)}".encode() in head.split(b"\r\n")
    assert json.loads(body) == {
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "busy",
    }
