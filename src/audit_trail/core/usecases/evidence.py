"""Reading the evidence: checkpoints, consistency proofs, leaves and entry proofs.

All of them read the caller's tenant's log only (scope audit:read); an entry of
another tenant, or outside the caller's restriction, is ``EntryNotFound``, never a
proof; a restricted caller may not read leaves (they name every entry).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from audit_trail.core.errors import EntryNotFound, Forbidden, LogDamaged, LogRangeError
from audit_trail.core.integrity.fields import committed_fields
from audit_trail.core.ledger.checkpoints import Checkpoints
from audit_trail.core.ledger.tree import LogTree
from audit_trail.core.model import Entry
from audit_trail.core.ports import EntryProcessor, EntryRepository
from audit_trail.core.ports.log import StoredCheckpoint, TenantLog
from audit_trail.core.principal import Principal, Scope

MAX_LEAVES_PER_PAGE = 1000


@dataclass(frozen=True, slots=True)
class EntryProofQuery:
    principal: Principal
    entry_id: str
    revision: int | None = None  # default: the latest revision (a tombstone included)
    tree_size: int | None = None  # default: the latest checkpoint's


@dataclass(frozen=True, slots=True)
class EntryProof:
    """One revision as the caller may see it, with what proves it is in the log."""

    entry: Entry
    leaf_index: int
    tree_size: int
    leaf: Mapping[str, Any]
    salts: Mapping[str, bytes]  # of the fields the caller sees as stored
    inclusion: list[bytes]
    checkpoint: str


@dataclass(frozen=True, slots=True)
class IndexedLeaf:
    index: int
    leaf: Mapping[str, Any]


class LogEvidence:
    """The log routes' use cases, over one tenant log and its checkpoints."""

    def __init__(
        self,
        repository: EntryRepository,
        log_store: TenantLog,
        tree: LogTree,
        checkpoints: Checkpoints,
        processor: EntryProcessor,
    ) -> None:
        self._repository = repository
        self._log = log_store
        self._tree = tree
        self._checkpoints = checkpoints
        self._processor = processor

    async def checkpoint(self, principal: Principal) -> StoredCheckpoint:
        principal.require(Scope.READ)
        return await self._checkpoints.latest(principal.tenant)

    async def consistency(self, principal: Principal, first: int, second: int) -> list[bytes]:
        principal.require(Scope.READ)
        if first > second:
            raise LogRangeError(f"first ({first}) must not be greater than second ({second})")
        size = await self._log.size(principal.tenant)
        if second > size:
            raise LogRangeError(f"second ({second}) is beyond the log's {size} leaves")
        return await self._tree.consistency(principal.tenant, first, second)

    async def leaves(self, principal: Principal, start: int, end: int) -> list[IndexedLeaf]:
        principal.require(Scope.READ)
        if not principal.restriction.unrestricted:
            # leaves name every entry of the tenant: not for a reader of some of them
            raise Forbidden("a restricted token cannot read the log's leaves")
        if start >= end:
            raise LogRangeError(f"start ({start}) must be less than end ({end})")
        if end - start > MAX_LEAVES_PER_PAGE:
            raise LogRangeError(f"at most {MAX_LEAVES_PER_PAGE} leaves per request")
        size = await self._log.size(principal.tenant)
        if end > size:
            raise LogRangeError(f"end ({end}) is beyond the log's {size} leaves")
        stored = await self._log.leaves(principal.tenant, start, end)
        if len(stored) != end - start:
            held = {leaf.index for leaf in stored}
            missing = [i for i in range(start, end) if i not in held]
            raise LogDamaged(f"the log lacks leaves {missing[:5]} of [{start}, {end})")
        return [IndexedLeaf(leaf.index, json.loads(leaf.leaf)) for leaf in stored]

    async def entry_proof(self, query: EntryProofQuery) -> EntryProof:
        principal = query.principal
        principal.require(Scope.READ)
        tenant = principal.tenant
        revision = await self._repository.revision(tenant, query.entry_id, query.revision)
        if (
            revision is None
            or revision.evidence is None
            or not principal.restriction.allows(revision)
        ):
            wanted = "" if query.revision is None else f" revision {query.revision}"
            raise EntryNotFound(f"{query.entry_id}{wanted}")
        index = await self._log.leaf_index(tenant, revision.id, revision.revision)
        if index is None:
            raise LogDamaged(f"the log has no leaf for {revision.id} revision {revision.revision}")
        if query.tree_size is None:
            checkpoint = await self._checkpoints.latest(tenant)
        else:
            if query.tree_size <= index:
                raise LogRangeError(
                    f"tree_size {query.tree_size} does not include leaf {index} of this revision"
                )
            checkpoint = await self._checkpoints.at(tenant, query.tree_size)
        [stored] = await self._log.leaves(tenant, index, index + 1)
        visible = await self._processor.redact_for_reader(revision, principal)
        return EntryProof(
            entry=visible,
            leaf_index=index,
            tree_size=checkpoint.size,
            leaf=json.loads(stored.leaf),
            salts=_visible_salts(revision, visible),
            inclusion=await self._tree.inclusion(tenant, index, checkpoint.size),
            checkpoint=checkpoint.note,
        )


def _visible_salts(stored: Entry, visible: Entry) -> dict[str, bytes]:
    """The salts of the fields the reader sees exactly as they were committed: a field
    redacted for this reader shows only its digest in the leaf."""
    assert stored.evidence is not None
    committed, shown = committed_fields(stored), committed_fields(visible)
    salts = stored.evidence.salts
    return {
        path: salts[path]
        for path, value in committed.items()
        if path in shown and shown[path] == value
    }
