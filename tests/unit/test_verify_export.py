"""``audit-trail verify --export FILE`` checks each exported line against the log."""

from __future__ import annotations

import json
from pathlib import Path

from tests.api.client import BASE
from tests.unit.test_verify_cli import verify
from tests.unit.verify_support import Service


async def _export(service: Service) -> list[str]:
    response = await service.http.get(f"{BASE}/entries/export", headers=service._auth())
    assert response.status_code == 200, response.text
    return response.text.splitlines()


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines))


async def test_an_untouched_export_verifies(service: Service, tmp_path: Path) -> None:
    first = await service.record()
    await service.amend(first["id"], action="doc.amended")
    await service.record(action="doc.other")
    exported = tmp_path / "export.ndjson"
    _write(exported, await _export(service))
    run = await verify(service, tmp_path / "state.json", "--export", str(exported))
    assert run.code == 0, run.out
    assert "export export.ndjson: 2 entries" in run.out


async def test_an_edited_line_fails(service: Service, tmp_path: Path) -> None:
    await service.record()
    await service.record(action="doc.other")
    lines = await _export(service)
    edited = json.loads(lines[1])
    edited["entry"]["action"] = "doc.forged"
    moved = json.loads(lines[0])
    moved["leaf_index"] += 7
    exported = tmp_path / "export.ndjson"
    _write(exported, [json.dumps(moved), json.dumps(edited)])
    run = await verify(service, tmp_path / "state.json", "--export", str(exported))
    assert run.code == 1
    assert [f.split(":")[0] for f in run.failures] == ["FAIL export line 1", "FAIL export line 2"]


async def test_a_missing_file_is_a_usage_error(service: Service, tmp_path: Path) -> None:
    run = await verify(service, tmp_path / "state.json", "--export", str(tmp_path / "nope"))
    assert run.code == 2
    assert "no such file" in run.err
