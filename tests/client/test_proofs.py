"""Proofs: verified against the log's key by default; a forged one is refused."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit_trail.client import NewEntry, VerificationFailed
from audit_trail.core.integrity import format_vkey
from tests.client.conftest import Clients
from tests.client.transports import Intercept, edit_json


async def test_a_proof_verifies(clients: Clients) -> None:
    client = clients()
    first = await client.record(NewEntry("a.b", metadata={"email": "ada@example.com"}))
    await client.amend(first.id, NewEntry("a.c"))
    proof = await client.get_proof(first.id)
    assert proof.verified
    assert proof.entry.revision == 2
    assert (proof.leaf_index, proof.tree_size) == (1, 2)
    old = await client.get_proof(first.id, revision=1)
    assert old.verified
    assert old.entry == first

    key = await client.log_key()
    pinned = clients(vkey=key.vkey)
    assert (await pinned.get_proof(first.id)).vkey == key.vkey
    assert not (await client.get_proof(first.id, verify=False)).verified


def _forge_metadata(body: dict[str, Any]) -> None:
    body["entry"]["metadata"]["email"] = "eve@example.com"


def _forge_signature(body: dict[str, Any]) -> None:
    note, _, signature = body["checkpoint"].rpartition(" ")
    raw = bytearray(base64.b64decode(signature))
    raw[-1] ^= 1
    body["checkpoint"] = f"{note} {base64.b64encode(bytes(raw)).decode()}\n"


@pytest.mark.parametrize("forge", [_forge_metadata, _forge_signature])
async def test_a_forged_proof_fails(clients: Clients, forge: Any) -> None:
    def wrap(sync: httpx.BaseTransport, asynchronous: httpx.AsyncBaseTransport) -> Intercept:
        return Intercept(sync, asynchronous, edit=edit_json("/proof", forge))

    recorded = await clients().record(NewEntry("a.b", metadata={"email": "ada@example.com"}))
    forged = clients(wrap=wrap)
    with pytest.raises(VerificationFailed) as caught:
        await forged.get_proof(recorded.id)
    assert recorded.id in caught.value.subject or caught.value.subject.startswith("tree size")
    assert not (await forged.get_proof(recorded.id, verify=False)).verified


async def test_a_pinned_key_of_another_log_fails(clients: Clients) -> None:
    recorded = await clients().record(NewEntry("a.b"))
    raw = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    other = format_vkey("audit-trail.test", raw)  # the same name, another key
    with pytest.raises(VerificationFailed):
        await clients(vkey=other).get_proof(recorded.id)
