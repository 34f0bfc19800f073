"""Postings: what each change appends to the posting logs of its buckets.

A posting is about one change, the leaf at log index ``i`` that holds revision ``r`` of
entry ``id`` (leaf hash ``h``, ``occurred_at`` ``t``); its bytes are RFC 8785 JSON.
A change appends ``add`` to every bucket of its new revision, ``supersede`` to every
bucket of the previous revision that the new one left, and, for a deletion,
``tombstone`` to every bucket of the revision it ends. Read in order, a posting log
alone says which entries are current under its key (``CurrentEntries``).
"""

from __future__ import annotations

import binascii
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from audit_trail.core.index.keys import Filable, IndexKey, revision_keys
from audit_trail.core.integrity.canonical import canonical_string
from audit_trail.core.integrity.leaf import b64
from audit_trail.core.integrity.merkle import HASH_SIZE, leaf_hash
from audit_trail.core.timestamps import format_timestamp


class PostingOp(StrEnum):
    ADD = "add"
    SUPERSEDE = "supersede"
    TOMBSTONE = "tombstone"


@dataclass(frozen=True, slots=True)
class Posting:
    index: int  # the change's position in the tenant log
    op: PostingOp
    entry_id: str
    revision: int
    occurred_at: str  # as the API renders it
    leaf_hash: bytes  # of the change's leaf

    def as_json(self) -> dict[str, Any]:
        return {
            "h": b64(self.leaf_hash),
            "i": self.index,
            "id": self.entry_id,
            "op": self.op.value,
            "r": self.revision,
            "t": self.occurred_at,
        }

    def as_short_json(self) -> dict[str, Any]:
        """The form an answer may give an ``add`` of a revision it serves: without
        ``h`` and ``t``, which a reader takes from that revision (``with_served``)."""
        return {"i": self.index, "id": self.entry_id, "op": self.op.value, "r": self.revision}

    def to_bytes(self) -> bytes:
        """The posting's RFC 8785 bytes (its members in their sorted order, written
        directly: the same bytes as ``canonical_json(self.as_json())``)."""
        return (
            f'{{"h":"{b64(self.leaf_hash)}","i":{self.index},'
            f'"id":{canonical_string(self.entry_id)},"op":"{self.op.value}",'
            f'"r":{self.revision},"t":{canonical_string(self.occurred_at)}}}'
        ).encode()

    def hash(self) -> bytes:
        """Its leaf hash in the posting log: SHA-256(0x00 ‖ bytes)."""
        return leaf_hash(self.to_bytes())

    def pack(self) -> bytes:
        """The posting as storage keeps it (half the size of its JSON): ``h``, the op,
        ``i``, ``r``, the length of ``id``, ``id`` and ``t``; ``unpack_posting`` reverses
        it. Only ``to_bytes`` is hashed, so the stored form is nobody's contract."""
        entry_id = self.entry_id.encode()
        op = _OP_CODES[self.op]
        head = _PACKED.pack(self.leaf_hash, op, self.index, self.revision, len(entry_id))
        return head + entry_id + self.occurred_at.encode()


_PACKED = struct.Struct(">32sBQIH")
_OPS = tuple(PostingOp)
_OP_CODES = {op: code for code, op in enumerate(_OPS)}


def unpack_posting(data: bytes) -> Posting:
    """The posting ``Posting.pack`` stored; ``ValueError`` for bytes it did not write."""
    try:
        digest, op, index, revision, id_length = _PACKED.unpack_from(data)
        rest = data[_PACKED.size :]
        return Posting(
            index=index,
            op=_OPS[op],
            entry_id=rest[:id_length].decode(),
            revision=revision,
            occurred_at=rest[id_length:].decode(),
            leaf_hash=digest,
        )
    except (struct.error, IndexError, UnicodeDecodeError) as exc:
        raise ValueError(f"not a stored posting: {exc}") from None


def change_postings(
    previous: Filable | None, revision: Filable, index: int, leaf_hash_: bytes
) -> list[tuple[IndexKey, Posting]]:
    """What the change that stored ``revision`` (at log index ``index``, leaf hash
    ``leaf_hash_``) appends, bucket by bucket; ``previous`` is the revision it
    replaces (None for a record)."""

    def posting(op: PostingOp) -> Posting:
        return Posting(
            index=index,
            op=op,
            entry_id=revision.id,
            revision=revision.revision,
            occurred_at=format_timestamp(revision.occurred_at),
            leaf_hash=leaf_hash_,
        )

    old = revision_keys(previous) if previous is not None else []
    if revision.deleted:
        return [(key, posting(PostingOp.TOMBSTONE)) for key in old]
    new = revision_keys(revision)
    added = posting(PostingOp.ADD)
    left = set(old).difference(new)
    superseded = posting(PostingOp.SUPERSEDE) if left else None
    out = [(key, superseded) for key in old if key in left and superseded is not None]
    out.extend((key, added) for key in new)
    return out


class CurrentEntries:
    """The entries current under one key, from its postings read in order: per entry
    id, the last ``add``, unless a ``supersede`` or ``tombstone`` came after it."""

    def __init__(self) -> None:
        self._current: dict[str, Posting] = {}
        self._last_index = -1

    def apply(self, postings: Iterable[Posting]) -> None:
        """Read more postings; ``ValueError`` if they go back in log order."""
        for posting in postings:
            if posting.index < self._last_index:
                raise ValueError(
                    f"postings out of log order: {posting.index} after {self._last_index}"
                )
            self._last_index = posting.index
            if posting.op is PostingOp.ADD:
                self._current[posting.entry_id] = posting
            else:
                self._current.pop(posting.entry_id, None)

    @property
    def current(self) -> dict[str, Posting]:
        """Entry id -> the ``add`` posting of its current revision under the key."""
        return dict(self._current)


SHORT_POSTING_FIELDS = frozenset({"i", "id", "op", "r"})


def is_short_posting(obj: object) -> bool:
    return isinstance(obj, dict) and set(obj) == SHORT_POSTING_FIELDS


def with_served(obj: dict[str, Any], leaf_hash_: bytes, occurred_at: str) -> dict[str, Any]:
    """A short posting made whole from the revision it names, as served: its rebuilt
    leaf hash and its ``occurred_at``; ``ValueError`` when it is not an ``add``."""
    if obj.get("op") != PostingOp.ADD.value:
        raise ValueError("only an add posting may leave out h and t")
    return {**obj, "h": b64(leaf_hash_), "t": occurred_at}


def parse_posting(obj: object) -> Posting:
    """The posting a JSON object states; ``ValueError`` saying why when it states none."""
    if not isinstance(obj, dict) or set(obj) != {"h", "i", "id", "op", "r", "t"}:
        raise ValueError("a posting is an object of h, i, id, op, r and t")
    index, revision = obj["i"], obj["r"]
    if type(index) is not int or index < 0 or type(revision) is not int or revision < 1:
        raise ValueError("a posting's i is a log index and r a revision number")
    if not all(isinstance(obj[name], str) for name in ("h", "id", "op", "t")):
        raise ValueError("a posting's h, id, op and t are strings")
    try:
        op = PostingOp(obj["op"])
        digest = binascii.a2b_base64(obj["h"], strict_mode=True)
    except (ValueError, binascii.Error) as exc:
        raise ValueError(f"bad posting: {exc}") from None
    if len(digest) != HASH_SIZE:
        raise ValueError(f"a posting's h is a {HASH_SIZE}-byte hash")
    return Posting(index, op, obj["id"], revision, obj["t"], digest)
