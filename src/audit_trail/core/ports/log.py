"""TenantLog: each tenant's append-only Merkle log, kept by storage beside the entries.

Every acknowledged change is one leaf (DESIGN.md, "Integrity"). A leaf that commits
an entry revision is stored together with that revision, in the same write, so that
the log and the entries can never disagree about what was acknowledged.

The tree is stored, never recomputed: storage keeps the hash of every complete
subtree, addressed by ``NodeId = (level, index)`` (the subtree over leaves
``[index << level, (index + 1) << level)``; level 0 is a leaf hash), so that any root
or proof needs O(log n) of them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from audit_trail.core.errors import DomainError
from audit_trail.core.model import Entry

NodeId = tuple[int, int]


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One leaf to append: its canonical bytes, its RFC 9162 leaf hash and, when it
    commits an entry revision, that revision (stored with it)."""

    leaf: bytes
    leaf_hash: bytes
    revision: Entry | None = None


@dataclass(frozen=True, slots=True)
class StoredLeaf:
    index: int
    leaf: bytes


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    size: int
    note: str


class TenantLog(Protocol):
    """Durable, per-tenant, append-only logs; every method is confined to ``tenant``.

    Several processes (and machines) may append to one tenant at once: storage keeps
    them one sequence. ``StorageUnavailable`` when the backend cannot be reached in time.
    """

    async def commit(
        self, tenant: str, groups: Sequence[Sequence[LogRecord]]
    ) -> list[int | DomainError]:
        """Append every group, in order, at the end of the tenant's log, storing each
        revision the records carry (a revision n > 1 becomes the entry's current one
        and must follow its current revision n - 1; a tombstone ends it).

        Returns, per group, the log index of its first leaf, or the error that refused
        the group (``DuplicateEntry``, ``RevisionConflict``, ``EntryNotFound``,
        ``EntryTooLarge``), in which case nothing of that group is stored. The other
        groups are not affected. When this returns, every accepted leaf is durable and
        counted by ``size``, and its nodes are stored."""
        ...

    async def size(self, tenant: str) -> int:
        """How many leaves the tenant's log holds (every one of them integrated)."""
        ...

    async def node_hashes(self, tenant: str, nodes: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        """The stored hashes of these complete subtrees (all within ``size``); a node
        storage does not have is absent from the result."""
        ...

    async def leaves(self, tenant: str, start: int, end: int) -> Sequence[StoredLeaf]:
        """The leaves with ``start <= index < end`` that storage holds, by index."""
        ...

    async def leaf_index(self, tenant: str, entry_id: str, revision: int) -> int | None:
        """Where that revision's leaf sits in the log, or None."""
        ...

    async def leaf_indices(
        self, tenant: str, revisions: Collection[tuple[str, int]]
    ) -> Mapping[tuple[str, int], int]:
        """Where each of these ``(entry id, revision)`` leaves sits in the log, in one
        read; a revision the tenant's log does not hold is absent from the result.
        Unlike ``leaf_index``, a position is given as storage assigned it, integrated
        into the tree or not (a reader comparing it with a size it has seen the tree
        reach needs no more)."""
        ...

    async def save_checkpoint(self, tenant: str, checkpoint: StoredCheckpoint) -> None:
        """Keep a signed checkpoint (idempotent for one size)."""
        ...

    async def latest_checkpoint(self, tenant: str) -> StoredCheckpoint | None:
        """The kept checkpoint of the largest size, or None."""
        ...

    async def checkpoint_at(self, tenant: str, size: int) -> StoredCheckpoint | None:
        """The kept checkpoint of exactly ``size``, or None."""
        ...
