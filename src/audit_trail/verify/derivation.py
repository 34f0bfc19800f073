"""The derivation of the query index, replayed from the log (docs/query-proofs.md,
"What is proven, and what is not").

The full audit files every leaf here, in log order: each change (record, amendment,
tombstone) by position, and each index leaf. It then replays the changes with the
revisions they hold, as the service's integrator does, with the core's own functions:
``postings.change_postings`` of the previous and the new revision, appended to their
posting logs; each touched map key set to its posting log's ``(size, root)``
(``map_update.update_map``, over a map kept in memory). The map root is taken at every
size an index leaf covers, and each index leaf must commit that root and the index key.

When a revision cannot be read (a field it is filed under is hidden from this reader,
say), the replay stops there: the map after it is unknown, so each index leaf covering
that change is *not checked* (an outcome of its own, not a pass); the ones before it
still are.
"""

from __future__ import annotations

import base64
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

from audit_trail.core.index.keys import index_key_hash
from audit_trail.core.index.leaf import INDEX_KIND, IndexLeaf, parse_index_leaf
from audit_trail.core.index.map import MapValue
from audit_trail.core.index.map_update import update_map
from audit_trail.core.index.memory_map import InMemoryMapStore
from audit_trail.core.index.postings import Posting, change_postings
from audit_trail.core.integrity import CompactRange, ProofError
from audit_trail.core.integrity.leaf import LeafKind
from audit_trail.core.model import Entry
from audit_trail.verify.results import Failure

_CHANGES = frozenset(kind.value for kind in LeafKind)


@dataclass(frozen=True, slots=True)
class Change:
    """A leaf that holds a revision: where it sits, what it holds, its leaf hash."""

    index: int
    entry_id: str
    revision: int
    hash: bytes


class IndexReplay:
    """Files the leaves of the audited tree, then replays its changes (``apply``, in
    log order) and checks every index leaf (``verdicts``)."""

    def __init__(self) -> None:
        self.changes: list[Change] = []
        self.index_leaves: list[tuple[int, IndexLeaf]] = []
        self._covers: list[int] = []  # sorted sizes whose map root is wanted
        self._roots: dict[int, bytes] = {}
        self._taken = 0  # how many of _covers have their root in _roots
        self._latest: dict[str, Entry] = {}
        self._logs: dict[bytes, CompactRange] = {}
        self._pending: dict[bytes, list[Posting]] = {}
        self._map = InMemoryMapStore()
        self._stopped: tuple[int, str] | None = None  # the change not replayed, and why
        self._key = b""

    def file(self, index: int, leaf: Any, digest: bytes) -> None:
        """Note leaf ``index`` (hash ``digest``) for the replay; the walk checks its form
        and reports a malformed one, which is left out here."""
        if not isinstance(leaf, dict):
            return
        kind, entry_id, revision = leaf.get("kind"), leaf.get("id"), leaf.get("revision")
        if kind == INDEX_KIND:
            try:
                committed = parse_index_leaf(leaf)
            except ProofError:
                return
            if committed.covers <= index:  # else the walk names it
                self.index_leaves.append((index, committed))
        elif kind in _CHANGES and isinstance(entry_id, str) and type(revision) is int:
            self.changes.append(Change(index, entry_id, revision, digest))

    def start(self, index_key: bytes) -> None:
        """Begin the replay with the tenant's index key."""
        self._key = index_key
        self._covers = sorted({leaf.covers for _, leaf in self.index_leaves})

    async def apply(self, change: Change, revision: Entry) -> None:
        """Replay ``change``, which holds ``revision`` (its values proven)."""
        assert self._stopped is None
        await self._roots_before(change.index)
        previous = self._latest.get(change.entry_id)
        for key, posting in change_postings(previous, revision, change.index, change.hash):
            self._pending.setdefault(key.map_key(self._key), []).append(posting)
        self._latest[change.entry_id] = revision

    async def stop(self, change: Change, reason: str) -> None:
        """Replay no further: the revision ``change`` holds cannot be read (``reason``)."""
        await self._roots_before(change.index)
        self._stopped = (change.index, reason)

    async def finish(self) -> None:
        """The roots of the sizes left, once every change is replayed (or the replay
        stopped: then they stay unknown)."""
        if self._stopped is None:
            await self._roots_before(None)

    @property
    def stopped(self) -> bool:
        return self._stopped is not None

    def verdicts(self, index_key: bytes | None) -> tuple[list[Failure], list[Failure]]:
        """The index leaves whose map root or key is wrong (failures), and those whose
        root could not be derived (not checked), each named by its log index."""
        failures: list[Failure] = []
        unchecked: list[Failure] = []
        key_hash = None if index_key is None else index_key_hash(index_key)
        for position, leaf in self.index_leaves:
            subject = f"index leaf {position}"
            if key_hash is not None and leaf.key_hash != key_hash:
                failures.append(
                    Failure(subject, "commits another index key than the one query proofs hand out")
                )
                continue  # its map keys are not the ones derived: no root to compare
            root = self._roots.get(leaf.covers)
            if root is None:
                unchecked.append(Failure(subject, self._why_unknown(leaf.covers, index_key)))
            elif root != leaf.map_root:
                failures.append(
                    Failure(
                        subject,
                        f"commits map root {_b64(leaf.map_root)} over the log's first "
                        f"{leaf.covers} leaves, but their revisions derive {_b64(root)}",
                    )
                )
        return failures, unchecked

    def _why_unknown(self, covers: int, index_key: bytes | None) -> str:
        prefix = f"the map over the log's first {covers} leaves was not derived"
        if index_key is None:
            return f"{prefix}: no index key"
        if self._stopped is not None:
            at, reason = self._stopped
            return f"{prefix}: leaf {at} could not be replayed ({reason})"
        return prefix

    async def _roots_before(self, index: int | None) -> None:
        """Take the map root at every wanted size up to ``index`` (None: all of them)
        not taken yet: the map then holds every change before that size."""
        end = len(self._covers) if index is None else bisect_right(self._covers, index)
        if end <= self._taken:
            return
        await self._update()
        for size in self._covers[self._taken : end]:
            self._roots[size] = self._map.root
        self._taken = end

    async def _update(self) -> None:
        if not self._pending:
            return
        values: dict[bytes, MapValue] = {}
        for map_key, postings in self._pending.items():
            log = self._logs.setdefault(map_key, CompactRange.empty())
            log.append([posting.hash() for posting in postings])
            values[map_key] = MapValue(log.size, log.root())
        self._pending = {}
        self._map.apply(await update_map(self._map, self._map.root, values))


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
