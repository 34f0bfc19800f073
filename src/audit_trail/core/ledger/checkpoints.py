"""Checkpoints: signed tree heads of each tenant log, signed once per tree size.

A checkpoint is signed when someone asks for one and the kept one is older than the
log: so every write acknowledged before the request is covered, and a signature is
made at most once per tree size (Ed25519 is deterministic: two processes signing
the same size produce the same note).
"""

from __future__ import annotations

from audit_trail.core.errors import LogRangeError
from audit_trail.core.integrity.checkpoint import Checkpoint
from audit_trail.core.ledger.tree import LogTree
from audit_trail.core.ports.log import StoredCheckpoint, TenantLog
from audit_trail.core.ports.metrics import NO_METRICS, Metrics
from audit_trail.core.ports.signer import NoteSigner


class Checkpoints:
    def __init__(
        self,
        log_store: TenantLog,
        tree: LogTree,
        signer: NoteSigner,
        origin_prefix: str,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._metrics = metrics
        self._log = log_store
        self._tree = tree
        self._signer = signer
        self._origin_prefix = origin_prefix

    @property
    def signer(self) -> NoteSigner:
        return self._signer

    def origin(self, tenant: str) -> str:
        """The checkpoint origin of a tenant's log: ``<AUDIT_LOG_ORIGIN>/<tenant>``."""
        return f"{self._origin_prefix}/{tenant}"

    async def latest(self, tenant: str) -> StoredCheckpoint:
        """A checkpoint of the whole log as it is now."""
        size = await self._log.size(tenant)
        kept = await self._log.latest_checkpoint(tenant)
        if kept is not None and kept.size >= size:
            return kept
        signed = await self._sign(tenant, size)
        self._metrics.checkpoint_signed(tenant, size)
        return signed

    async def at(self, tenant: str, size: int) -> StoredCheckpoint:
        """The checkpoint of the tree of exactly ``size`` leaves."""
        current = await self._log.size(tenant)
        if not 0 <= size <= current:
            raise LogRangeError(f"tree_size {size} is beyond the log's {current} leaves")
        kept = await self._log.checkpoint_at(tenant, size)
        return kept if kept is not None else await self._sign(tenant, size)

    async def _sign(self, tenant: str, size: int) -> StoredCheckpoint:
        root = await self._tree.root(tenant, size)
        note = self._signer.sign_checkpoint(Checkpoint(self.origin(tenant), size, root))
        checkpoint = StoredCheckpoint(size, note)
        await self._log.save_checkpoint(tenant, checkpoint)
        return checkpoint
