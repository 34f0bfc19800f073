"""Checking an NDJSON export (GET /entries/export) offline: its lines and its trailer
against the signed checkpoint the trailer carries (docs/lifecycle.md, "Export").

Each entry line's leaf is rebuilt from what the line carries (the entry, its salts, the
digests of the fields hidden from the reader, ``prev``); the rebuilt leaves at their
``leaf_index`` and the trailer's complement hashes must give the root of the
checkpoint, signed by the trusted key. An edited, dropped, added, duplicated or moved
line, or a file cut short, fails. The file is read a line at a time: memory holds 8
bytes of index, 32 of hash and 4 of line number per line.
"""

from __future__ import annotations

import base64
import binascii
import json
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from audit_trail.core.integrity import Checkpoint, ProofError
from audit_trail.core.integrity.leaf import b64
from audit_trail.core.integrity.multiproof import multiproof_root
from audit_trail.verify.evidence import signed_checkpoint
from audit_trail.verify.query_entries import rebuilt_leaves
from audit_trail.verify.results import Failed, Failure

SUBJECT = "export"


@dataclass
class ExportResult:
    lines: int = 0
    checkpoint: Checkpoint | None = None
    after_checkpoint: int = 0
    failures: list[Failure] = field(default_factory=list)


@dataclass
class _Seen:
    indices: array[int] = field(default_factory=lambda: array("Q"))
    hashes: bytearray = field(default_factory=bytearray)
    numbers: array[int] = field(default_factory=lambda: array("L"))
    tenant: str | None = None


def verify_export(lines: Iterable[str], vkey: str) -> ExportResult:
    """Check an export file's lines (as read, newline or not) with no network."""
    result, seen = ExportResult(), _Seen()
    trailer: dict[str, Any] | None = None
    number = 0
    for number, text in enumerate(lines, start=1):
        subject = f"export line {number}"
        if trailer is not None:
            result.failures.append(Failure(subject, "a line after the trailer"))
            break
        try:
            item = json.loads(text)
        except ValueError as exc:
            result.failures.append(Failure(subject, f"not JSON: {exc}"))
            continue
        if isinstance(item, dict) and set(item) == {"trailer"}:
            if not isinstance(item["trailer"], dict):
                result.failures.append(Failure(subject, "the trailer is not an object"))
                return result
            trailer = item["trailer"]
            continue
        result.lines += 1
        _entry_line(item, number, subject, seen, result.failures)
    if trailer is None:
        cut = f"after line {number}" if number else "the file is empty"
        result.failures.append(Failure(SUBJECT, f"truncated: no trailer line ({cut})"))
        return result
    try:
        _check_trailer(trailer, seen, result, vkey)
    except Failed as exc:
        result.failures.append(exc.failure)
    return result


def _entry_line(
    item: object, number: int, subject: str, seen: _Seen, failures: list[Failure]
) -> None:
    try:
        if not isinstance(item, dict):
            raise TypeError("not an object")
        entry = item["entry"]
        entry_id, tenant = str(entry["id"]), str(entry["tenant"])
        index = item["leaf_index"]
    except (KeyError, TypeError) as exc:
        failures.append(Failure(subject, f"malformed: not an entry line ({exc!r})"))
        return
    if type(index) is not int or index < 0:
        failures.append(Failure(subject, f"entry {entry_id}: leaf_index {index!r}: not in the log"))
        return
    seen.tenant = tenant if seen.tenant is None else seen.tenant
    rebuilt = rebuilt_leaves({entry_id: item}, seen.tenant)[entry_id]
    if rebuilt.failure is not None:
        failures.append(Failure(subject, str(rebuilt.failure)))
        return
    assert rebuilt.leaf_hash is not None
    seen.indices.append(index)
    seen.hashes += rebuilt.leaf_hash
    seen.numbers.append(number)


def _check_trailer(trailer: dict[str, Any], seen: _Seen, result: ExportResult, vkey: str) -> None:
    note, size, count = trailer.get("checkpoint"), trailer.get("tree_size"), trailer.get("count")
    later, complement = trailer.get("after_checkpoint", 0), trailer.get("complement")
    if not isinstance(note, str) or type(size) is not int or type(count) is not int:
        raise _failed("the trailer lacks its checkpoint, tree_size or count")
    if not isinstance(complement, list):
        raise _failed("the trailer's complement is not a list")
    checkpoint = signed_checkpoint(note, vkey, "export checkpoint")
    result.checkpoint, result.after_checkpoint = checkpoint, later if type(later) is int else 0
    if checkpoint.size != size:
        raise _failed(f"tree_size {size}, but the checkpoint is of size {checkpoint.size}")
    if seen.tenant is not None and not checkpoint.origin.endswith("/" + seen.tenant):
        raise _failed(f"the checkpoint is of {checkpoint.origin!r}, not tenant {seen.tenant!r}")
    failures = result.failures
    lines_failed = bool(failures)
    if count != result.lines:
        failures.append(
            Failure(
                SUBJECT,
                f"the trailer counts {count} entry lines, the file has {result.lines}: "
                f"{'dropped' if result.lines < count else 'added'} line(s)",
            )
        )
    if lines_failed:
        return  # a line that does not rebuild leaves no hash to rebuild the root from
    order = sorted(range(len(seen.indices)), key=seen.indices.__getitem__)
    for before, after in pairwise(order):
        if seen.indices[before] == seen.indices[after]:
            failures.append(
                Failure(
                    f"export line {seen.numbers[after]}",
                    f"leaf_index {seen.indices[after]} again (line {seen.numbers[before]} "
                    "has it): a duplicated line",
                )
            )
    for position in reversed(order):
        if seen.indices[position] < size:
            break
        failures.append(
            Failure(
                f"export line {seen.numbers[position]}",
                f"leaf_index {seen.indices[position]} is beyond the checkpoint's {size} leaves",
            )
        )
    if failures:
        return
    try:
        hashes = [base64.b64decode(h, validate=True) for h in complement]
        indices = [seen.indices[p] for p in order]
        leaves = [bytes(seen.hashes[32 * p : 32 * p + 32]) for p in order]
        root = multiproof_root(size, indices, leaves, hashes)
    except (TypeError, binascii.Error, ProofError) as exc:
        raise _failed(
            "the trailer's complement does not fit the exported lines (a line was dropped, "
            f"added or moved to another leaf_index): {exc}"
        ) from None
    if root != checkpoint.root:
        raise _failed(
            f"the {result.lines} exported lines and the trailer's complement give root "
            f"{b64(root)}, the checkpoint's is {b64(checkpoint.root)}: a line was edited, "
            "dropped, added or moved to another leaf_index"
        )


def _failed(reason: str) -> Failed:
    return Failed(Failure(SUBJECT, reason))
