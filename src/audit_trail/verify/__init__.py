"""A client-side verifier of the service's tenant logs (DESIGN.md, "Integrity").

    from audit_trail.verify import Verifier, connect

    service = connect("https://audit.example", token)
    verifier = Verifier(service, vkey)
    latest = await verifier.latest_checkpoint(known)  # origin -> checkpoint saved before
    entry = await verifier.verify_entry(entry_id, latest.checkpoint)
    audit = await verifier.full_audit(latest.checkpoint)

It trusts one verifier key (``vkey``) and checks everything else against it and the
hashes, with the same integrity functions the service uses. Results are typed; each
failure is one line naming the entry, revision or tree size.
"""

from audit_trail.verify.results import (
    AuditResult,
    CheckpointResult,
    EntryResult,
    Failure,
    RevisionResult,
)
from audit_trail.verify.service import ServiceClient, ServiceError, connect
from audit_trail.verify.verifier import Progress, Verifier

__all__ = [
    "AuditResult",
    "CheckpointResult",
    "EntryResult",
    "Failure",
    "Progress",
    "RevisionResult",
    "ServiceClient",
    "ServiceError",
    "Verifier",
    "connect",
]
