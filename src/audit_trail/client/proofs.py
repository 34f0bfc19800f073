"""An entry proof read and, with ``verify``, checked end to end by the offline
verifier's own checks (``audit_trail.verify.evidence``): the checkpoint's signature by
the trusted key, then values ⇄ salts ⇄ field digests ⇄ leaf ⇄ inclusion ⇄ root."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from audit_trail.client.errors import VerificationFailed
from audit_trail.client.models import Entry, LogKey, Proof
from audit_trail.core.integrity import NoteError, parse_vkey
from audit_trail.verify.evidence import check_revision, read_proof, served_vkey, signed_checkpoint
from audit_trail.verify.results import Failed


def log_key(body: Any) -> LogKey:
    """The ``/log/key`` answer, once its name, key and vkey agree."""
    if not isinstance(body, Mapping):
        raise VerificationFailed("key", "/log/key is not a JSON object")
    try:
        vkey = served_vkey(body)
    except Failed as exc:
        raise VerificationFailed(exc.failure.subject, exc.failure.reason) from None
    return LogKey(str(body["name"]), str(body["public_key"]), vkey, dict(body))


def check_vkey(vkey: str) -> str:
    """``vkey`` if it is a well-formed verifier key (``name+hex id+base64 key``)."""
    try:
        parse_vkey(vkey)
    except NoteError as exc:
        raise ValueError(f"not a verifier key: {exc}") from None
    return vkey


def proof(body: Any, entry_id: str, revision: int | None = None, vkey: str | None = None) -> Proof:
    """The proof in ``body``, of ``entry_id`` (and ``revision`` if given); verified
    against ``vkey`` unless it is None. A proof that does not hold raises
    ``VerificationFailed``, naming what failed."""
    subject = f"entry {entry_id}" + (f" revision {revision}" if revision else "")
    try:
        if not isinstance(body, Mapping):
            raise VerificationFailed(subject, "the proof answer is not a JSON object")
        view = read_proof(body, subject)
        served = view.entry.get("revision")
        if view.entry.get("id") != entry_id:
            raise VerificationFailed(subject, f"the proof is of entry {view.entry.get('id')!r}")
        if revision is not None and served != revision:
            raise VerificationFailed(subject, f"the proof is of revision {served!r}")
        root: bytes | None = None
        withheld: tuple[str, ...] = ()
        if vkey is not None:
            subject = f"entry {entry_id} revision {served}"
            checkpoint = signed_checkpoint(view.note, vkey, f"tree size {view.tree_size}")
            result, _ = check_revision(view, checkpoint, subject)
            root, withheld = checkpoint.root, result.withheld
    except Failed as exc:
        raise VerificationFailed(exc.failure.subject, exc.failure.reason) from None
    return Proof(
        entry=Entry.from_json(view.entry),
        leaf_index=view.leaf_index,
        tree_size=view.tree_size,
        leaf=view.leaf,
        salts=dict(body["salts"]),
        inclusion=tuple(body["inclusion"]),
        checkpoint=view.note,
        verified=vkey is not None,
        vkey=vkey,
        root=root,
        withheld=withheld,
        raw=dict(body),
    )
