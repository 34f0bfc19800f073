"""The cursor of a paged query proof (docs/query-proofs.md, "Paging").

Every page of a walk proves against the state page 1 was proven against, so the cursor
pins it: where the index leaf sits in the log and the size of the checkpoint that signs
it; and it says where the next page starts: a bucket (its place in the query's plan),
a position in that bucket's posting log, and the size that posting log had as of the
index leaf (its postings before the leaf's ``covers``). A digest of the query's
filters makes a cursor of another query a refusal, not a page of the wrong answer.

The text is opaque: a versioned struct, sealed (base64url and a MAC over the tenant)
by the same ``CursorCodec`` as plain query cursors, under a scope of its own, so that
neither kind of cursor is taken for the other.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from audit_trail.core.cursor import CursorCodec
from audit_trail.core.errors import ValidationFailed
from audit_trail.core.query import EntryFilters, SortOrder, canonical_form

VERSION = 1
SCOPE = "query-proof page"
DIGEST_BYTES = 16
# version, index leaf's log index, checkpoint size, bucket, position, size, query digest
_LAYOUT = struct.Struct(f">BQQHQQ{DIGEST_BYTES}s")
_DIGEST_DOMAIN = b"audit-trail:query-proof-cursor:v1\x00"
_MAX_INDEX = 2**63  # storage keeps log indices as signed 64-bit integers


@dataclass(frozen=True, slots=True)
class PageCursor:
    """Where the next page of a walk starts, and what the walk is pinned to."""

    leaf_index: int  # the index leaf every page proves against
    tree_size: int  # the checkpoint that signs it
    bucket: int  # the next page starts in this bucket of the plan
    position: int  # at this position of its posting log
    size: int  # which, as of the index leaf, holds this many postings
    query: bytes  # query_digest of the filters


def query_digest(filters: EntryFilters) -> bytes:
    """What ties a cursor to its query: a digest of the filters' canonical form (the
    sort and page size are not part of it: they do not change what a page proves)."""
    form = canonical_form(filters, SortOrder.NEWEST_FIRST, None, None).encode()
    return hashlib.sha256(_DIGEST_DOMAIN + form).digest()[:DIGEST_BYTES]


class PageCursors:
    def __init__(self, codec: CursorCodec) -> None:
        self._codec = codec

    def encode(self, cursor: PageCursor, *, tenant: str) -> str:
        payload = _LAYOUT.pack(
            VERSION,
            cursor.leaf_index,
            cursor.tree_size,
            cursor.bucket,
            cursor.position,
            cursor.size,
            cursor.query,
        )
        return self._codec.seal(payload, tenant=tenant, scope=SCOPE)

    def decode(self, text: str, *, tenant: str, filters: EntryFilters, buckets: int) -> PageCursor:
        """The cursor ``text`` states, for a query with ``filters`` whose plan has
        ``buckets`` buckets; ``ValidationFailed`` on ``cursor`` (a 422) saying why
        it is refused."""
        try:
            payload = self._codec.unseal(text, tenant=tenant, scope=SCOPE)
        except ValueError:
            raise _refused(
                "is not a cursor this service issued for a proof=1 query of this tenant "
                "(altered, cut, or of another kind)"
            ) from None
        if len(payload) != _LAYOUT.size or payload[0] != VERSION:
            raise _refused("is a proof=1 cursor of a format this service does not read")
        _, leaf_index, tree_size, bucket, position, size, query = _LAYOUT.unpack(payload)
        if query != query_digest(filters):
            raise _refused(
                "was issued for another query: a proof=1 cursor continues the query "
                "with the same filters"
            )
        within = max(tree_size, size) < _MAX_INDEX
        if not (within and leaf_index < tree_size and bucket < buckets and position < size):
            raise _refused("names no place in this query's plan")
        return PageCursor(leaf_index, tree_size, bucket, position, size, query)


def _refused(why: str) -> ValidationFailed:
    return ValidationFailed.single("cursor", why)
