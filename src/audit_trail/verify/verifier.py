"""Verifying a tenant log over HTTP: the signed checkpoint and its consistency with one
verified before, one entry end to end, and the full audit.

A ``Verifier`` trusts one key (``vkey``) and nothing the service says without checking
it against that key and the hashes. It never raises for what it finds: every failure
is in the typed result it returns, one line each.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from audit_trail.core.integrity import Checkpoint
from audit_trail.verify.audit import FullAudit
from audit_trail.verify.evidence import (
    check_consistency,
    check_revision,
    read_proof,
    served_vkey,
    signed_checkpoint,
)
from audit_trail.verify.results import (
    AuditResult,
    CheckpointResult,
    EntryResult,
    Failed,
    Failure,
    RevisionResult,
    Unobtainable,
    fail,
)
from audit_trail.verify.service import ServiceClient, ServiceError

Progress = Callable[[str, int, int | None], None]
"""Called with a phase (``"leaves"``, ``"entries"``), how much is done, and the total
when it is known."""

SETTLE_SECONDS = 1.5  # a checkpoint covers every write acknowledged more than 1 s ago


def _quiet(phase: str, done: int, total: int | None) -> None:
    pass


class Verifier:
    def __init__(
        self,
        service: ServiceClient,
        vkey: str,
        *,
        progress: Progress = _quiet,
        settle_seconds: float = SETTLE_SECONDS,
        concurrency: int = 8,
    ) -> None:
        self.service = service
        self.vkey = vkey
        self.progress = progress
        self.settle_seconds = settle_seconds
        self._limit = asyncio.Semaphore(concurrency)

    async def check_key(self) -> tuple[Failure, ...]:
        """Whether the service still publishes the trusted key."""
        try:
            served = served_vkey(await self.service.key())
        except ServiceError as exc:
            return (Failure("key", str(exc)),)
        except Failed as exc:
            return (exc.failure,)
        if served != self.vkey:
            return (Failure("key", f"the service publishes {served}, not the trusted {self.vkey}"),)
        return ()

    async def latest_checkpoint(
        self, known: Mapping[str, Checkpoint] | None = None
    ) -> CheckpointResult:
        """The latest checkpoint, signed by the trusted key, and consistent with the one
        verified before for its origin (``known``: origin -> checkpoint), if any."""
        try:
            note = await self.service.checkpoint()
            checkpoint = signed_checkpoint(note, self.vkey)
        except ServiceError as exc:
            return CheckpointResult(None, None, None, (Failure("checkpoint", str(exc)),))
        except Failed as exc:
            return CheckpointResult(None, None, None, (exc.failure,))
        previous = (known or {}).get(checkpoint.origin)
        if previous is None:
            return CheckpointResult(checkpoint, note, None)
        try:
            await self.extends(previous, checkpoint)
        except Failed as exc:
            return CheckpointResult(checkpoint, note, previous, (exc.failure,))
        return CheckpointResult(checkpoint, note, previous)

    async def extends(self, older: Checkpoint, newer: Checkpoint) -> None:
        """Raise ``Failed`` unless ``newer`` extends ``older`` (a consistency proof from
        the service when the sizes differ; equal roots when they do not)."""
        proof: list[bytes] = []
        if older.size < newer.size and older.size > 0:
            try:
                proof = await self.service.consistency(older.size, newer.size)
            except ServiceError as exc:
                raise fail(f"tree size {newer.size}", str(exc)) from None
        check_consistency(older, newer, proof)

    async def verify_entry(self, entry_id: str, checkpoint: Checkpoint) -> EntryResult:
        """Every revision of one entry, end to end, in a tree that ``checkpoint`` (already
        verified) is consistent with: values, salts, digests, leaves, the links from
        each revision's leaf to the one before, inclusion, the signed checkpoint."""
        try:
            latest = await self.prove(entry_id, None, None, checkpoint)
        except Failed as exc:
            return EntryResult(entry_id, (), (exc.failure,))
        proven = [latest]
        failures: list[Failure] = []
        for revision in range(latest.result.revision - 1, 0, -1):
            try:
                proven.append(
                    await self.prove(entry_id, revision, latest.tree_size, latest.checkpoint)
                )
            except Failed as exc:
                failures.append(exc.failure)
                break
        proven.reverse()
        failures += _links(f"entry {entry_id}", proven)
        return EntryResult(entry_id, tuple(p.result for p in proven), tuple(failures))

    async def full_audit(self, checkpoint: Checkpoint) -> AuditResult:
        """Download every leaf of the tree of ``checkpoint`` (already verified), rebuild
        its root, check each leaf's links, then check every live entry's current
        revision against its leaf."""
        return await FullAudit(self, checkpoint).run()

    # --- the parts ---

    async def prove(
        self, entry_id: str, revision: int | None, tree_size: int | None, anchor: Checkpoint
    ) -> Proven:
        """One revision's proof checked, against a checkpoint signed by the trusted key
        and consistent with ``anchor``."""
        subject = f"entry {entry_id}" + (f" revision {revision}" if revision else "")
        async with self._limit:
            try:
                body = await self.service.proof(entry_id, revision, tree_size)
            except ServiceError as exc:
                failed = fail(subject, f"no proof: {exc}")
                if exc.status == 404:
                    raise Unobtainable(failed.failure) from None
                raise failed from None
        view = read_proof(body, subject)
        served_revision = view.entry.get("revision")
        if revision is not None and served_revision != revision:
            raise fail(subject, f"the proof is of revision {served_revision!r}")
        if view.entry.get("id") != entry_id:
            raise fail(subject, f"the proof is of entry {view.entry.get('id')!r}")
        subject = f"entry {entry_id} revision {served_revision}"
        proven = signed_checkpoint(view.note, self.vkey, f"tree size {view.tree_size}")
        if proven.size >= anchor.size:
            await self.extends(anchor, proven)
        else:
            await self.extends(proven, anchor)
        result, prev = check_revision(view, proven, subject)
        return Proven(result, view.entry, prev, proven)


@dataclass(frozen=True, slots=True)
class Proven:
    """A revision proven end to end."""

    result: RevisionResult
    entry: dict[str, Any]  # as the proof served it
    prev: bytes | None  # the leaf hash the revision's leaf links to
    checkpoint: Checkpoint  # what it was proven against

    @property
    def tree_size(self) -> int:
        return self.checkpoint.size


def _links(subject: str, proven: Sequence[Proven]) -> list[Failure]:
    """Revision r + 1's leaf names revision r's leaf hash, and comes after it."""
    failures: list[Failure] = []
    for older, newer in itertools.pairwise(proven):
        before, after = older.result, newer.result
        where = f"{subject} revision {after.revision}"
        if after.revision != before.revision + 1:
            failures.append(Failure(where, f"follows revision {before.revision}"))
        elif newer.prev != before.leaf_hash:
            failures.append(
                Failure(where, f"its leaf does not link to the leaf of revision {before.revision}")
            )
        elif after.leaf_index <= before.leaf_index:
            failures.append(
                Failure(where, f"its leaf {after.leaf_index} is not after {before.leaf_index}")
            )
    return failures
