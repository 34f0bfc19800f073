"""Pure checks of what the service hands out, with the core's own integrity functions
(one definition of leaves, digests, hashing and notes for the service and its clients).

Each check returns what it established or raises ``Failed`` with a one-line verdict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from audit_trail.adapters.signing import verify_note_signature
from audit_trail.core.integrity import (
    Checkpoint,
    NoteError,
    ProofError,
    format_vkey,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from audit_trail.core.integrity.fields import field_digest
from audit_trail.core.integrity.leaf import LEAF_VERSION, LeafKind, b64, leaf_bytes
from audit_trail.verify.results import RevisionResult, fail
from audit_trail.verify.service import ServiceError, decode_b64, decode_hash, hashes

KINDS = frozenset(kind.value for kind in LeafKind)
_PARTS = {"actor": ("id", "type", "name"), "target": ("type", "id", "name")}
_SOURCE = ("ip", "user_agent")


def served_vkey(document: Mapping[str, Any]) -> str:
    """The vkey of a ``/log/key`` answer, after checking its three members agree."""
    name, public_key, vkey = (document.get(k) for k in ("name", "public_key", "vkey"))
    if not isinstance(name, str) or not isinstance(vkey, str):
        raise fail("key", "/log/key has no name or vkey")
    try:
        raw = decode_b64(public_key, "public_key")
        expected = format_vkey(name, raw)
    except (ServiceError, NoteError) as exc:
        raise fail("key", f"/log/key: {exc}") from None
    if vkey != expected:
        raise fail("key", f"/log/key serves vkey {vkey!r}, but its name and key give {expected!r}")
    return vkey


def signed_checkpoint(note: str, vkey: str, subject: str = "checkpoint") -> Checkpoint:
    """The checkpoint of ``note`` once its signature by ``vkey`` verifies."""
    try:
        return verify_note_signature(note, vkey)
    except NoteError as exc:
        raise fail(subject, str(exc)) from None


def check_consistency(older: Checkpoint, newer: Checkpoint, proof: list[bytes]) -> None:
    """``newer`` extends ``older`` (same origin, not smaller, and the proof says so)."""
    subject = f"tree size {newer.size}"
    if newer.origin != older.origin:
        raise fail(subject, f"origin {newer.origin!r} is not {older.origin!r}")
    if newer.size < older.size:
        raise fail(
            subject,
            f"the log shrank from the {older.size} leaves of a checkpoint verified before "
            "(a rollback, or a fork of the log)",
        )
    try:
        verify_consistency(older.size, newer.size, proof, older.root, newer.root)
    except ProofError as exc:
        raise fail(
            subject,
            f"does not extend the tree of size {older.size} verified before "
            f"(history was rewritten, or the log forked): {exc}",
        ) from None


def rendered_fields(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The committed paths (DESIGN.md: ``action``, ``actor.id``, ``metadata.<key>``...)
    of an entry as served, with their values as served; an absent field has no path."""
    fields: dict[str, Any] = {}
    for name in ("action", "outcome", "occurred_at"):
        if entry.get(name) is not None:
            fields[name] = entry[name]
    for group, parts in (*_PARTS.items(), ("source", _SOURCE)):
        members = entry.get(group) or {}
        if not isinstance(members, dict):
            raise ValueError(f"{group} is not an object")
        for part in parts:
            if members.get(part) is not None:
                fields[f"{group}.{part}"] = members[part]
    if entry.get("tags") is not None:
        fields["tags"] = entry["tags"]
    metadata = entry.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ValueError("metadata is not an object")
    for key, value in metadata.items():  # a key is present even when its value is null
        fields[f"metadata.{key}"] = value
    return fields


@dataclass(frozen=True, slots=True)
class ProofView:
    """The parts of one ``/entries/{id}/proof`` answer, types checked."""

    entry: dict[str, Any]
    leaf: dict[str, Any]
    leaf_index: int
    tree_size: int
    salts: dict[str, bytes]
    inclusion: list[bytes]
    note: str


def read_proof(body: Mapping[str, Any], subject: str) -> ProofView:
    try:
        entry, leaf, salts = body["entry"], body["leaf"], body["salts"]
        index, size, note = body["leaf_index"], body["tree_size"], body["checkpoint"]
        if not (isinstance(entry, dict) and isinstance(leaf, dict) and isinstance(salts, dict)):
            raise ServiceError("entry, leaf and salts are objects")
        if type(index) is not int or type(size) is not int or not isinstance(note, str):
            raise ServiceError("leaf_index and tree_size are integers, checkpoint a note")
        decoded = {str(path): decode_b64(salt, f"salt of {path}") for path, salt in salts.items()}
        inclusion = hashes(body["inclusion"], "inclusion")
    except (KeyError, ServiceError) as exc:
        raise fail(subject, f"the proof answer is malformed: {exc}") from None
    return ProofView(entry, leaf, index, size, decoded, inclusion, note)


def expected_kind(entry: Mapping[str, Any]) -> str:
    if entry.get("deleted") is True:
        return LeafKind.DELETE.value
    return (LeafKind.RECORD if entry.get("revision") == 1 else LeafKind.AMEND).value


def rebuilt_leaf(
    entry: Mapping[str, Any], prev: object, fields: Mapping[str, str]
) -> dict[str, Any]:
    """The leaf object that commits ``entry`` as served, with this ``prev`` and these
    base64 field digests (DESIGN.md, "Integrity")."""
    return {
        "v": LEAF_VERSION,
        "kind": expected_kind(entry),
        "tenant": entry.get("tenant"),
        "id": entry.get("id"),
        "revision": entry.get("revision"),
        "recorded_at": entry.get("recorded_at"),
        "recorded_by": entry.get("recorded_by"),
        "prev": prev,
        "fields": dict(fields),
    }


def check_revision(
    proof: ProofView, checkpoint: Checkpoint, subject: str
) -> tuple[RevisionResult, bytes | None]:
    """One revision end to end: its values ⇄ salts ⇄ field digests ⇄ the leaf rebuilt
    from the entry ⇄ the served leaf ⇄ its hash ⇄ the inclusion proof ⇄ ``checkpoint``
    (whose signature the caller checked, and whose size must be the proof's).

    Returns the result and the leaf's ``prev`` hash, for the caller to link revisions."""
    entry, served = proof.entry, proof.leaf
    if proof.tree_size != checkpoint.size:
        raise fail(subject, f"proof for tree size {proof.tree_size}, checkpoint {checkpoint.size}")
    tenant = entry.get("tenant")
    if not isinstance(tenant, str) or not checkpoint.origin.endswith(f"/{tenant}"):
        raise fail(subject, f"tenant {tenant!r} does not own the log {checkpoint.origin!r}")
    try:
        values = rendered_fields(entry)
    except ValueError as exc:
        raise fail(subject, f"the entry is malformed: {exc}") from None
    digests = served.get("fields")
    if not isinstance(digests, dict):
        raise fail(subject, "the leaf has no fields object")
    # a field shown with its salt is checked against its digest; one without (erased,
    # hidden, or redacted for this reader) is only its digest, and must be committed
    uncommitted = sorted(p for p in values if p not in proof.salts and p not in digests)
    if uncommitted:
        raise fail(subject, f"shows field(s) the leaf does not commit: {', '.join(uncommitted)}")
    try:
        recomputed = {
            path: b64(field_digest(path, proof.salts[path], value))
            for path, value in values.items()
            if path in proof.salts
        }
    except (TypeError, ValueError) as exc:
        raise fail(subject, f"a field value has no canonical JSON form: {exc}") from None
    withheld = tuple(sorted(path for path in digests if path not in recomputed))
    rebuilt = rebuilt_leaf(
        entry, served.get("prev"), recomputed | {path: digests[path] for path in withheld}
    )
    differences = _differences(rebuilt, served)
    if differences:
        raise fail(subject, f"the leaf does not commit the entry as served: {differences}")
    prev = _prev(served, subject)
    try:
        digest = leaf_hash(leaf_bytes(served))
    except (TypeError, ValueError) as exc:
        raise fail(subject, f"the leaf has no canonical JSON form: {exc}") from None
    try:
        verify_inclusion(
            digest, proof.leaf_index, proof.tree_size, proof.inclusion, checkpoint.root
        )
    except ProofError as exc:
        raise fail(subject, f"not in the tree of size {proof.tree_size}: {exc}") from None
    result = RevisionResult(
        entry_id=str(entry.get("id")),
        revision=int(entry.get("revision") or 0),
        leaf_index=proof.leaf_index,
        leaf_hash=digest,
        tree_size=proof.tree_size,
        withheld=withheld,
    )
    return result, prev


def _prev(leaf: Mapping[str, Any], subject: str) -> bytes | None:
    prev = leaf.get("prev")
    revision = leaf.get("revision")
    if prev is None:
        if revision != 1:
            raise fail(subject, "the leaf of a later revision does not link to the one before")
        return None
    if revision == 1:
        raise fail(subject, "the leaf of a first revision links to a previous one")
    try:
        return decode_hash(prev, "prev")
    except ServiceError as exc:
        raise fail(subject, f"the leaf's prev: {exc}") from None


def _differences(expected: Mapping[str, Any], served: Mapping[str, Any]) -> str:
    names: list[str] = []
    for key in sorted(expected.keys() | served.keys()):
        mine, theirs = expected.get(key, _MISSING), served.get(key, _MISSING)
        if key == "fields" and isinstance(mine, dict) and isinstance(theirs, dict):
            names += [
                f"fields.{path}"
                for path in sorted(mine.keys() | theirs.keys())
                if mine.get(path, _MISSING) != theirs.get(path, _MISSING)
            ]
        elif mine != theirs or type(mine) is not type(theirs):
            names.append(key)
    return ", ".join(names)


_MISSING = object()
