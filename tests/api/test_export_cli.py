"""``audit-trail export`` downloads an export through the API."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx

from audit_trail.entrypoints import export_cli
from audit_trail.entrypoints.cli import build_parser
from tests.api.client import Api, entry


def _exported(directory: Path) -> list[dict[str, Any]]:
    (written,) = directory.glob("audit-trail-acme-*.ndjson")
    return [json.loads(line) for line in written.read_text().splitlines()]


async def test_export_downloads_to_the_suggested_file(api: Api, tmp_path: Path) -> None:
    transport = api.http._transport
    assert isinstance(transport, httpx.AsyncBaseTransport)
    ids = {(await api.record(entry(action=a)))["id"] for a in ("a.one", "a.two")}
    await api.record(entry(action="b.other"))
    args = build_parser().parse_args(
        ["export", "--url", "http://api", "--token", api.tokens.token(["audit:read"]),
         "--action", "a.*"]
    )  # fmt: skip
    err = io.StringIO()
    code = await export_cli.run_export(args, transport=transport, err=err, directory=tmp_path)
    assert code == 0, err.getvalue()
    *lines, trailer = _exported(tmp_path)
    assert {line["entry"]["id"] for line in lines} == ids
    assert trailer["trailer"]["count"] == 2
    assert "export" in err.getvalue()


async def test_export_reports_a_refusal(api: Api, tmp_path: Path) -> None:
    args = build_parser().parse_args(
        ["export", "--url", "http://api", "--token", "not-a-token", "-o", str(tmp_path / "x")]
    )
    err = io.StringIO()
    code = await export_cli.run_export(args, transport=api.http._transport, err=err)
    assert code == 1
    assert "401" in err.getvalue()
    assert not (tmp_path / "x").exists()
