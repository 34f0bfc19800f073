"""``audit-trail verify --export FILE``: the export's lines and trailer against the
signed checkpoint it carries, offline (``--vkey``, no ``--url``) or with the service."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit_trail.adapters.signing import Ed25519NoteSigner
from audit_trail.core.integrity import parse_checkpoint, parse_signed_note
from audit_trail.core.principal import Principal, Scope
from audit_trail.core.query import EntryFilters, SortOrder
from audit_trail.core.usecases.export import ExportQuery, ExportTrailer
from audit_trail.entrypoints import verify_cli
from audit_trail.entrypoints.cli import build_parser
from audit_trail.entrypoints.http.export import ndjson_line, trailer_line
from audit_trail.verify.export_file import verify_export
from tests.api.client import BASE
from tests.unit.test_verify_cli import Run, verify
from tests.unit.verify_support import Service, Services, _resolved


async def _export(service: Service, **params: str) -> list[str]:
    response = await service.http.get(
        f"{BASE}/entries/export", params=params, headers=service._auth()
    )
    assert response.status_code == 200, response.text
    return response.text.splitlines()


async def _three(service: Service) -> list[str]:
    first = await service.record()
    await service.amend(first["id"], action="doc.amended")
    await service.record(action="doc.other")
    await service.record(action="doc.third")
    return await _export(service)


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


async def offline(path: Path, vkey: str) -> Run:
    args = build_parser().parse_args(["verify", "--export", str(path), "--vkey", vkey])
    out, err = io.StringIO(), io.StringIO()
    code = await verify_cli.run_verify(args, out=out, err=err)
    return Run(code, out.getvalue(), err.getvalue())


def _trailer(lines: list[str]) -> dict[str, Any]:
    trailer: dict[str, Any] = json.loads(lines[-1])["trailer"]
    return trailer


async def test_an_untouched_export_verifies_offline_and_online(
    service: Service, tmp_path: Path
) -> None:
    lines = await _three(service)
    assert len(lines) == 4
    trailer = _trailer(lines)
    assert trailer["count"] == 3
    assert trailer["tree_size"] == 4  # three records and an amendment
    assert len(trailer["complement"]) == 1  # the first revision's leaf
    exported = _write(tmp_path / "export.ndjson", lines)
    run = await offline(exported, await service.vkey())
    assert run.code == 0, run.out
    assert run.out == (
        "verified offline: export export.ndjson: 3 entries, "
        "each a leaf of the signed log of size 4\n"
    )
    run = await verify(service, tmp_path / "state.json", "--export", str(exported))
    assert run.code == 0, run.out
    assert "export export.ndjson: 3 entries, each a leaf of the signed log of size 4" in run.out


async def test_a_filtered_export_verifies_offline(service: Service, tmp_path: Path) -> None:
    await _three(service)
    lines = await _export(service, action="doc.other")
    assert len(lines) == 2
    run = await offline(_write(tmp_path / "e.ndjson", lines), await service.vkey())
    assert run.code == 0, run.out


async def test_a_dropped_line_fails(service: Service, tmp_path: Path) -> None:
    lines = await _three(service)
    run = await offline(_write(tmp_path / "e.ndjson", lines[:1] + lines[2:]), await service.vkey())
    assert run.code == 1
    assert run.failures == [
        "FAIL export: the trailer counts 3 entry lines, the file has 2: dropped line(s)"
    ]


async def test_a_dropped_line_with_the_count_mended_fails(service: Service, tmp_path: Path) -> None:
    lines = await _three(service)
    trailer = _trailer(lines)
    trailer["count"] = 2
    forged = [lines[0], lines[2], json.dumps({"trailer": trailer})]
    run = await offline(_write(tmp_path / "e.ndjson", forged), await service.vkey())
    assert run.code == 1
    assert len(run.failures) == 1
    assert "the trailer's complement does not fit the exported lines" in run.failures[0]


async def test_an_edited_value_fails(service: Service, tmp_path: Path) -> None:
    lines = await _three(service)
    edited = json.loads(lines[1])
    edited["entry"]["action"] = "doc.forged"
    forged = [lines[0], json.dumps(edited), *lines[2:]]
    run = await offline(_write(tmp_path / "e.ndjson", forged), await service.vkey())
    assert run.code == 1
    assert len(run.failures) == 1
    assert "a line was edited, dropped, added or moved" in run.failures[0]


async def test_an_unsalted_field_names_its_line(service: Service, tmp_path: Path) -> None:
    lines = await _three(service)
    edited = json.loads(lines[2])
    edited["entry"]["metadata"] = {"added": True}
    forged = [*lines[:2], json.dumps(edited), lines[3]]
    run = await offline(_write(tmp_path / "e.ndjson", forged), await service.vkey())
    assert run.code == 1
    assert run.failures[0].startswith("FAIL export line 3: entry ")
    assert "metadata.added" in run.failures[0]


async def test_a_line_from_another_export_fails(service: Service, tmp_path: Path) -> None:
    lines = await _three(service)
    await service.record(action="doc.later")
    later = await _export(service)  # newest first: the new entry is its first line
    forged = [later[0], *lines[1:]]
    run = await offline(_write(tmp_path / "e.ndjson", forged), await service.vkey())
    assert run.code == 1
    assert run.failures == ["FAIL export line 1: leaf_index 4 is beyond the checkpoint's 4 leaves"]
    swapped = [lines[0], lines[2], lines[2], lines[3]]  # one line in another's place
    run = await offline(_write(tmp_path / "s.ndjson", swapped), await service.vkey())
    assert run.code == 1
    index = json.loads(lines[2])["leaf_index"]
    assert run.failures == [
        f"FAIL export line 3: leaf_index {index} again (line 2 has it): a duplicated line"
    ]


async def test_a_duplicated_line_fails(service: Service, tmp_path: Path) -> None:
    lines = await _three(service)
    forged = [lines[0], lines[1], lines[1], *lines[2:]]
    run = await offline(_write(tmp_path / "e.ndjson", forged), await service.vkey())
    assert run.code == 1
    index = json.loads(lines[1])["leaf_index"]
    assert f"FAIL export line 3: leaf_index {index} again (line 2 has it): a duplicated line" in (
        run.failures
    )


async def test_a_file_without_its_trailer_is_truncated(service: Service, tmp_path: Path) -> None:
    lines = await _three(service)
    run = await offline(_write(tmp_path / "e.ndjson", lines[:-1]), await service.vkey())
    assert run.code == 1
    assert run.failures == ["FAIL export: truncated: no trailer line (after line 3)"]
    run = await offline(_write(tmp_path / "empty.ndjson", []), await service.vkey())
    assert run.failures == ["FAIL export: truncated: no trailer line (the file is empty)"]


async def test_a_line_after_the_trailer_fails(service: Service, tmp_path: Path) -> None:
    lines = await _three(service)
    run = await offline(_write(tmp_path / "e.ndjson", [*lines, lines[0]]), await service.vkey())
    assert run.failures == ["FAIL export line 5: a line after the trailer"]


async def test_a_checkpoint_signed_by_another_key_fails(service: Service, tmp_path: Path) -> None:
    lines = await _three(service)
    trailer = _trailer(lines)
    note = parse_signed_note(trailer["checkpoint"])
    name = note.signatures[0].name
    forger = Ed25519NoteSigner(name, Ed25519PrivateKey.generate())
    trailer["checkpoint"] = forger.sign_checkpoint(parse_checkpoint(note.body))
    forged = [*lines[:-1], json.dumps({"trailer": trailer})]
    run = await offline(_write(tmp_path / "e.ndjson", forged), await service.vkey())
    assert run.code == 1
    assert len(run.failures) == 1
    assert run.failures[0].startswith("FAIL export checkpoint: ")
    run = await offline(_write(tmp_path / "e.ndjson", forged), forger.vkey)
    assert run.code == 0, run.out  # the file alone cannot tell: trust comes from the key


async def test_offline_needs_a_vkey(service: Service, tmp_path: Path) -> None:
    exported = _write(tmp_path / "e.ndjson", await _three(service))
    args = build_parser().parse_args(["verify", "--export", str(exported)])
    err = io.StringIO()
    assert await verify_cli.run_verify(args, out=io.StringIO(), err=err) == 2
    assert "--url is required, except for --export FILE with --vkey" in err.getvalue()


async def test_a_missing_file_is_a_usage_error(service: Service, tmp_path: Path) -> None:
    run = await verify(service, tmp_path / "state.json", "--export", str(tmp_path / "nope"))
    assert run.code == 2
    assert "no such file" in run.err


async def test_changes_made_while_an_export_runs_are_left_out_and_counted(
    services: Services,
) -> None:
    service = await services.start(export_page_size=2)
    ids = [
        (await service.record(occurred_at=f"2026-11-28T09:3{n}:00.000Z"))["id"] for n in range(4)
    ]
    export = await _resolved(service.container.export_entries())
    reader = Principal("reader", "acme", frozenset({Scope.READ.value}))
    query = ExportQuery(reader, EntryFilters(), SortOrder.OLDEST_FIRST)
    lines: list[bytes] = []
    async for item in export.execute(query):
        if isinstance(item, ExportTrailer):
            assert (item.tree_size, item.count, item.after_checkpoint) == (4, 3, 2)
            lines.append(b"".join([part async for part in trailer_line(item)]))
            continue
        if not lines:  # the first page is read: change what a later page holds
            await service.amend(ids[3], occurred_at="2026-11-28T09:33:00.000Z", action="x.y")
            await service.record(occurred_at="2026-11-28T09:59:00.000Z")
        lines.append(ndjson_line(item))
    assert [json.loads(line)["entry"]["id"] for line in lines[:-1]] == ids[:3]
    verified = verify_export(b"".join(lines).decode().splitlines(), await service.vkey())
    assert verified.failures == []
    assert (verified.lines, verified.after_checkpoint) == (3, 2)
