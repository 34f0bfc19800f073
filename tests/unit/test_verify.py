"""The verifier against in-process apps: what verifies, and each attack caught with a
verdict naming what failed."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given

from audit_trail.adapters.signing import Ed25519NoteSigner
from audit_trail.core.integrity import parse_checkpoint, parse_signed_note
from audit_trail.core.integrity.fields import committed_fields
from audit_trail.core.model import Actor, Entry, Outcome
from audit_trail.core.serialization import entry_to_json
from audit_trail.verify import Verifier
from audit_trail.verify.evidence import rendered_fields
from tests.unit.strategies import entries
from tests.unit.verify_support import ORIGIN, Service, Services


async def busy_log(service: Service) -> dict[str, Any]:
    """Records, an amendment, a deletion: returns the amended entry (revision 2)."""
    first = await service.record(action="a.first")
    await service.record(action="a.second", metadata={"email": "ada@example.org", "n": 1.5})
    await service.amend(first["id"], action="a.first.amended", metadata={"k": [1, {"x": None}]})
    doomed = await service.record(action="a.doomed")
    await service.delete(doomed["id"])
    await service.record(action="a.last", tags=[], metadata={})
    return first


def subjects(failures: Any) -> list[str]:
    return [str(f) for f in failures]


@given(entries)
def test_rendered_fields_are_the_committed_fields(stored: Entry) -> None:
    """The verifier reads the committed fields off the entry JSON: the same paths and
    values as the service commits (one definition, seen from both sides)."""
    assert rendered_fields(entry_to_json(stored)) == committed_fields(stored)


def test_a_metadata_key_whose_value_is_null_is_committed() -> None:
    moment = datetime(2026, 11, 28, tzinfo=UTC)
    stored = Entry("e-1", "acme", "a.b", Outcome.SUCCESS, Actor("u-1"), moment, moment)
    stored = replace(stored, metadata={"reason": None})
    assert "metadata.reason" in committed_fields(stored)


# --- what verifies ---


async def test_an_honest_log_verifies_entry_by_entry_and_in_full(service: Service) -> None:
    amended = await busy_log(service)
    verifier = await service.verifier()
    assert await verifier.check_key() == ()
    latest = await verifier.latest_checkpoint()
    assert latest.ok
    assert latest.checkpoint is not None
    assert (latest.checkpoint.origin, latest.checkpoint.size) == (f"{ORIGIN}/acme", 6)

    result = await verifier.verify_entry(amended["id"], latest.checkpoint)
    assert result.ok, subjects(result.failures)
    assert [r.revision for r in result.revisions] == [1, 2]
    assert [r.leaf_index for r in result.revisions] == [0, 2]

    audit = await verifier.full_audit(latest.checkpoint)
    assert audit.ok, subjects(audit.failures)
    assert (audit.leaves, audit.entries) == (6, 3)


async def test_a_later_checkpoint_is_proven_consistent_with_the_saved_one(
    service: Service,
) -> None:
    await busy_log(service)
    verifier = await service.verifier()
    saved = (await verifier.latest_checkpoint()).checkpoint
    assert saved is not None
    for n in range(5):
        await service.record(action=f"later.{n}")
    latest = await verifier.latest_checkpoint({saved.origin: saved})
    assert latest.ok, subjects(latest.failures)
    assert latest.previous == saved
    assert latest.checkpoint is not None
    assert latest.checkpoint.size == saved.size + 5


async def test_a_deleted_entry_verifies_up_to_its_tombstone(service: Service) -> None:
    doomed = await service.record(action="a.doomed")
    await service.delete(doomed["id"])
    verifier = await service.verifier()
    latest = await verifier.latest_checkpoint()
    assert latest.checkpoint is not None
    result = await verifier.verify_entry(doomed["id"], latest.checkpoint)
    assert result.ok, subjects(result.failures)
    assert [r.revision for r in result.revisions] == [1, 2]


# --- attacks ---


def flip(encoded: str) -> str:
    raw = bytearray(base64.b64decode(encoded))
    raw[0] ^= 1
    return base64.b64encode(bytes(raw)).decode()


async def verified_entry(service: Service, entry_id: str) -> list[str]:
    verifier = await service.verifier()
    latest = await verifier.latest_checkpoint()
    assert latest.checkpoint is not None, subjects(latest.failures)
    return subjects((await verifier.verify_entry(entry_id, latest.checkpoint)).failures)


async def test_a_forged_inclusion_proof_is_caught(service: Service) -> None:
    amended = await busy_log(service)

    def forge(request: httpx.Request, proof: dict[str, Any]) -> dict[str, Any]:
        proof["inclusion"][0] = flip(proof["inclusion"][0])
        return proof

    service.transport.edits["/proof"] = forge
    [verdict] = await verified_entry(service, amended["id"])
    assert verdict.startswith(f"entry {amended['id']} revision 2: not in the tree of size 6")


async def test_a_changed_leaf_is_caught(service: Service) -> None:
    amended = await busy_log(service)

    def change(request: httpx.Request, proof: dict[str, Any]) -> dict[str, Any]:
        proof["leaf"]["recorded_by"] = "someone-else"
        return proof

    service.transport.edits["/proof"] = change
    [verdict] = await verified_entry(service, amended["id"])
    assert verdict == (
        f"entry {amended['id']} revision 2: the leaf does not commit the entry as served: "
        "recorded_by"
    )


async def test_a_leaf_changed_with_its_entry_is_not_in_the_tree(service: Service) -> None:
    amended = await busy_log(service)

    def change(request: httpx.Request, proof: dict[str, Any]) -> dict[str, Any]:
        proof["leaf"]["recorded_by"] = proof["entry"]["recorded_by"] = "someone-else"
        return proof

    service.transport.edits["/proof"] = change
    [verdict] = await verified_entry(service, amended["id"])
    assert verdict.startswith(f"entry {amended['id']} revision 2: not in the tree of size 6")


async def test_a_changed_entry_value_is_caught(service: Service) -> None:
    amended = await busy_log(service)

    def change(request: httpx.Request, proof: dict[str, Any]) -> dict[str, Any]:
        if proof["entry"]["revision"] == 1:
            proof["entry"]["actor"]["name"] = "Mallory"
        return proof

    service.transport.edits["/proof"] = change
    [verdict] = await verified_entry(service, amended["id"])
    assert verdict == (
        f"entry {amended['id']} revision 1: the leaf does not commit the entry as served: "
        "fields.actor.name"
    )


async def test_a_field_shown_without_its_salt_is_withheld_not_verified(service: Service) -> None:
    stored = await service.record(metadata={"email": "ada@example.org"})

    def redact(request: httpx.Request, proof: dict[str, Any]) -> dict[str, Any]:
        proof["entry"]["metadata"]["email"] = "***"
        del proof["salts"]["metadata.email"]
        return proof

    service.transport.edits["/proof"] = redact
    verifier = await service.verifier()
    latest = await verifier.latest_checkpoint()
    assert latest.checkpoint is not None
    result = await verifier.verify_entry(stored["id"], latest.checkpoint)
    assert result.ok, subjects(result.failures)
    assert result.revisions[0].withheld == ("metadata.email",)


async def test_the_full_audit_catches_a_changed_listing(service: Service) -> None:
    amended = await busy_log(service)

    def change(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        for item in page.get("items", []):  # the listing, not the proofs
            if item["id"] == amended["id"]:
                item["outcome"] = "failure"
        return page

    service.transport.edits["/entries"] = change
    verifier = await service.verifier()
    latest = await verifier.latest_checkpoint()
    assert latest.checkpoint is not None
    audit = await verifier.full_audit(latest.checkpoint)
    assert subjects(audit.failures) == [
        f"entry {amended['id']} revision 2: is served otherwise by /entries than by its proof"
    ]


async def test_the_full_audit_catches_a_changed_leaf(service: Service) -> None:
    await busy_log(service)

    def change(request: httpx.Request, body: dict[str, Any]) -> dict[str, Any]:
        body["leaves"][3]["leaf"]["recorded_at"] = "2000-01-01T00:00:00.000Z"
        return body

    service.transport.edits["/log/leaves"] = change
    verifier = await service.verifier()
    latest = await verifier.latest_checkpoint()
    assert latest.checkpoint is not None
    audit = await verifier.full_audit(latest.checkpoint)
    service.transport.edits.clear()
    doomed = (await service.reader().leaves(4, 5))[0][1]["id"]
    assert subjects(audit.failures) == [  # leaf 4 deletes the entry that leaf 3 records
        f"leaf 4: entry {doomed} revision 2 does not link to the leaf of revision 1 (3)",
        "tree size 6: the leaves the service serves do not hash to the signed root",
    ]


async def test_a_checkpoint_signed_by_another_key_is_refused(service: Service) -> None:
    await busy_log(service)
    impostor = Ed25519NoteSigner(ORIGIN, Ed25519PrivateKey.generate())

    def resign(request: httpx.Request, note: str) -> str:
        return impostor.sign_checkpoint(parse_checkpoint(parse_signed_note(note).body))

    service.transport.edits["/log/checkpoint"] = resign
    verifier = await service.verifier()
    latest = await verifier.latest_checkpoint()
    assert latest.checkpoint is None
    assert subjects(latest.failures) == [
        f"checkpoint: the note carries no signature by {ORIGIN} "
        f"({(await service.vkey()).split('+')[1]})"
    ]


async def test_a_rolled_back_log_fails_consistency_with_the_saved_checkpoint(
    services: Services,
) -> None:
    honest, rolled_back = await services.start(), await services.start()
    for n in range(5):
        await honest.record(action=f"a.{n}")
    for n in range(3):
        await rolled_back.record(action=f"a.{n}")
    saved = (await (await honest.verifier()).latest_checkpoint()).checkpoint
    assert saved is not None
    latest = await (await rolled_back.verifier()).latest_checkpoint({saved.origin: saved})
    assert subjects(latest.failures) == [
        "tree size 3: the log shrank from the 5 leaves of a checkpoint verified before "
        "(a rollback, or a fork of the log)"
    ]


async def test_a_forked_log_fails_consistency_with_the_saved_checkpoint(
    services: Services,
) -> None:
    honest, fork = await services.start(), await services.start()
    for service in (honest, fork):
        for n in range(4):
            await service.record(action=f"a.{n}")
    await fork.record(action="a.extra")
    saved = (await (await honest.verifier()).latest_checkpoint()).checkpoint
    assert saved is not None
    latest = await (await fork.verifier()).latest_checkpoint({saved.origin: saved})
    [verdict] = subjects(latest.failures)
    assert verdict.startswith(
        "tree size 5: does not extend the tree of size 4 verified before "
        "(history was rewritten, or the log forked)"
    )


async def test_a_fork_of_the_same_size_is_caught(services: Services) -> None:
    one, other = await services.start(), await services.start()
    await one.record(action="a.one")
    await other.record(action="a.other")
    saved = (await (await one.verifier()).latest_checkpoint()).checkpoint
    assert saved is not None
    latest = await (await other.verifier()).latest_checkpoint({saved.origin: saved})
    [verdict] = subjects(latest.failures)
    assert verdict.startswith("tree size 1: does not extend the tree of size 1")


async def test_a_pinned_key_the_service_no_longer_serves_is_a_failure(service: Service) -> None:
    other = Ed25519NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    verifier = Verifier(service.reader(), other.vkey, settle_seconds=0)
    [key_verdict] = subjects(await verifier.check_key())
    assert key_verdict.startswith("key: the service publishes ")
    latest = await verifier.latest_checkpoint()
    assert latest.checkpoint is None
