"""docs/integrity.md's standalone verifier, run as printed against an in-process app, so
the page cannot drift from what the service serves."""

from __future__ import annotations

import ast
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.unit.verify_support import ORIGIN, Service, Services

DOC = Path(__file__).parents[2] / "docs" / "integrity.md"
ALLOWED_IMPORTS = {"base64", "hashlib", "json", "cryptography"}


def standalone_verifier() -> str:
    section = DOC.read_text(encoding="utf-8").split("## A standalone verifier", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, "the section has a python code block"
    return match.group(1)


def load() -> Callable[[dict[str, Any], str], tuple[str, int]]:
    namespace: dict[str, Any] = {}
    exec(compile(standalone_verifier(), str(DOC), "exec"), namespace)  # noqa: S102 (our doc)
    verify: Callable[[dict[str, Any], str], tuple[str, int]] = namespace["verify_proof"]
    return verify


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    async with contextlib.AsyncExitStack() as stack:
        yield await Services(stack, tmp_path).start()


def test_the_standalone_verifier_is_short_and_needs_only_the_standard_tools() -> None:
    code = standalone_verifier()
    assert len(code.splitlines()) <= 60
    imported = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= ALLOWED_IMPORTS


async def proof(service: Service, entry_id: str, **params: Any) -> dict[str, Any]:
    response = await service.http.get(
        f"/apiv3/audit_trail/entries/{entry_id}/proof",
        params=params,
        headers={"authorization": f"Bearer {service.token()}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_standalone_verifier_accepts_the_services_proofs(service: Service) -> None:
    verify_proof = load()
    vkey = await service.vkey()
    recorded = await service.record(metadata={"ticket": 4711, "who": {"name": "Zoë"}})
    other = await service.record(action="a.other", target=None, tags=[], metadata={})
    await service.amend(recorded["id"], action="a.amended", metadata={"ticket": 4712})
    await service.delete(other["id"])
    for entry_id, revisions in ((recorded["id"], (1, 2)), (other["id"], (1, 2))):
        for revision in revisions:
            body = await proof(service, entry_id, revision=revision)
            assert verify_proof(body, vkey) == (f"{ORIGIN}/acme", 4)


async def test_the_standalone_verifier_refuses_a_changed_value_and_another_key(
    service: Service,
) -> None:
    verify_proof = load()
    vkey = await service.vkey()
    recorded = await service.record()
    await service.record()
    body = await proof(service, recorded["id"])
    body["entry"]["actor"]["id"] = "someone-else"
    with pytest.raises(AssertionError, match="does not commit"):
        verify_proof(body, vkey)
    body = await proof(service, recorded["id"])
    body["inclusion"][0] = body["inclusion"][0][::-1]
    with pytest.raises((AssertionError, ValueError)):
        verify_proof(body, vkey)
    name, _, key = vkey.split("+", 2)
    with pytest.raises(ValueError, match="no signature"):
        verify_proof(await proof(service, recorded["id"]), f"{name}+00000000+{key}")
