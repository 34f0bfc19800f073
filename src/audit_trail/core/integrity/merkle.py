# TEMPORARY stand-in until h1-integrity lands (not committed)
import hashlib


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


import hashlib as _h
from collections.abc import Sequence

NodeId = tuple[int, int]
EMPTY_ROOT = _h.sha256(b"").digest()


def node_hash(l: bytes, r: bytes) -> bytes:
    return _h.sha256(b"\x01" + l + r).digest()


class CompactRange:
    def __init__(self, size: int, hashes: Sequence[bytes]) -> None:
        self.size = size
        self.hashes = list(hashes)

    @classmethod
    def empty(cls) -> "CompactRange":
        return cls(0, [])

    def append(self, leaf_hashes: Sequence[bytes]) -> list[tuple[NodeId, bytes]]:
        out: list[tuple[NodeId, bytes]] = []
        for lh in leaf_hashes:
            h = lh
            level = 0
            idx = self.size
            while idx & 1:
                h = node_hash(self.hashes.pop(), h)
                level += 1
                idx >>= 1
                out.append(((level, idx), h))
            self.hashes.append(h)
            self.size += 1
        return out

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        h = self.hashes[-1]
        for x in reversed(self.hashes[:-1]):
            h = node_hash(x, h)
        return h
