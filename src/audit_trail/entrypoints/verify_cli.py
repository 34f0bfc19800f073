"""``audit-trail verify`` and ``audit-trail log-key``: the client side of the tenant logs.

``verify`` trusts one verifier key (``--vkey``, or the one saved for the service, or,
the first time, the one the service serves: trust on first use, said on stderr), checks
the latest signed checkpoint against the one it verified last time (saved per origin in
the state file), then ``--entry ID`` end to end and ``--full`` audits. ``--export FILE``
checks an NDJSON export against the checkpoint in its trailer; with ``--vkey`` and no
``--url`` it does so offline, with nothing but the file. It prints one
line per failure and exits 0 only when everything verifies (1 when something fails, 2
for bad arguments, 3 when nothing failed but a full audit could not check the
derivation of some index leaves: one ``UNCHECKED`` line each, saying why).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

import httpx

from audit_trail.core.integrity import Checkpoint, parse_vkey
from audit_trail.entrypoints.container import build_note_signer
from audit_trail.entrypoints.settings import Settings
from audit_trail.verify import AuditResult, Failure, ServiceClient, ServiceError, Verifier, connect
from audit_trail.verify.evidence import served_vkey
from audit_trail.verify.export_file import ExportResult, verify_export
from audit_trail.verify.query import print_entries, verify_query
from audit_trail.verify.results import Failed
from audit_trail.verify.state import StateError, VerifyState, default_state_path

VERIFY_HELP = "verify the service's signed tenant log, an entry, or everything (a full audit)"
LOG_KEY_HELP = "print the verifier key (vkey) of the log's checkpoint signing key"
TOKEN_VARIABLE = "AUDIT_VERIFY_TOKEN"  # noqa: S105 (a variable name, not a secret)
FAILED, USAGE_ERROR, INCOMPLETE = 1, 2, 3


QUERY_FILTERS = (
    ("actor_id", "entries by this actor (proven)"),
    ("target_type", "with --target-id: entries on this target (proven)"),
    ("target_id", "with --target-type: entries on this target (proven)"),
    ("action", "this action exactly (proven), or a prefix ending in * (checked)"),
    ("since", "occurred_at at or after (ISO 8601)"),
    ("until", "occurred_at at or before (ISO 8601)"),
    ("actor_type", "entries by actors of this type (checked on the proven set)"),
    ("outcome", "entries with this outcome (checked on the proven set)"),
    ("tag", "entries carrying this tag (checked on the proven set)"),
)


def verify_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "what",
        nargs="?",
        choices=["query"],
        help="query: fetch a query's answer with its proof, verify that it holds every "
        "entry the log has for the query, and print them",
    )
    for name, text in QUERY_FILTERS:
        parser.add_argument("--" + name.replace("_", "-"), dest=name, help=text)
    parser.add_argument(
        "--format", choices=["table", "ndjson"], default="table", help="how to print entries"
    )
    parser.add_argument(
        "--url",
        help="the service, e.g. https://audit.example (not needed for --export with --vkey)",
    )
    parser.add_argument(
        "--token", help=f"a bearer token with scope audit:read (default: ${TOKEN_VARIABLE})"
    )
    parser.add_argument(
        "--vkey", help="the verifier key to trust (default: the saved one, or trust on first use)"
    )
    parser.add_argument(
        "--state",
        type=Path,
        default=None,
        help=f"the state file (default: {default_state_path()})",
    )
    parser.add_argument(
        "--entry", action="append", default=[], metavar="ID", help="verify one entry; repeatable"
    )
    parser.add_argument("--full", action="store_true", help="a full audit of every leaf and entry")
    parser.add_argument(
        "--export",
        type=Path,
        metavar="FILE",
        help="check an NDJSON export (audit-trail export) against the signed checkpoint "
        "in its trailer: offline with --vkey and no --url; with --url, also that the "
        "service's log extends that checkpoint",
    )


def verify(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(run_verify(args))


async def run_verify(
    args: argparse.Namespace,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    settle_seconds: float | None = None,
) -> int:
    """The ``verify`` command; ``transport`` lets tests run it against an in-process app."""
    out, err = out or sys.stdout, err or sys.stderr
    token = args.token or os.environ.get(TOKEN_VARIABLE)
    state_path: Path = args.state or default_state_path()
    if args.url is None:
        return _verify_offline(args, out, err)
    try:
        if not token:
            raise ValueError(f"--token (or ${TOKEN_VARIABLE}) is required")
        if args.vkey is not None:
            parse_vkey(args.vkey)
        if args.export is not None and not args.export.is_file():
            raise ValueError(f"--export: no such file: {args.export}")
        state = VerifyState.load(state_path)
        service = connect(args.url, token, transport=transport)
    except (ValueError, StateError) as exc:  # NoteError is a ValueError
        print(f"audit-trail: {exc}", file=err)
        return USAGE_ERROR
    url = args.url.rstrip("/")
    try:
        return await _verify(
            args,
            service_url=url,
            state=state,
            state_path=state_path,
            service=service,
            out=out,
            err=err,
            settle_seconds=settle_seconds,
        )
    finally:
        await service.http.aclose()


async def _verify(
    args: argparse.Namespace,
    *,
    service_url: str,
    state: VerifyState,
    state_path: Path,
    service: ServiceClient,
    out: TextIO,
    err: TextIO,
    settle_seconds: float | None,
) -> int:
    failures: list[Failure] = []
    unchecked: list[Failure] = []
    vkey = args.vkey or state.keys.get(service_url)
    first_use = vkey is None
    if vkey is None:
        try:
            vkey = served_vkey(await service.key())
        except ServiceError as exc:
            return _report([Failure("key", str(exc))], out)
        except Failed as exc:
            return _report([exc.failure], out)
        print(
            f"WARNING: TRUST ON FIRST USE: no --vkey given and none saved for {service_url}; "
            f"trusting the key the service serves now: {vkey} . Compare it with "
            "`audit-trail log-key` run where the signing key is kept, or pass --vkey.",
            file=err,
        )
    verifier = Verifier(service, vkey, progress=ProgressBar(err))
    if settle_seconds is not None:
        verifier.settle_seconds = settle_seconds
    failures += await verifier.check_key()
    latest = await verifier.latest_checkpoint(state.checkpoints)
    failures += latest.failures
    checkpoint = latest.checkpoint
    if checkpoint is None:
        return _report(failures, out)
    if latest.ok and latest.note is not None:
        state.remember(checkpoint, latest.note)
        if first_use:
            state.keys[service_url] = vkey
        state.save(state_path)
    since = f", consistent with size {latest.previous.size}" if latest.previous else ""
    summary = [f"checkpoint {checkpoint.origin} tree size {checkpoint.size}{since}"]
    if args.what == "query":
        params = {name: value for name, _ in QUERY_FILTERS if (value := getattr(args, name))}
        query = await verify_query(service, vkey, checkpoint, params)
        failures += query.failures
        print_entries(query.entries, args.format, out)
        if query.ok:
            summary.append(
                f"query: {len(query.entries)} entries, complete as of log size {query.covers}"
            )
    for entry_id in args.entry:
        result = await verifier.verify_entry(entry_id, checkpoint)
        failures += result.failures
        for revision in result.revisions:
            _note_withheld(f"entry {entry_id} revision {revision.revision}", revision.withheld, err)
        if result.ok:
            summary.append(f"entry {entry_id}: {len(result.revisions)} revision(s)")
    if args.export is not None:
        failures += await _verify_export(args.export, verifier, checkpoint, summary)
    if args.full:
        audit = await verifier.full_audit(checkpoint)
        failures += audit.failures
        unchecked += audit.unchecked
        summary.append(_audit_summary(audit, err))
    if failures:
        return _report(failures, out, unchecked)
    if unchecked:
        for item in unchecked:
            print(f"UNCHECKED {item}", file=out)
        print("not verified in full: " + "; ".join(summary), file=out)
        return INCOMPLETE
    print("verified: " + "; ".join(summary), file=out)
    return 0


def _verify_offline(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``verify --export FILE --vkey VKEY`` with no ``--url``: nothing but the file."""
    try:
        if args.export is None or args.vkey is None:
            raise ValueError("--url is required, except for --export FILE with --vkey (offline)")
        parse_vkey(args.vkey)
        if not args.export.is_file():
            raise ValueError(f"--export: no such file: {args.export}")
    except ValueError as exc:  # NoteError is a ValueError
        print(f"audit-trail: {exc}", file=err)
        return USAGE_ERROR
    summary: list[str] = []
    exported = _export_file(args.export, args.vkey, summary)
    if exported.failures:
        return _report(exported.failures, out)
    print("verified offline: " + "; ".join(summary), file=out)
    return 0


def _export_file(path: Path, vkey: str, summary: list[str]) -> ExportResult:
    exported = verify_export(_file_lines(path), vkey)
    if not exported.failures and exported.checkpoint is not None:
        text = f"export {path.name}: {exported.lines} entries, each a leaf of the signed "
        text += f"log of size {exported.checkpoint.size}"
        if exported.after_checkpoint:
            text += f" ({exported.after_checkpoint} changed later left out)"
        summary.append(text)
    return exported


async def _verify_export(
    path: Path, verifier: Verifier, checkpoint: Checkpoint, summary: list[str]
) -> list[Failure]:
    """The file offline, then: the service's verified checkpoint extends the export's."""
    exported = _export_file(path, verifier.vkey, summary)
    if exported.failures or exported.checkpoint is None:
        return exported.failures
    older, newer = sorted((exported.checkpoint, checkpoint), key=lambda c: c.size)
    try:
        await verifier.extends(older, newer)
    except Failed as exc:
        return [exc.failure]
    return []


def _file_lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as lines:
        yield from lines


def _audit_summary(audit: AuditResult, err: TextIO) -> str:
    for revision in audit.withheld:
        subject = f"entry {revision.entry_id} revision {revision.revision}"
        _note_withheld(subject, revision.withheld, err)
    summary = f"full audit: {audit.leaves} leaves, {audit.entries} live entries"
    if audit.index_leaves:
        derived = audit.index_leaves - len(audit.unchecked)
        summary += f", {derived} of {audit.index_leaves} index leaves derived"
    return summary


def _report(failures: list[Failure], out: TextIO, unchecked: Sequence[Failure] = ()) -> int:
    for failure in failures:
        print(f"FAIL {failure}", file=out)
    for item in unchecked:
        print(f"UNCHECKED {item}", file=out)
    return FAILED


def _note_withheld(subject: str, paths: tuple[str, ...], err: TextIO) -> None:
    if paths:
        print(
            f"note: {subject}: field(s) shown only as digests to this reader "
            f"(erased, hidden or redacted): {', '.join(paths)}",
            file=err,
        )


class ProgressBar:
    """A bar on a terminal; plain lines (one per thousand, and the last) otherwise."""

    WIDTH = 30

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._open = False

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        finished = total is not None and done >= total
        if not self._tty:
            if done % 1000 == 0 or finished:
                self._stream.write(f"{phase}: {done}" + (f"/{total}\n" if total else "\n"))
            return
        if total:
            filled = self.WIDTH * done // total
            bar = "#" * filled + "." * (self.WIDTH - filled)
            self._stream.write(f"\r{phase:8} [{bar}] {done}/{total}")
        else:
            self._stream.write(f"\r{phase:8} {done}")
        self._open = not finished
        if finished:
            self._stream.write("\n")
        self._stream.flush()


# --- log-key ---


def log_key_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", help="ask this service for its key (default: read the configured key file)"
    )


def log_key(args: argparse.Namespace, settings: Settings) -> int:
    if args.url is None:
        print(build_note_signer(settings).vkey)
        return 0
    return asyncio.run(_fetch_log_key(args.url))


async def _fetch_log_key(url: str, transport: httpx.AsyncBaseTransport | None = None) -> int:
    try:
        service = connect(url, None, transport=transport)
    except ValueError as exc:
        print(f"audit-trail: {exc}", file=sys.stderr)
        return USAGE_ERROR
    try:
        print(served_vkey(await service.key()))
    except ServiceError as exc:
        print(f"FAIL key: {exc}")
        return FAILED
    except Failed as exc:
        print(f"FAIL {exc.failure}")
        return FAILED
    finally:
        await service.http.aclose()
    return 0
