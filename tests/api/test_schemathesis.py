"""Schemathesis against both apps in-process: every operation, bounded examples.

Each app is built with memory storage and served through schemathesis' own ASGI
transport, which also runs the app's lifespan. The document comes from the app itself,
so what is checked is what the app publishes. Every operation gets ``EXAMPLES``
generated cases, derandomised so that a CI run is reproducible; a failure is reported
per operation, all operations run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok
from schemathesis.generation import GenerationMode
from schemathesis.python import asgi

from tests.api.conftest import FRAMEWORKS, api_settings
from tests.api.tokens import ADMIN, READ, WRITE, KeyPair, Tokens

BASE = "/apiv3/audit_trail"
SCOPES = (READ, WRITE, ADMIN, "audit:erase")
EXAMPLES = 20
# Valid requests and invalid ones: an invalid one must get a documented 4xx, never a 5xx.
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# GET /stream is a live Server-Sent Events feed: it ends only when the client goes
# away, so a generated request to it would not return on its own (test_change and
# test_stream_requests cover it). No other operation waits on a clock.
EXCLUDED = ("streamChanges",)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("framework", list(FRAMEWORKS))
def test_every_operation_conforms(
    framework: str, keys: KeyPair, tokens: Tokens, tmp_path: Path
) -> None:
    app = FRAMEWORKS[framework](api_settings(keys, tmp_path, storage="memory", cache="memory"))
    headers = {"Authorization": f"Bearer {tokens.token(SCOPES)}"}
    failures: dict[str, str] = {}
    cases = 0
    try:
        schema = schemathesis.openapi.from_asgi(f"{BASE}/openapi.json", app)
        operations = []
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result
            operations.append(result.ok())
        ids = {operation.definition.raw.get("operationId") for operation in operations}
        assert set(EXCLUDED) <= ids, "an excluded operation is gone: update EXCLUDED"
        for operation, mode in [(op, mode) for op in operations for mode in MODES]:
            if operation.definition.raw.get("operationId") in EXCLUDED:
                continue

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                derandomize=True,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                nonlocal cases
                cases += 1
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                run()
            except Unsatisfiable:
                # An operation without parameters or body (or with only unconstrained
                # strings) has no invalid request to make; a valid one must still work.
                if mode is not GenerationMode.NEGATIVE:
                    raise
            except (Exception, BaseExceptionGroup) as error:  # reported with the others below
                failures[f"{operation.label} ({mode.value})"] = str(error)
    finally:
        asgi.shutdown_lifespans()  # the app's shutdown: storage and tasks closed
    print(f"{framework}: {cases} cases, {len(ids) - len(EXCLUDED)} operations")
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
