"""QueryIndex: the postings, posting logs and map of each tenant (docs/query-proofs.md).

The index is derived from the tenant log: ``IndexIntegrator`` reads the changes the log
holds past what the index covers, and hands storage one ``IndexWrite`` with everything
they add. Storage applies a write whole or not at all, and only on top of the state it
was computed from (``expected``), so that several processes integrating one tenant at
once stay one sequence: the one that loses the race reads the new state and tries
again. Every method is confined to ``tenant``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from audit_trail.core.index.keys import Filable


@dataclass(frozen=True, slots=True)
class LoggedChange:
    """The leaf at ``index``: the revision it stores (None for a leaf that stores no
    revision, such as an index leaf) and the revision that one replaced."""

    index: int
    leaf_hash: bytes
    revision: Filable | None = None
    previous: Filable | None = None


@dataclass(frozen=True, slots=True)
class IndexHead:
    """What the index covers: the log's first ``covers`` leaves, with this map root;
    ``leaf_index`` is where the index leaf that commits them sits, once appended."""

    covers: int
    map_root: bytes
    leaf_index: int | None = None


@dataclass(frozen=True, slots=True)
class PostingHead:
    """The right edge of one posting log: its size and the hashes of
    ``merkle.range_nodes(0, size)``."""

    size: int
    edge: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class PostingRun:
    """Postings one integration appends to one posting log, from position ``start`` on,
    as stored (``Posting.pack``). A storage may keep a run as one record: runs never
    overlap, and a posting log is its runs end to end."""

    map_key: bytes
    start: int
    postings: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class IndexWrite:
    """What one integration adds: the new head, a run of postings per posting log it
    appends to, the posting logs' new edges and the map's changed nodes (None: a node
    that no longer exists)."""

    head: IndexHead
    postings: Sequence[PostingRun]
    posting_heads: Mapping[bytes, PostingHead]
    map_nodes: Mapping[bytes, bytes | None] = field(default_factory=dict)


class QueryIndex(Protocol):
    async def index_key(self, tenant: str) -> bytes:
        """The tenant's index key: 32 random bytes made on first use, then the same
        forever (across processes: the first one stored wins)."""
        ...

    async def head(self, tenant: str) -> IndexHead | None:
        """What the index covers; None before its first integration."""
        ...

    async def changes(self, tenant: str, start: int, end: int) -> Sequence[LoggedChange]:
        """The log's leaves ``start <= index < end`` as changes, by index."""
        ...

    async def posting_heads(
        self, tenant: str, map_keys: Collection[bytes]
    ) -> Mapping[bytes, PostingHead]:
        """The edges of these posting logs; a key with no posting is absent."""
        ...

    async def postings(self, tenant: str, map_key: bytes, start: int, end: int) -> Sequence[bytes]:
        """Postings ``start <= position < end`` of one posting log, as stored
        (``Posting.pack``)."""
        ...

    async def map_nodes(self, tenant: str, ids: Collection[bytes]) -> Mapping[bytes, bytes]:
        """The map's stored internal nodes with these ids (``index.map`` encodes them)."""
        ...

    async def write(self, tenant: str, expected: IndexHead | None, write: IndexWrite) -> bool:
        """Apply ``write`` whole if the head is still ``expected`` (None: no head yet);
        False, with nothing applied, if another writer moved it first."""
        ...

    async def set_leaf_index(self, tenant: str, covers: int, leaf_index: int) -> None:
        """Record where the index leaf of the head that covers ``covers`` sits (nothing
        when the head has moved on)."""
        ...
