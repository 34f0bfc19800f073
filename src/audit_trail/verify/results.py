"""What a verification found: typed results, each failure one line naming what failed.

A ``Failure`` names its subject (``entry <id> revision <r>``, ``tree size <n>``,
``leaf <i>``, ``checkpoint``, ``key``) and why; ``str(failure)`` is the one-line verdict
the CLI prints. A result is ``ok`` when it holds no failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from audit_trail.core.integrity import Checkpoint


@dataclass(frozen=True, slots=True)
class Failure:
    subject: str
    reason: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.reason}"


class Failed(Exception):
    """Ends one check with its failure (caught where the check's result is made)."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(str(failure))
        self.failure = failure


class Unobtainable(Failed):
    """The service does not serve what the check needs (a 404): the check cannot be
    completed, which is not the same as catching a lie."""


def fail(subject: str, reason: str) -> Failed:
    return Failed(Failure(subject, reason))


@dataclass(frozen=True, slots=True)
class CheckpointResult:
    """The latest checkpoint, its signature checked (``None`` when it could not be
    trusted), and whether it extends the checkpoint saved before (``previous``)."""

    checkpoint: Checkpoint | None
    note: str | None
    previous: Checkpoint | None
    failures: tuple[Failure, ...] = ()

    @property
    def ok(self) -> bool:
        return self.checkpoint is not None and not self.failures


@dataclass(frozen=True, slots=True)
class RevisionResult:
    """One revision checked end to end: values, salts, digests, leaf, inclusion in the
    tree of ``tree_size`` leaves. ``withheld`` names the committed fields the service
    gave no salt for (erased, hidden or redacted for this reader): only their digests
    are in the leaf, and a value shown for them, if any, is not verified."""

    entry_id: str
    revision: int
    leaf_index: int
    leaf_hash: bytes
    tree_size: int
    withheld: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EntryResult:
    """Every revision of one entry, oldest first, and the links between them."""

    entry_id: str
    revisions: tuple[RevisionResult, ...] = ()
    failures: tuple[Failure, ...] = ()

    @property
    def ok(self) -> bool:
        return bool(self.revisions) and not self.failures


@dataclass(frozen=True, slots=True)
class AuditResult:
    """A full audit: every leaf up to ``tree_size`` hashed into the checkpoint's root,
    every leaf's links checked, every live entry's current revision checked against
    its leaf, and the map root of each of the ``index_leaves`` index leaves derived
    from the log's revisions. ``unchecked`` names the index leaves whose derivation
    could not be checked (a revision this reader cannot read), and why: not a failure
    found, and not a pass either."""

    tree_size: int
    leaves: int
    entries: int
    failures: tuple[Failure, ...] = ()
    withheld: tuple[RevisionResult, ...] = field(default=())
    index_leaves: int = 0
    unchecked: tuple[Failure, ...] = ()

    @property
    def ok(self) -> bool:
        """Everything checked, and nothing failed."""
        return not self.failures and not self.unchecked
