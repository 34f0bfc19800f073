"""The tenant log's routes: every acknowledged change is a leaf, with proofs that verify."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from audit_trail.adapters.signing.ed25519 import verify_note_signature
from audit_trail.core.integrity import canonical_json, leaf_hash, verify_consistency
from audit_trail.core.integrity.fields import field_digest
from audit_trail.core.integrity.merkle import verify_inclusion
from tests.api.client import Api, entry, error_fields, problem


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


async def leaves(api: Api, start: int, end: int, **kwargs: Any) -> list[dict[str, Any]]:
    response = await api.call("GET", "/log/leaves", params={"start": start, "end": end}, **kwargs)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["leaves"]
    return items


async def test_the_key_needs_no_token_and_names_its_vkey(api: Api) -> None:
    body = (await api.call("GET", "/log/key", anonymous=True)).json()
    name, key_id, key = body["vkey"].split("+", 2)
    assert name == body["name"]
    assert unb64(key) == b"\x01" + unb64(body["public_key"])
    assert len(key_id) == 8


async def test_every_change_is_a_leaf_of_its_kind_by_whom_made_it(api: Api) -> None:
    stored = await api.record()
    path = f"/entries/{stored['id']}"
    await api.call("PUT", path, json=entry(action="document.rename"))
    assert (await api.call("DELETE", path)).status_code == 204
    batch = {"entries": [entry(action="a.one"), entry(action="a.two")]}
    assert (await api.call("POST", "/entries/batch", json=batch)).status_code == 201

    log = await leaves(api, 0, 5)
    kinds = [(item["index"], item["leaf"]["kind"], item["leaf"]["revision"]) for item in log]
    assert kinds == [
        (0, "record", 1),
        (1, "amend", 2),
        (2, "delete", 3),
        (3, "record", 1),
        (4, "record", 1),
    ]
    record, amend, delete = (item["leaf"] for item in log[:3])
    assert {leaf["id"] for leaf in (record, amend, delete)} == {stored["id"]}
    assert record["recorded_by"] == stored["recorded_by"] != ""
    assert record["prev"] is None
    assert unb64(amend["prev"]) == leaf_hash(canonical_json(record))
    assert unb64(delete["prev"]) == leaf_hash(canonical_json(amend))
    history = await api.items(f"{path}/history")
    assert [r["recorded_by"] for r in history] == [record["recorded_by"]] * 3


async def test_a_proof_binds_the_entry_to_a_signed_checkpoint(api: Api) -> None:
    first = await api.record()
    await api.record(entry(action="second"))
    stored = await api.record(entry(metadata={"email": "x", "n": 1.5}))
    response = await api.call("GET", f"/entries/{stored['id']}/proof")
    assert response.status_code == 200, response.text
    proof = response.json()
    assert proof["entry"] == stored
    assert (proof["leaf_index"], proof["tree_size"]) == (2, 3)
    checkpoint = verify_note_signature(proof["checkpoint"], await api.vkey())
    assert checkpoint.size == 3
    assert checkpoint.origin.endswith("/acme")
    leaf = proof["leaf"]
    verify_inclusion(
        leaf_hash(canonical_json(leaf)),
        proof["leaf_index"],
        proof["tree_size"],
        [unb64(h) for h in proof["inclusion"]],
        checkpoint.root,
    )
    for path, salt in proof["salts"].items():
        value = _value_at(proof["entry"], path)
        assert unb64(leaf["fields"][path]) == field_digest(path, unb64(salt), value)
    assert {"action", "actor.id", "metadata.n", "occurred_at"} <= set(proof["salts"])
    # an earlier size: the same leaf, proven against that checkpoint
    older = (await api.call("GET", f"/entries/{first['id']}/proof", params={"tree_size": 1})).json()
    assert (older["tree_size"], older["inclusion"]) == (1, [])


def _value_at(entry_json: dict[str, Any], path: str) -> Any:
    head, _, rest = path.partition(".")
    if head == "metadata":
        return entry_json["metadata"][rest]
    return entry_json[head] if not rest else entry_json[head][rest]


async def test_consistency_between_checkpoints_verifies(api: Api) -> None:
    await api.record()
    old = verify_note_signature((await api.call("GET", "/log/checkpoint")).text, await api.vkey())
    for action in ("b", "c", "d"):
        await api.record(entry(action=action))
    response = await api.call("GET", "/log/checkpoint")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    new = verify_note_signature(response.text, await api.vkey())
    assert (old.size, new.size) == (1, 4)
    body = (await api.call("GET", "/log/consistency", params={"first": 1, "second": 4})).json()
    assert (body["first"], body["second"]) == (1, 4)
    proof = [unb64(h) for h in body["proof"]]
    verify_consistency(1, 4, proof, old.root, new.root)


async def test_the_checkpoint_covers_every_acknowledged_write(api: Api) -> None:
    for count, action in enumerate(("a", "b", "c"), start=1):
        await api.record(entry(action=action))
        note = (await api.call("GET", "/log/checkpoint")).text
        assert note.splitlines()[1] == str(count)


async def test_an_empty_log_has_a_checkpoint_of_size_zero(api: Api) -> None:
    note = (await api.call("GET", "/log/checkpoint", tenant="empty-tenant")).text
    assert note.splitlines()[1:3] == [
        "0",
        base64.b64encode(
            bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        ).decode(),
    ]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/log/consistency", {"first": 2, "second": 1}, None),
        ("/log/consistency", {"first": 0, "second": 9}, None),
        ("/log/leaves", {"start": 0, "end": 9}, None),
        ("/log/leaves", {"start": 1, "end": 1}, None),
        ("/log/leaves", {"start": 0, "end": 1001}, None),
        ("/log/leaves", {"start": "-1", "end": 1}, "start"),
        ("/log/leaves", {"start": "x", "end": 1}, "start"),
        ("/log/leaves", {"start": 0}, "end"),
        ("/log/leaves", {"start": 0, "end": 1, "sort": "x"}, "sort"),
        ("/log/consistency", {"first": 0}, "second"),
    ],
)
async def test_bad_ranges_are_refused_with_a_problem(
    api: Api, path: str, params: dict[str, Any], field: str | None
) -> None:
    await api.record()
    await api.record()
    response = await api.call("GET", path, params=params)
    body = problem(response, 422)
    if field is not None:
        assert field in error_fields(response)
    else:
        assert body["type"].endswith("log-range")


async def test_a_proof_of_an_unknown_revision_or_size_is_refused(api: Api) -> None:
    stored = await api.record()
    proof_path = f"/entries/{stored['id']}/proof"
    problem(await api.call("GET", proof_path, params={"revision": 2}), 404)
    problem(await api.call("GET", proof_path, params={"tree_size": 5}), 422)
    problem(await api.call("GET", proof_path, params={"tree_size": 0}), 422)
    problem(await api.call("GET", "/entries/01ARZ3NDEKTSV4RRFFQ69G5FAV/proof"), 404)


async def test_another_tenants_entry_gets_no_proof(api: Api) -> None:
    theirs = await api.record(tenant="globex")
    problem(await api.call("GET", f"/entries/{theirs['id']}/proof", tenant="acme"), 404)
    assert await leaves(api, 0, 1, tenant="globex")
    problem(await api.call("GET", "/log/leaves", params={"start": 0, "end": 1}), 422)


async def test_log_routes_need_the_read_scope(api: Api) -> None:
    for path in ("/log/checkpoint", "/log/leaves?start=0&end=1"):
        problem(await api.call("GET", path, scopes=["audit:write"]), 403)
        problem(await api.call("GET", path, anonymous=True), 401)
