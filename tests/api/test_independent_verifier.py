"""Every proof, checkpoint and consistency proof the API hands out is accepted by a
verifier written from DESIGN.md alone (tests/independent_verifier.py), on every app and
backend of the API suite."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from tests import independent_verifier as independent
from tests.api.client import Api, entry
from tests.api.test_erase import ERASER


async def get(api: Api, path: str, **params: Any) -> Any:
    response = await api.call("GET", path, params=params)
    assert response.status_code == 200, response.text
    return response.json() if "json" in response.headers["content-type"] else response.text


async def history_of_changes(api: Api) -> list[str]:
    """Records (one at a time and in a batch), amendments and deletions, with field
    values of every JSON kind; the ids of the entries touched."""
    first = await api.record(entry(metadata={"n": 1.5, "big": 2**53 - 1, "deep": {"a": [1, {}]}}))
    second = await api.record(
        entry(actor={"id": "u-7"}, target=None, tags=[], metadata={"é": "ü", "\U0001f600": "x"})
    )
    batch = {"entries": [entry(action=f"batch.{n}", metadata={"i": n}) for n in range(3)]}
    response = await api.call("POST", "/entries/batch", json=batch)
    assert response.status_code == 201, response.text
    batched = [item["id"] for item in response.json()["items"]]
    for n in range(2):
        amended = entry(action=f"document.amend{n}", metadata={"round": n, "f": -0.0001})
        assert (await api.call("PUT", f"/entries/{first['id']}", json=amended)).status_code == 200
    assert (await api.call("DELETE", f"/entries/{second['id']}")).status_code == 204
    assert (await api.call("DELETE", f"/entries/{batched[1]}")).status_code == 204
    return [first["id"], second["id"], *batched]


async def test_every_proof_and_checkpoint_verifies_independently(api: Api) -> None:
    ids = await history_of_changes(api)
    vkey = (await api.call("GET", "/log/key", anonymous=True)).json()["vkey"]
    checkpoints: dict[int, bytes] = {}
    origins = set()

    latest = independent.verify_checkpoint(await get(api, "/log/checkpoint"), vkey)
    for entry_id in ids:
        revisions = await api.items(f"/entries/{entry_id}/history")
        previous_hash: bytes | None = None
        for revision in revisions:
            sizes = (None, latest[1])
            for tree_size in sizes:
                params = {"revision": revision["revision"]}
                if tree_size is not None:
                    params["tree_size"] = tree_size
                proof = await get(api, f"/entries/{entry_id}/proof", **params)
                assert proof["entry"] == revision
                origin, size, root, digest = independent.verify_proof(proof, vkey)
                origins.add(origin)
                checkpoints[size] = root
            if previous_hash is not None:
                assert independent.b64d(proof["leaf"]["prev"]) == previous_hash
            previous_hash = digest
            # the same revision in the smallest tree that holds it
            smallest = await get(
                api,
                f"/entries/{entry_id}/proof",
                revision=revision["revision"],
                tree_size=proof["leaf_index"] + 1,
            )
            _, size, root, _ = independent.verify_proof(smallest, vkey)
            checkpoints[size] = root
    assert origins == {latest[0]}

    for first, second in itertools.combinations(sorted(checkpoints), 2):
        body = await get(api, "/log/consistency", first=first, second=second)
        proof = [independent.b64d(h) for h in body["proof"]]
        independent.verify_consistency(
            first, second, proof, checkpoints[first], checkpoints[second]
        )

    size = latest[1]
    leaves = (await get(api, "/log/leaves", start=0, end=size))["leaves"]
    assert [item["index"] for item in leaves] == list(range(size))
    hashes = [independent.leaf_hash(independent.jcs(item["leaf"])) for item in leaves]
    assert independent.mth(hashes) == latest[2]
    assert {size: independent.mth(hashes[:size]) for size in checkpoints} == checkpoints


async def test_the_independent_verifier_refuses_a_changed_value(api: Api) -> None:
    stored = await api.record()
    vkey = (await api.call("GET", "/log/key", anonymous=True)).json()["vkey"]
    proof = await get(api, f"/entries/{stored['id']}/proof")
    independent.verify_proof(proof, vkey)
    proof["entry"]["metadata"]["old"] = "forged"
    with pytest.raises(independent.Invalid, match="the leaf does not commit the entry"):
        independent.verify_proof(proof, vkey)


async def test_a_metadata_value_of_null_is_committed(api: Api) -> None:
    stored = await api.record(entry(metadata={"reason": None}))
    vkey = (await api.call("GET", "/log/key", anonymous=True)).json()["vkey"]
    independent.verify_proof(await get(api, f"/entries/{stored['id']}/proof"), vkey)


async def test_an_erased_entry_verifies_independently_and_its_digests_cannot_be_moved(
    api: Api,
) -> None:
    stored = await api.record(entry(metadata={"phone": "+44 20 7946 0958", "f": 1}))
    path = f"/entries/{stored['id']}"
    assert (await api.call("PUT", path, json=entry(tags=["x"]))).status_code == 200
    body = {"fields": ["metadata.phone", "actor.name", "tags"], "reason": "GDPR art. 17"}
    erased = await api.call("POST", f"{path}/erase", json=body, scopes=ERASER)
    assert erased.status_code == 200, erased.text
    vkey = (await api.call("GET", "/log/key", anonymous=True)).json()["vkey"]
    for revision in (1, 2):
        proof = await get(api, f"{path}/proof", revision=revision)
        assert "7946 0958" not in json.dumps(proof)  # "+44" alone occurs in base64
        independent.verify_proof(proof, vkey)
    proof = await get(api, f"{path}/proof", revision=1)
    proof["entry"]["erased"] = ["actor.name", "metadata.f", "metadata.phone", "tags"]
    del proof["entry"]["metadata"]["f"]  # a shown value passed off as erased
    with pytest.raises(independent.Invalid):
        independent.verify_proof(proof, vkey)


async def test_an_export_verifies_independently_and_a_dropped_line_does_not(api: Api) -> None:
    await history_of_changes(api)
    vkey = (await api.call("GET", "/log/key", anonymous=True)).json()["vkey"]
    lines = (await api.call("GET", "/entries/export")).text.splitlines()
    assert independent.verify_export(lines, vkey) == len(lines) - 1 == 3
    trailer = json.loads(lines[-1])
    trailer["trailer"]["count"] -= 1
    with pytest.raises(independent.Invalid, match="do not give the checkpoint's root"):
        independent.verify_export([*lines[1:-1], json.dumps(trailer)], vkey)
    with pytest.raises(independent.Invalid, match="the last line is not the trailer"):
        independent.verify_export(lines[:-1], vkey)
