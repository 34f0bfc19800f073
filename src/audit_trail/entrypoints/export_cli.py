"""``audit-trail export``: download GET /entries/export to a file, with a progress bar."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from pathlib import Path
from typing import BinaryIO, TextIO

import httpx

from audit_trail.entrypoints.settings import Settings
from audit_trail.entrypoints.verify_cli import QUERY_FILTERS, TOKEN_VARIABLE, ProgressBar
from audit_trail.verify.service import connect

EXPORT_HELP = "download every entry a query matches, as NDJSON or CSV"
USAGE_ERROR, FAILED = 2, 1
_FILENAME = re.compile(r'filename="([A-Za-z0-9._-]+)"')


def export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", required=True, help="the service, e.g. https://audit.example")
    parser.add_argument(
        "--token", help=f"a bearer token with scope audit:read (default: ${TOKEN_VARIABLE})"
    )
    parser.add_argument("--format", choices=["ndjson", "csv"], default="ndjson")
    parser.add_argument("--sort", choices=["-occurred_at", "occurred_at"], default=None)
    for name, _ in QUERY_FILTERS:
        parser.add_argument("--" + name.replace("_", "-"), dest=name)
    parser.add_argument(
        "--output",
        "-o",
        help="the file to write (default: the name the service suggests, here; - for stdout)",
    )


def export(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(run_export(args))


async def run_export(
    args: argparse.Namespace,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    err: TextIO | None = None,
    directory: Path | None = None,
) -> int:
    """The ``export`` command; ``transport`` lets tests run it against an in-process app."""
    err = err or sys.stderr
    token = args.token or os.environ.get(TOKEN_VARIABLE)
    if not token:
        print(f"audit-trail: --token (or ${TOKEN_VARIABLE}) is required", file=err)
        return USAGE_ERROR
    try:
        # no read timeout: a large export may pause between pages
        service = connect(
            args.url, token, transport=transport, timeout=httpx.Timeout(30, read=None)
        )
    except ValueError as exc:
        print(f"audit-trail: {exc}", file=err)
        return USAGE_ERROR
    params = {"format": args.format}
    if args.sort:
        params["sort"] = args.sort
    params |= {n: getattr(args, n) for n, _ in QUERY_FILTERS if getattr(args, n) is not None}
    try:
        async with service.stream("/entries/export", params) as response:
            if response.status_code != 200:
                await response.aread()
                print(f"audit-trail: {response.status_code} {response.text}", file=err)
                return FAILED
            target = _target(args.output, response, directory or Path.cwd())
            lines = await _write(response, target, err)
    except httpx.HTTPError as exc:
        print(f"audit-trail: the export failed: {exc}", file=err)
        return FAILED
    finally:
        await service.http.aclose()
    if isinstance(target, Path):
        print(f"wrote {lines} lines to {target}", file=err)
    return 0


def _target(output: str | None, response: httpx.Response, directory: Path) -> BinaryIO | Path:
    if output == "-":
        return sys.stdout.buffer
    if output:
        return Path(output)
    match = _FILENAME.search(response.headers.get("content-disposition", ""))
    return directory / (match.group(1) if match else "audit-trail-export")


async def _write(response: httpx.Response, target: BinaryIO | Path, err: TextIO) -> int:
    progress = ProgressBar(err)
    lines = 0
    stream = target.open("wb") if isinstance(target, Path) else target
    try:
        async for chunk in response.aiter_bytes():
            stream.write(chunk)
            before, lines = lines, lines + chunk.count(b"\n")
            if lines // 1000 != before // 1000:
                progress("export", lines - lines % 1000, None)
    finally:
        if isinstance(target, Path):
            stream.close()
    progress("export", lines, lines)
    return lines
