"""Checking an export file (GET /entries/export, NDJSON) against the tenant's log.

Each line's leaf is rebuilt from what the line carries (the entry, its salts, the
digests of the fields hidden from the reader, ``prev``); then the service's proof of
that revision, checked against a checkpoint consistent with the verified one, must
show the same leaf hash at the same ``leaf_index``. An edited, forged or reordered
line fails; a line the export left out is not detected (an export is not a query
proof). One proof request per line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from audit_trail.core.integrity import Checkpoint
from audit_trail.core.integrity.leaf import b64
from audit_trail.verify.query_entries import rebuilt_leaves
from audit_trail.verify.results import Failed, Failure
from audit_trail.verify.verifier import Verifier


@dataclass
class ExportResult:
    lines: int = 0
    failures: list[Failure] = field(default_factory=list)


async def verify_export(
    lines: Iterable[str], verifier: Verifier, checkpoint: Checkpoint
) -> ExportResult:
    result = ExportResult()
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        result.lines += 1
        subject = f"export line {number}"
        try:
            item = json.loads(text)
            entry = item["entry"]
            entry_id, revision, tenant = entry["id"], entry["revision"], entry["tenant"]
        except (ValueError, KeyError, TypeError) as exc:
            result.failures.append(Failure(subject, f"malformed: {exc}"))
            continue
        rebuilt = rebuilt_leaves({str(entry_id): item}, str(tenant))[str(entry_id)]
        if rebuilt.failure is not None:
            result.failures.append(Failure(subject, str(rebuilt.failure)))
            continue
        try:
            proven = await verifier.prove(str(entry_id), int(revision), None, checkpoint)
        except Failed as exc:
            result.failures.append(Failure(subject, str(exc.failure)))
            continue
        if proven.result.leaf_hash != rebuilt.leaf_hash:
            assert rebuilt.leaf_hash is not None
            result.failures.append(
                Failure(
                    subject,
                    f"entry {entry_id} revision {revision}: its leaf rebuilds to "
                    f"{b64(rebuilt.leaf_hash)}, the log holds {b64(proven.result.leaf_hash)}",
                )
            )
        elif item.get("leaf_index") != proven.result.leaf_index:
            result.failures.append(
                Failure(
                    subject,
                    f"leaf_index {item.get('leaf_index')!r}, the log has it at "
                    f"{proven.result.leaf_index}",
                )
            )
    return result
