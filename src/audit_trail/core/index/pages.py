"""Pages of a query proof's posting logs, read as of a pinned index leaf.

A walk reads the posting logs of a query's plan one after another, in the plan's order,
at most ``limit`` postings per page. It is pinned to one index leaf, which covers the
log's first ``covers`` leaves: each posting log is read as of it, its first ``size``
postings (those with ``i < covers``: ``i`` grows along a posting log). Page 1 knows
every size from the map proofs; a later page cannot prove against the map (its nodes
are overwritten as the index grows), so it finds a bucket's size from the postings
themselves, with a binary search of point reads, and the cursor carries the size of
the bucket it stops in.

Which entries a page serves: those whose current ``add`` is in its range. An ``add``
of revision ``r`` is current as of ``covers`` when the log holds no revision ``r + 1``
of that entry before ``covers`` (an amendment appends an ``add`` or a ``supersede``
to every bucket of revision ``r``, a deletion a ``tombstone``); one batched read of
the log tells, without reading the rest of the posting logs.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass

from audit_trail.core.errors import LogDamaged
from audit_trail.core.index.postings import Posting, PostingOp, unpack_posting
from audit_trail.core.ports.index import PostingHead, QueryIndex
from audit_trail.core.ports.log import TenantLog


@dataclass(frozen=True, slots=True)
class Part:
    """Postings ``[start, end)`` of the posting log of the plan's bucket ``bucket``."""

    bucket: int
    start: int
    end: int
    postings: tuple[Posting, ...]


@dataclass(frozen=True, slots=True)
class Page:
    """The parts one page gives, and where the next page starts (None: nowhere)."""

    parts: list[Part]
    next: tuple[int, int] | None  # (bucket, position)


class PageReader:
    """Reads the pages of one walk: the posting logs of ``map_keys`` (the plan's
    buckets, in its order), as of ``covers``. ``sizes`` holds the sizes known so far
    (by bucket); the reader adds the ones it finds."""

    def __init__(
        self,
        index: QueryIndex,
        tenant: str,
        map_keys: Sequence[bytes],
        covers: int,
        sizes: MutableMapping[int, int],
    ) -> None:
        self._index = index
        self._tenant = tenant
        self._map_keys = map_keys
        self._covers = covers
        self._sizes = sizes
        self._heads: Mapping[bytes, PostingHead] | None = None

    def size(self, bucket: int) -> int:
        """The size of a bucket the reader has found (or was given)."""
        return self._sizes[bucket]

    async def page(self, bucket: int, position: int, limit: int) -> Page:
        """The postings from ``position`` of ``bucket`` on, at most ``limit`` of them,
        across buckets; the next page's start only when postings are left after them."""
        parts: list[Part] = []
        remaining = limit
        while bucket < len(self._map_keys):
            size = await self._size(bucket)
            if position < size:
                if remaining == 0:
                    return Page(parts, (bucket, position))
                end = min(size, position + remaining)
                parts.append(
                    Part(bucket, position, end, await self._postings(bucket, position, end))
                )
                remaining -= end - position
                position = end
                continue
            bucket, position = bucket + 1, 0
        return Page(parts, None)

    async def _postings(self, bucket: int, start: int, end: int) -> tuple[Posting, ...]:
        raw = await self._index.postings(self._tenant, self._map_keys[bucket], start, end)
        if len(raw) != end - start:
            raise LogDamaged(
                f"a posting log lacks postings [{start}, {end}) that its index leaf covers"
            )
        return tuple(unpack_posting(item) for item in raw)

    async def _size(self, bucket: int) -> int:
        if bucket not in self._sizes:
            self._sizes[bucket] = await self._pinned_size(self._map_keys[bucket])
        return self._sizes[bucket]

    async def _pinned_size(self, map_key: bytes) -> int:
        """How many postings of ``map_key`` have ``i < covers``: the first position
        whose posting has ``i >= covers`` (or none stored there yet), by bisection."""
        if self._heads is None:  # every bucket of the plan at once, the first time
            self._heads = await self._index.posting_heads(self._tenant, self._map_keys)
        head = self._heads.get(map_key)
        size = 0 if head is None else head.size
        if size == 0 or await self._before_covers(map_key, size - 1):
            return size  # no posting appended since: the usual case, one read
        low, high = 0, size - 1  # positions < low are before covers, >= high are not
        while low < high:
            middle = (low + high) // 2
            if await self._before_covers(map_key, middle):
                low = middle + 1
            else:
                high = middle
        return low

    async def _before_covers(self, map_key: bytes, position: int) -> bool:
        raw = await self._index.postings(self._tenant, map_key, position, position + 1)
        return bool(raw) and unpack_posting(raw[0]).index < self._covers


async def current_adds(
    log: TenantLog, tenant: str, parts: Sequence[Part], covers: int
) -> dict[str, Posting]:
    """The ``add`` postings of ``parts`` that are still current as of ``covers``, by
    entry id: those whose entry's next revision, if any, the log holds at or after
    ``covers``."""
    adds = [p for part in parts for p in part.postings if p.op is PostingOp.ADD]
    later = await log.leaf_indices(tenant, {(p.entry_id, p.revision + 1) for p in adds})
    current: dict[str, Posting] = {}
    for posting in adds:
        at = later.get((posting.entry_id, posting.revision + 1))
        if at is None or at >= covers:
            current[posting.entry_id] = posting
    return current
