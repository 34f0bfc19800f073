"""The full audit's walk over every leaf of a tenant log, in order.

It rebuilds the root from the leaves (a compact range: O(log n) memory for the tree)
and keeps, per entry, only its latest leaf, which is all that the links between
revisions and the check of the live entries need.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from audit_trail.core.index.leaf import INDEX_KIND, parse_index_leaf
from audit_trail.core.integrity import CompactRange, ProofError, leaf_hash
from audit_trail.core.integrity.erasure import ERASE_KIND, erase_leaf_problem
from audit_trail.core.integrity.leaf import LEAF_VERSION, LeafKind, leaf_bytes
from audit_trail.core.retention.purge_leaf import PURGE_KIND, parse_purge_leaf
from audit_trail.verify.results import Failure, RevisionResult, fail

KINDS = frozenset(kind.value for kind in LeafKind) | {INDEX_KIND, ERASE_KIND, PURGE_KIND}
_DELETE = LeafKind.DELETE.value


@dataclass(slots=True)
class Latest:
    """The latest leaf of one entry seen so far."""

    revision: int
    index: int
    hash: bytes
    kind: str


class LeafWalk:
    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.failures: list[Failure] = []
        self.latest: dict[str, Latest] = {}
        self.purged: dict[str, int] = {}  # entry id -> the purge leaf that lists it
        self._tree = CompactRange.empty()

    @property
    def size(self) -> int:
        return self._tree.size

    def root(self) -> bytes:
        return self._tree.root()

    def add(self, index: int, leaf: Any) -> bytes:
        """Hash leaf ``index`` into the tree and check what it says and links to;
        returns its leaf hash."""
        assert index == self.size
        try:
            digest = leaf_hash(leaf_bytes(leaf))
        except (TypeError, ValueError) as exc:
            # still a leaf: its bytes cannot be what was hashed, so the root will differ
            digest = leaf_hash(repr(leaf).encode())
            self.failures.append(Failure(f"leaf {index}", f"has no canonical JSON form: {exc}"))
        self._tree.append([digest])
        if isinstance(leaf, dict):
            problem = self._problem(index, leaf, digest)
        else:
            problem = "is not a JSON object"
        if problem is not None:
            self.failures.append(Failure(f"leaf {index}", problem))
        return digest

    def _problem(self, index: int, leaf: Mapping[str, Any], digest: bytes) -> str | None:
        entry_id, revision, kind = leaf.get("id"), leaf.get("revision"), leaf.get("kind")
        if leaf.get("v") != LEAF_VERSION:
            return f"has version {leaf.get('v')!r}, not {LEAF_VERSION}"
        if kind == INDEX_KIND:
            return self._index_problem(index, leaf)
        if kind == ERASE_KIND:
            return self._erase_problem(leaf)
        if kind == PURGE_KIND:
            return self._purge_problem(index, leaf)
        if kind not in KINDS:
            return f"has kind {kind!r} (known: {', '.join(sorted(KINDS))})"
        if not isinstance(entry_id, str) or type(revision) is not int or revision < 1:
            return "has no entry id or revision"
        foreign = self._foreign(leaf.get("tenant"))
        if foreign is not None:
            return foreign
        if (kind == LeafKind.RECORD) != (revision == 1):
            return f"entry {entry_id} revision {revision} is a {kind!r} leaf"
        where = f"entry {entry_id} revision {revision}"
        last = self.latest.get(entry_id)
        if revision == 1 and last is not None:
            return f"{where} is recorded again (first at leaf {last.index})"
        if revision > 1 and last is None:
            return f"{where} follows no revision {revision - 1} in the log"
        if last is not None:
            if last.revision != revision - 1:
                return f"{where} follows revision {last.revision} (leaf {last.index})"
            if last.kind == _DELETE:
                return f"{where} changes an entry deleted at leaf {last.index}"
            if leaf.get("prev") != base64.b64encode(last.hash).decode("ascii"):
                return (
                    f"{where} does not link to the leaf of revision {last.revision} ({last.index})"
                )
        elif leaf.get("prev") is not None:
            return f"{where} links to a previous leaf"
        self.latest[entry_id] = Latest(revision, index, digest, kind)
        return None

    def _foreign(self, tenant: object) -> str | None:
        """Why a leaf committing ``tenant`` is not of this log, or None when it is."""
        if isinstance(tenant, str) and self.origin.endswith(f"/{tenant}"):
            return None
        return f"commits tenant {tenant!r}, not the tenant of {self.origin!r}"

    def _index_problem(self, index: int, leaf: Mapping[str, Any]) -> str | None:
        """An index leaf commits the map over leaves before it (docs/query-proofs.md)."""
        try:
            committed = parse_index_leaf(leaf)
        except ProofError as exc:
            return str(exc)
        foreign = self._foreign(committed.tenant)
        if foreign is not None:
            return foreign
        if committed.covers > index:
            return f"an index leaf covering {committed.covers} leaves cannot sit at {index}"
        return None

    def _purge_problem(self, index: int, leaf: Mapping[str, Any]) -> str | None:
        """A purge leaf lists entries that tombstones before it ended (docs/integrity.md):
        it ends nothing itself, and lists no entry the log does not hold, or still live."""
        try:
            purge = parse_purge_leaf(leaf)
        except ProofError as exc:
            return str(exc)
        foreign = self._foreign(purge.tenant)
        if foreign is not None:
            return foreign
        for entry_id in purge.ids:
            last = self.latest.get(entry_id)
            if last is None:
                return f"purges entry {entry_id}, which no leaf before it records"
            if last.kind != _DELETE:
                return f"purges entry {entry_id}, live at leaf {last.index} (no tombstone)"
            self.purged.setdefault(entry_id, index)
        return None

    def _erase_problem(self, leaf: Mapping[str, Any]) -> str | None:
        """An erase leaf names fields of revisions the log already holds."""
        problem = erase_leaf_problem(leaf) or self._foreign(leaf["tenant"])
        if problem is not None:
            return problem
        last = self.latest.get(leaf["id"])
        if last is None or any(r > last.revision for r in leaf["revisions"]):
            return f"erases fields of revisions of entry {leaf['id']} the log does not hold"
        return None

    def live_ids(self) -> Iterator[str]:
        """Entries whose latest leaf is not a tombstone."""
        return (i for i, last in self.latest.items() if last.kind != _DELETE)

    def settled(self, entry: Mapping[str, Any]) -> bool:
        """Whether the log's latest leaf for ``entry`` is the revision it shows."""
        last = self.latest.get(entry.get("id"))  # type: ignore[arg-type]
        return (
            last is not None
            and last.kind != _DELETE
            and last.revision == entry.get("revision")
            and entry.get("deleted") is not True
        )

    def check_proven(self, result: RevisionResult) -> None:
        """A revision proven by its own proof is the leaf the walk saw for it."""
        last = self.latest.get(result.entry_id)
        subject = f"entry {result.entry_id} revision {result.revision}"
        if last is None or last.revision != result.revision:
            raise fail(subject, "its proof names a leaf the log's leaves do not hold")
        if (last.index, last.hash) != (result.leaf_index, result.leaf_hash):
            raise fail(
                subject,
                f"its proof names leaf {result.leaf_index}, the log holds it as leaf {last.index}",
            )

    def disagreement(
        self,
        entry_id: str,
        served: Mapping[str, Any] | None,
        listed: Mapping[str, Any] | None,
    ) -> Failure | None:
        """What is wrong when the service serves ``served`` (None: 404) for an entry
        whose latest leaf in the log is ``self.latest[entry_id]`` (if any)."""
        last = self.latest.get(entry_id)
        subject = f"entry {entry_id}"
        if served is None:
            if last is None:
                shown = listed.get("revision") if listed else "?"
                return Failure(
                    f"{subject} revision {shown}",
                    f"was listed by /entries but is in no leaf of the log of size {self.size}",
                )
            if last.kind == _DELETE:
                return None
            return Failure(
                subject,
                f"the log holds revision {last.revision} ({last.kind}, leaf {last.index}) and "
                "no tombstone, but the service does not serve the entry",
            )
        revision = served.get("revision")
        subject = f"{subject} revision {revision}"
        if last is None:
            return Failure(subject, f"is served but is in no leaf of the log of size {self.size}")
        if last.kind == _DELETE:
            return Failure(
                subject,
                f"is served, but the log deleted it (revision {last.revision}, leaf {last.index})",
            )
        if type(revision) is not int or revision < last.revision:
            return Failure(
                subject,
                f"is served, but the log holds revision {last.revision} ({last.kind}, leaf "
                f"{last.index}): rolled back?",
            )
        if revision > last.revision:
            return Failure(
                subject,
                f"is not in the log of size {self.size}, which ends at revision {last.revision}",
            )
        return None
