"""Leaves of the tenant log: one per acknowledged change, as RFC 8785 canonical JSON.

``{"v":1, "kind":…, "tenant":…, "id":…, "revision":…, "recorded_at":"…Z",
"recorded_by":…, "prev":<base64 leaf hash of the previous revision, or null>,
"fields":{<path>: <base64 field digest>, …}}`` (DESIGN.md, "Integrity").
"""

from __future__ import annotations

import binascii
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import replace
from enum import StrEnum
from typing import Any

from audit_trail.core.integrity.canonical import canonical_json
from audit_trail.core.integrity.fields import SALT_BYTES, committed_fields, field_digest
from audit_trail.core.integrity.merkle import leaf_hash
from audit_trail.core.model import Entry, Evidence
from audit_trail.core.ports.log import LogRecord
from audit_trail.core.timestamps import format_timestamp

LEAF_VERSION = 1

SaltSource = Callable[[int], bytes]
"""Makes ``n`` fresh salts at once (``16 * n`` random bytes); injectable so that tests
can be deterministic."""


class _RandomBytes:
    """The operating system's CSPRNG, read 64 KiB at a time: one system call serves the
    salts of hundreds of revisions. A forked child drops what it inherited, so that it
    never hands out its parent's bytes."""

    BLOCK = 65536

    def __init__(self) -> None:
        self._buffer = b""
        self._at = 0
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._buffer, self._at = b"", 0

    def take(self, size: int) -> bytes:
        if size > self.BLOCK:
            return secrets.token_bytes(size)
        if self._at + size > len(self._buffer):
            self._buffer, self._at = secrets.token_bytes(self.BLOCK), 0
        start = self._at
        self._at += size
        return self._buffer[start : self._at]


_random_bytes = _RandomBytes()


def random_salts(count: int) -> bytes:
    return _random_bytes.take(SALT_BYTES * count)


class LeafKind(StrEnum):
    RECORD = "record"
    AMEND = "amend"
    DELETE = "delete"

    @classmethod
    def of(cls, entry: Entry) -> LeafKind:
        if entry.deleted:
            return cls.DELETE
        return cls.RECORD if entry.revision == 1 else cls.AMEND


def b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def revision_leaf(
    entry: Entry,
    salts: Mapping[str, bytes],
    prev: bytes | None,
    erased: Mapping[str, bytes] | None = None,
) -> dict[str, Any]:
    """The leaf object that commits one revision with the given salts (and the kept
    digests of its erased fields)."""
    return _leaf_object(entry, committed_fields(entry), salts, prev, erased)


def _leaf_object(
    entry: Entry,
    fields: Mapping[str, Any],
    salts: Mapping[str, bytes],
    prev: bytes | None,
    erased: Mapping[str, bytes] | None = None,
) -> dict[str, Any]:
    digests = {path: b64(field_digest(path, salts[path], v)) for path, v in fields.items()}
    if erased:
        digests.update((path, b64(digest)) for path, digest in erased.items())
    return {
        "v": LEAF_VERSION,
        "kind": LeafKind.of(entry).value,
        "tenant": entry.tenant,
        "id": entry.id,
        "revision": entry.revision,
        "recorded_at": format_timestamp(entry.recorded_at),
        "recorded_by": entry.recorded_by,
        "prev": None if prev is None else b64(prev),
        "fields": digests,
    }


def leaf_bytes(leaf: Mapping[str, Any]) -> bytes:
    """What the log hashes: the leaf's RFC 8785 canonical JSON."""
    return canonical_json(leaf)


def seal(entry: Entry, prev: bytes | None, salt: SaltSource = random_salts) -> Entry:
    """``entry`` with fresh salts for each committed field and its evidence
    (``prev`` = the leaf hash of the revision before it, None for revision 1)."""
    sealed = sealed_record(entry, prev, salt).revision
    assert sealed is not None
    return sealed


def sealed_leaf(entry: Entry) -> bytes:
    """The leaf bytes of a sealed revision; ``ValueError`` when it is not sealed."""
    evidence = entry.evidence
    if evidence is None:
        raise ValueError(f"revision {entry.revision} of {entry.id!r} is not sealed")
    return leaf_bytes(revision_leaf(entry, evidence.salts, evidence.prev, evidence.erased))


def revision_record(entry: Entry) -> LogRecord:
    """The log record of a sealed revision: its leaf, carrying the revision."""
    leaf = sealed_leaf(entry)
    assert entry.evidence is not None  # sealed_leaf refused it otherwise
    return LogRecord(leaf=leaf, leaf_hash=entry.evidence.leaf_hash, revision=entry)


def sealed_record(entry: Entry, prev: bytes | None, salt: SaltSource = random_salts) -> LogRecord:
    """Seal ``entry`` and return its log record (the sealed revision inside)."""
    fields = committed_fields(entry)
    blob = salt(len(fields))
    salts = {path: blob[i * SALT_BYTES : (i + 1) * SALT_BYTES] for i, path in enumerate(fields)}
    leaf = leaf_bytes(_leaf_object(entry, fields, salts, prev))
    digest = leaf_hash(leaf)
    sealed = replace(entry, evidence=Evidence(salts=salts, prev=prev, leaf_hash=digest))
    return LogRecord(leaf=leaf, leaf_hash=digest, revision=sealed)
