"""The full audit: every leaf, the root they make, every live entry against its leaf,
and the query index derived again from the log's revisions (``index_audit``).

Writes may race an audit: an entry listed by ``/entries`` may be newer than the
checkpoint, or amended after it was listed. Entries on which the listing and the log
disagree are looked at again once, after a later checkpoint and its leaves; only what
still disagrees then is a failure. The index check is of the audited checkpoint's
leaves only: its index leaves, and the revisions they cover.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from audit_trail.core.integrity import Checkpoint
from audit_trail.verify.derivation import IndexReplay
from audit_trail.verify.index_audit import IndexAudit
from audit_trail.verify.leaves import LeafWalk
from audit_trail.verify.results import AuditResult, Failed, Failure, RevisionResult, fail
from audit_trail.verify.service import MAX_LEAVES, ServiceError

if TYPE_CHECKING:
    from audit_trail.verify.verifier import Proven, Verifier


class FullAudit:
    def __init__(self, verifier: Verifier, checkpoint: Checkpoint) -> None:
        self.verifier = verifier
        self.service = verifier.service
        self.checkpoint = checkpoint
        self.walk = LeafWalk(checkpoint.origin)
        self.replay = IndexReplay()
        self.proven: dict[tuple[str, int], Proven] = {}  # revisions proven in the checkpoint
        self.unchecked: list[Failure] = []
        self.failures: list[Failure] = []
        self.withheld: list[RevisionResult] = []
        self.listed: dict[str, dict[str, Any]] = {}
        self.checked = 0

    async def run(self) -> AuditResult:
        try:
            await self.read_leaves(self.checkpoint)
        except Failed as exc:
            self.failures.append(exc.failure)
        else:
            await self.check_entries()
            index = IndexAudit(
                self.verifier, self.checkpoint, self.replay, self.proven, self.walk.purged
            )
            failures, self.unchecked = await index.run()
            self.failures += failures
        return AuditResult(
            tree_size=self.walk.size,
            leaves=self.walk.size,
            entries=self.checked,
            failures=tuple(dict.fromkeys((*self.walk.failures, *self.failures))),
            withheld=tuple(self.withheld),
            index_leaves=len(self.replay.index_leaves),
            unchecked=tuple(self.unchecked),
        )

    async def check_entries(self) -> None:
        """Every live entry against its leaf, looking again at the unsettled ones."""
        try:
            ready = await self.list_entries()
        except Failed as exc:
            self.failures.append(exc.failure)
            return
        await self.check_live(ready, self.checkpoint)
        unsettled = {i for i, e in self.listed.items() if not self.walk.settled(e)}
        unsettled |= {i for i in self.walk.live_ids() if i not in self.listed}
        if unsettled:
            await self.settle(sorted(unsettled))

    async def read_leaves(self, checkpoint: Checkpoint) -> None:
        """Extend the walk to the size of ``checkpoint`` and check its root."""
        subject = f"tree size {checkpoint.size}"
        walk = self.walk
        while walk.size < checkpoint.size:
            start, end = walk.size, min(walk.size + MAX_LEAVES, checkpoint.size)
            try:
                page = await self.service.leaves(start, end)
            except ServiceError as exc:
                raise fail(subject, str(exc)) from None
            if [index for index, _ in page] != list(range(start, end)):
                raise fail(subject, f"the service does not serve leaves {start} to {end - 1}")
            for index, leaf in page:
                digest = walk.add(index, leaf)
                if index < self.checkpoint.size:  # the index check is of the audited tree
                    self.replay.file(index, leaf, digest)
            self.verifier.progress("leaves", walk.size, checkpoint.size)
        if walk.root() != checkpoint.root:
            raise fail(subject, "the leaves the service serves do not hash to the signed root")

    async def list_entries(self) -> list[dict[str, Any]]:
        """Every live entry the token may read; those whose revision is the log's latest."""
        ready: list[dict[str, Any]] = []
        try:
            async for page in self.service.entry_pages():
                for entry in page:
                    entry_id = entry.get("id")
                    if not isinstance(entry_id, str) or type(entry.get("revision")) is not int:
                        raise fail("entries", "/entries lists an entry without id or revision")
                    self.listed[entry_id] = entry
                    if self.walk.settled(entry):
                        ready.append(entry)
                self.verifier.progress("entries", len(self.listed), None)
        except ServiceError as exc:
            raise fail("entries", str(exc)) from None
        return ready

    async def check_live(self, entries: Sequence[dict[str, Any]], checkpoint: Checkpoint) -> None:
        """Each entry's revision proven end to end, and the very leaf the walk saw for it."""
        done = 0

        async def one(entry: dict[str, Any]) -> None:
            nonlocal done
            entry_id, revision = entry["id"], entry["revision"]
            try:
                proven = await self.verifier.prove(entry_id, revision, checkpoint.size, checkpoint)
                self.walk.check_proven(proven.result)
                if proven.entry != entry:
                    raise fail(
                        f"entry {entry_id} revision {revision}",
                        "is served otherwise by /entries than by its proof",
                    )
            except Failed as exc:
                self.failures.append(exc.failure)
            else:
                if checkpoint is self.checkpoint:
                    self.proven[(entry_id, revision)] = proven
                if proven.result.withheld:
                    self.withheld.append(proven.result)
            done += 1
            self.verifier.progress("proofs", done, len(entries))

        await asyncio.gather(*(one(entry) for entry in entries))
        self.checked += len(entries)

    async def settle(self, ids: Sequence[str]) -> None:
        """Look again at entries the listing and the log disagreed on: a later checkpoint
        (consistent with the first), the leaves up to it, each entry read again."""
        await asyncio.sleep(self.verifier.settle_seconds)
        latest = await self.verifier.latest_checkpoint({self.checkpoint.origin: self.checkpoint})
        if latest.checkpoint is None or latest.failures:
            self.failures.extend(latest.failures)
            return
        try:
            await self.read_leaves(latest.checkpoint)
        except Failed as exc:
            self.failures.append(exc.failure)
            return
        ready: list[dict[str, Any]] = []
        for entry_id in ids:
            try:
                served = await self.service.entry(entry_id)
            except ServiceError as exc:
                self.failures.append(Failure(f"entry {entry_id}", str(exc)))
                continue
            verdict = self.walk.disagreement(entry_id, served, self.listed.get(entry_id))
            if verdict is not None:
                self.failures.append(verdict)
            elif served is not None:
                ready.append(served)
        await self.check_live(ready, latest.checkpoint)
