"""POST /entries/{id}/erase: the values leave every revision and every read, the
evidence still verifies, and the log records the erasure (docs/lifecycle.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from audit_trail.core.query import parse_query
from audit_trail.verify import ServiceClient, Verifier
from audit_trail.verify.query import check_query_proof
from tests import independent_verifier as independent
from tests.api.client import Api, entry, error_fields, problem

ERASER = ("audit:read", "audit:write", "audit:admin", "audit:erase")
PHONE = "+44 20 7946 0958"
NAME = "Ada Lovelace"
REASON = "GDPR art. 17 request #4711"


def personal(**fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "actor": {"id": "u-42", "type": "user", "name": NAME},
        "metadata": {"phone": PHONE, "field": "title"},
    }
    return entry(**(values | fields))


async def erase(api: Api, entry_id: str, fields: list[str], **kwargs: Any) -> Any:
    body = {"fields": fields, "reason": REASON}
    return await api.call("POST", f"/entries/{entry_id}/erase", json=body, scopes=ERASER, **kwargs)


async def verifier(api: Api) -> Verifier:
    return Verifier(
        ServiceClient(api.http, api.tokens.token(ERASER)), await api.vkey(), settle_seconds=0
    )


async def test_erasure_takes_the_values_out_of_every_revision_and_read(api: Api) -> None:
    first = await api.record(personal())
    path = f"/entries/{first['id']}"
    amended = await api.call("PUT", path, json=personal(action="document.rename"))
    assert amended.status_code == 200
    await api.items("/entries", params={"actor_id": "u-42"})  # a cached page, with the values

    response = await erase(api, first["id"], ["metadata.phone", "actor.name"])

    assert response.status_code == 200, response.text
    receipt = response.json()
    assert receipt["entry_id"] == first["id"]
    assert receipt["fields"] == ["actor.name", "metadata.phone"]
    assert receipt["revisions"] == [1, 2]
    assert receipt["reason"] == REASON
    assert isinstance(receipt["leaf_index"], int)
    reads = [
        (await api.call("GET", path)).json(),
        *(await api.items(f"{path}/history")),
        *(await api.items("/entries", params={"actor_id": "u-42"})),
        (await api.call("GET", f"{path}/proof", params={"revision": 1})).json()["entry"],
    ]
    for shown in reads:
        assert shown["erased"] == ["actor.name", "metadata.phone"]
        assert "name" not in shown["actor"]
        assert shown["metadata"] == {"field": "title"}
        assert PHONE not in json.dumps(shown)
        assert NAME not in json.dumps(shown)


async def test_the_erased_fields_keep_their_digests_and_everything_still_verifies(
    api: Api,
) -> None:
    first = await api.record(personal())
    await api.call("PUT", f"/entries/{first['id']}", json=personal(tags=["a", "b"]))
    other = await api.record(personal(actor={"id": "u-7", "name": "Bob"}))
    before = (await api.call("GET", f"/entries/{first['id']}/proof")).json()

    assert (
        await erase(api, first["id"], ["metadata.phone", "actor.name", "tags"])
    ).status_code == 200

    proof = (await api.call("GET", f"/entries/{first['id']}/proof")).json()
    assert proof["leaf"] == before["leaf"]  # the committed leaf is the same leaf
    assert not {"metadata.phone", "actor.name", "tags"} & set(proof["salts"])
    checker = await verifier(api)
    latest = await checker.latest_checkpoint()
    assert latest.checkpoint is not None, latest.failures
    for entry_id in (first["id"], other["id"]):
        result = await checker.verify_entry(entry_id, latest.checkpoint)
        assert result.ok, result.failures
    withheld = {r.revision: set(r.withheld) for r in result.revisions}
    assert withheld == {1: set()}  # the other entry is untouched
    audit = await checker.full_audit(latest.checkpoint)
    assert audit.failures == ()
    assert audit.ok


async def test_the_log_records_the_erasure_without_the_values(api: Api) -> None:
    first = await api.record(personal())
    receipt = (await erase(api, first["id"], ["metadata.phone"])).json()
    index = receipt["leaf_index"]
    leaves = await api.call("GET", "/log/leaves", params={"start": index, "end": index + 1})
    [leaf] = leaves.json()["leaves"]
    assert leaf["leaf"] == {
        "v": 1,
        "kind": "erase",
        "tenant": "acme",
        "id": first["id"],
        "revisions": [1],
        "fields": ["metadata.phone"],
        "reason": REASON,
        "recorded_at": receipt["recorded_at"],
        "recorded_by": leaf["leaf"]["recorded_by"],
    }
    assert PHONE not in json.dumps(leaf)


async def test_erasing_again_changes_nothing_and_appends_no_leaf(api: Api) -> None:
    first = await api.record(personal())
    assert (await erase(api, first["id"], ["metadata.phone"])).status_code == 200
    size = int((await api.call("GET", "/log/checkpoint")).text.split("\n")[1])
    again = await erase(api, first["id"], ["metadata.phone"])
    assert again.status_code == 200
    assert again.json()["revisions"] == []
    assert again.json()["leaf_index"] is None
    assert int((await api.call("GET", "/log/checkpoint")).text.split("\n")[1]) == size


async def test_erased_tags_no_longer_find_the_entry(api: Api) -> None:
    first = await api.record(personal(tags=["patient-123"]))
    assert [e["id"] for e in await api.items("/entries", params={"tag": "patient-123"})] == [
        first["id"]
    ]
    assert (await erase(api, first["id"], ["tags"])).status_code == 200
    assert await api.items("/entries", params={"tag": "patient-123"}) == []
    shown = (await api.call("GET", f"/entries/{first['id']}")).json()
    assert shown["tags"] == []
    assert shown["erased"] == ["tags"]


async def test_an_amendment_after_erasure_starts_with_fresh_values(api: Api) -> None:
    first = await api.record(personal())
    assert (await erase(api, first["id"], ["actor.name"])).status_code == 200
    response = await api.call("PUT", f"/entries/{first['id']}", json=entry())
    assert response.status_code == 200
    amended = response.json()
    assert "erased" not in amended
    assert amended["actor"]["name"] == "Ada"
    checker = await verifier(api)
    latest = await checker.latest_checkpoint()
    assert latest.checkpoint is not None
    assert (await checker.verify_entry(first["id"], latest.checkpoint)).ok


async def test_a_kept_idempotent_answer_no_longer_shows_the_value(api: Api) -> None:
    key = {"idempotency-key": '"erase-me-later"'}
    first = await api.call("POST", "/entries", json=personal(), headers=key)
    assert first.status_code == 201
    assert (await erase(api, first.json()["id"], ["metadata.phone"])).status_code == 200
    replay = await api.call("POST", "/entries", json=personal(), headers=key)
    assert replay.status_code == 201
    assert replay.json()["id"] == first.json()["id"]
    assert PHONE not in replay.text
    assert replay.json()["erased"] == ["metadata.phone"]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        (["action"], "fields[0]"),
        (["actor.id"], "fields[0]"),
        (["occurred_at"], "fields[0]"),
        (["target.id"], "fields[0]"),
        (["actor.email"], "fields[0]"),
        (["metadata"], "fields[0]"),
        ([7], "fields[0]"),
        (["actor.name", "nope"], "fields[1]"),
        ([], "fields"),
        ("actor.name", "fields"),
        (["metadata.fax"], "fields"),  # no revision holds it
    ],
)
async def test_unknown_or_required_fields_are_a_422_that_erases_nothing(
    api: Api, fields: Any, named: str
) -> None:
    first = await api.record(personal())
    assert named in error_fields(await erase(api, first["id"], fields))
    assert (await api.call("GET", f"/entries/{first['id']}")).json() == first


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"fields": ["actor.name"]}, "reason"),
        ({"fields": ["actor.name"], "reason": " "}, "reason"),
        ({"fields": ["actor.name"], "reason": REASON, "values": True}, "values"),
    ],
)
async def test_a_body_without_a_reason_or_with_more_is_a_422(
    api: Api, body: dict[str, Any], named: str
) -> None:
    first = await api.record(personal())
    response = await api.call("POST", f"/entries/{first['id']}/erase", json=body, scopes=ERASER)
    assert named in error_fields(response)


async def test_erasure_needs_the_erase_scope_and_the_tenants_own_entry(api: Api) -> None:
    first = await api.record(personal())
    body = {"fields": ["actor.name"], "reason": REASON}
    path = f"/entries/{first['id']}/erase"
    problem(await api.call("POST", path, json=body), 403)  # read, write and admin: not erase
    problem(await api.call("POST", path, json=body, scopes=ERASER, tenant="other"), 404)
    problem(
        await api.call(
            "POST", "/entries/01ARZ3NDEKTSV4RRFFQ69G5FAV/erase", json=body, scopes=ERASER
        ),
        404,
    )
    problem(await api.call("POST", path, json=body, anonymous=True), 401)
    assert (await api.call("GET", f"/entries/{first['id']}")).json() == first


async def test_a_deleted_entry_can_be_erased_too(api: Api) -> None:
    first = await api.record(personal())
    assert (await api.call("DELETE", f"/entries/{first['id']}")).status_code == 204
    receipt = (await erase(api, first["id"], ["metadata.phone"])).json()
    assert receipt["revisions"] == [1, 2]
    history = await api.items(f"/entries/{first['id']}/history")
    assert all(PHONE not in json.dumps(revision) for revision in history)


async def test_a_query_proof_after_erasure_verifies_and_shows_the_erased_entry(api: Api) -> None:
    first = await api.record(personal())
    await api.record(personal(actor={"id": "u-42", "name": "Someone"}, metadata={}))
    params = {"actor_id": "u-42"}
    before = await api.call("GET", "/entries", params={**params, "proof": "1"})
    assert before.status_code == 200  # the index holds both, with their values
    assert (await erase(api, first["id"], ["metadata.phone", "actor.name"])).status_code == 200

    response = await api.call("GET", "/entries", params={**params, "proof": "1"})
    assert response.status_code == 200, response.text
    assert PHONE not in response.text
    assert NAME not in response.text
    filters = parse_query({name: [value] for name, value in params.items()}).filters
    result = check_query_proof(response.json(), await api.vkey(), filters)
    assert result.failures == ()
    shown = {e["id"]: e for e in result.entries}
    assert shown[first["id"]]["erased"] == ["actor.name", "metadata.phone"]
    assert len(shown) == 2


async def test_an_entry_under_legal_hold_is_not_erased_and_the_409_names_the_hold(
    api: Api,
) -> None:
    held = await api.record(personal())
    body = {"filter": {"actor_id": "u-42"}, "reason": "litigation 2026-17"}
    hold = await api.call("POST", "/holds", json=body)
    assert hold.status_code == 201, hold.text
    refused = problem(await erase(api, held["id"], ["metadata.phone"]), 409)
    assert refused["hold_id"] == hold.json()["id"]
    assert refused["hold_id"] in refused["detail"]
    assert (await api.call("GET", f"/entries/{held['id']}")).json() == held
    released = await api.call("DELETE", f"/holds/{hold.json()['id']}")
    assert released.status_code == 200
    assert (await erase(api, held["id"], ["metadata.phone"])).status_code == 200


async def test_an_export_after_erasure_shows_the_erased_fields_and_verifies_offline(
    api: Api,
) -> None:
    first = await api.record(personal())
    assert (await erase(api, first["id"], ["metadata.phone", "actor.name"])).status_code == 200
    csv_text = (await api.call("GET", "/entries/export", params={"format": "csv"})).text
    assert PHONE not in csv_text
    assert NAME not in csv_text
    assert "actor.name metadata.phone" in csv_text
    lines = (await api.call("GET", "/entries/export")).text.splitlines()
    assert PHONE not in "".join(lines)
    assert independent.verify_export(lines, await api.vkey()) == 1
