"""The full audit's derivation check of the query index: what it asks the service.

The index key comes with a query proof (``proof=1``): the audit asks one, over an hour
of 1970 (one bucket; almost surely empty), and verifies it like any other, so the key
is the one a signed index leaf commits. The values of every revision in the audited
tree come from its entry proof (``/entries/{id}/proof?revision=R&tree_size=N``, which
serves superseded revisions and tombstones too), checked end to end against its leaf;
the revisions the audit already proved for the live entries are not asked again.
A revision of an entry a purge leaf lists is not asked for (storage no longer holds
it): the replay stops there, and the index leaves past it are reported not checked,
naming the purge leaf.
Then ``derivation.IndexReplay`` replays them and judges each index leaf.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING

from audit_trail.core.integrity import Checkpoint
from audit_trail.core.model import Entry
from audit_trail.core.serialization import entry_from_json
from audit_trail.verify.derivation import Change, IndexReplay
from audit_trail.verify.query import verify_query
from audit_trail.verify.results import Failed, Failure, Unobtainable

if TYPE_CHECKING:
    from audit_trail.verify.verifier import Proven, Verifier

KEY_QUERY = {"since": "1970-01-01T00:00:00.000Z", "until": "1970-01-01T00:59:59.999Z"}
CHUNK = 256  # revisions asked for at once
INDEXED = ("occurred_at", "action", "actor.id", "target.type", "target.id")
"""The committed fields a revision's index keys and postings are made of."""


class IndexAudit:
    def __init__(
        self,
        verifier: Verifier,
        checkpoint: Checkpoint,
        replay: IndexReplay,
        proven: Mapping[tuple[str, int], Proven],
        purged: Mapping[str, int] | None = None,
    ) -> None:
        self.purged = purged or {}  # entry id -> the purge leaf that lists it
        self.verifier = verifier
        self.checkpoint = checkpoint
        self.replay = replay
        self.proven = proven
        self.failures: list[Failure] = []

    async def run(self) -> tuple[list[Failure], list[Failure]]:
        """The failures found, and the index leaves whose derivation was not checked."""
        replay = self.replay
        if not replay.index_leaves:
            return [], []
        key = await self.index_key()
        if key is None:
            return self.failures, replay.verdicts(None)[1]
        replay.start(key)
        done, total = 0, len(replay.changes)
        for at in range(0, total, CHUNK):
            chunk = replay.changes[at : at + CHUNK]
            read = await asyncio.gather(*(self.revision(change) for change in chunk))
            for change, (revision, reason) in zip(chunk, read, strict=True):
                if revision is None:
                    await replay.stop(change, reason)
                    break
                await replay.apply(change, revision)
            if replay.stopped:
                break
            done += len(chunk)
            self.verifier.progress("index", done, total)
        await replay.finish()
        failures, unchecked = replay.verdicts(key)
        return self.failures + failures, unchecked

    async def index_key(self) -> bytes | None:
        """The tenant's index key, from a verified query proof; None (and why, in
        ``failures`` when the service lied) when there is none."""
        service, vkey = self.verifier.service, self.verifier.vkey
        result = await verify_query(service, vkey, self.checkpoint, KEY_QUERY)
        refused = [f for f in result.failures if f.subject == "query"]
        if refused:  # the service would not answer: nothing found, nothing checked
            return None
        if result.failures or result.index_key is None:
            self.failures.extend(
                Failure("index key", f"the query proof that hands it out does not verify: {f}")
                for f in result.failures
            )
            return None
        return result.index_key

    async def revision(self, change: Change) -> tuple[Entry | None, str]:
        """The revision ``change`` holds, its values proven against its leaf; or None
        and why not (a failure, when the service lied, goes to ``failures``)."""
        where = f"entry {change.entry_id} revision {change.revision}"
        proven = self.proven.get((change.entry_id, change.revision))
        if proven is None and change.entry_id in self.purged:
            # its values are gone from storage by design: the index leaves that cover
            # it cannot be derived again (docs/query-proofs.md, "After a purge")
            at = self.purged[change.entry_id]
            return None, f"not checked: revisions purged by retention at leaf {at}"
        if proven is None:
            try:
                proven = await self.verifier.prove(
                    change.entry_id, change.revision, self.checkpoint.size, self.checkpoint
                )
            except Unobtainable as exc:
                return None, f"the service serves no proof of {where}: {exc.failure.reason}"
            except Failed as exc:
                self.failures.append(exc.failure)
                return None, f"{where} does not verify"
        result = proven.result
        if (result.leaf_index, result.leaf_hash) != (change.index, change.hash):
            self.failures.append(
                Failure(where, f"its proof names leaf {result.leaf_index}, not {change.index}")
            )
            return None, f"{where} does not verify"
        try:
            revision = entry_from_json(proven.entry)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self.failures.append(Failure(where, f"is served as no entry: {exc!r}"))
            return None, f"{where} does not verify"
        needed = ("occurred_at",) if revision.deleted else INDEXED
        hidden = [path for path in needed if path in result.withheld]
        if hidden:
            return None, f"{where} shows {', '.join(hidden)} to this reader only as digests"
        return revision, ""
