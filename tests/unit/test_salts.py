"""Salts: fresh for every field and revision, never repeated, not even across a fork."""

from __future__ import annotations

import os

from audit_trail.core.integrity.fields import SALT_BYTES
from audit_trail.core.integrity.leaf import random_salts, sealed_record
from tests.contracts.builders import make_entry


def test_every_field_of_every_revision_gets_its_own_salt() -> None:
    salts = [
        salt
        for _ in range(2000)  # past several of the pool's blocks
        for salt in (sealed_record(make_entry(), None).revision.evidence.salts.values())  # type: ignore[union-attr]
    ]
    assert all(len(salt) == SALT_BYTES for salt in salts)
    assert len(set(salts)) == len(salts)


def test_a_forked_child_never_hands_out_its_parents_salts() -> None:
    random_salts(1)  # the pool now holds bytes the parent will hand out next
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.write(writer, random_salts(4))
        os._exit(0)
    os.close(writer)
    from_child = os.read(reader, 64)
    os.close(reader)
    os.waitpid(child, 0)
    assert len(from_child) == 4 * SALT_BYTES
    assert from_child != random_salts(4)
