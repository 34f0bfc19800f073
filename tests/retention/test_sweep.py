"""A sweep purges the entries whose current revision is older than the tenant's
retention, keeps the young and the held ones, records a purge leaf, and leaves a log
whose proofs (entry proofs, query proofs, the full audit) still verify."""

from __future__ import annotations

import json
import unittest.mock
from typing import Any

import pytest

from audit_trail.core.retention.purge_leaf import parse_purge_leaf
from audit_trail.core.retention.sweeper import RetentionSweeper
from audit_trail.verify.query import verify_query
from tests.api.client import BASE
from tests.retention.conftest import ManualClock, resolved, sweeper_of
from tests.unit.verify_support import Service

TENANT = "acme"


def actor(actor_id: str) -> dict[str, str]:
    return {"id": actor_id, "type": "user", "name": "Ada"}


async def admin(service: Service, method: str, path: str, **kwargs: Any) -> Any:
    response = await service.http.request(
        method, BASE + path, headers={"authorization": f"Bearer {service.token()}"}, **kwargs
    )
    assert response.status_code < 300, response.text
    return response.json()


async def status_of(service: Service, entry_id: str) -> int:
    response = await service.http.get(
        f"{BASE}/entries/{entry_id}", headers={"authorization": f"Bearer {service.token()}"}
    )
    return response.status_code


async def history(service: Service) -> dict[str, list[str]]:
    """Old entries (some held, one deleted, one amended), then young ones."""
    old = [(await service.record(actor=actor(f"u-{i}")))["id"] for i in range(4)]
    held = [(await service.record(actor=actor("u-held"), tags=["case-7"]))["id"] for _ in range(2)]
    deleted = (await service.record(actor=actor("u-9")))["id"]
    await service.delete(deleted)
    amended = (await service.record(actor=actor("u-8")))["id"]
    clock = service.container.clock()
    assert isinstance(clock, ManualClock)
    clock.advance(days=6)
    await service.amend(amended, actor=actor("u-8"), action="document.read")  # young now
    clock.advance(days=4)
    young = [(await service.record(actor=actor(f"u-{i}")))["id"] for i in range(2)]
    return {"old": [*old, deleted], "held": held, "young": [*young, amended]}


async def test_a_sweep_purges_old_entries_and_keeps_young_and_held_ones(app: Service) -> None:
    ids = await history(app)
    await admin(app, "PUT", "/tenant/retention", json={"days": 5})
    hold = await admin(
        app, "POST", "/holds", json={"filter": {"actor_id": "u-held"}, "reason": "case 7"}
    )
    result = await (await sweeper_of(app)).sweep(TENANT)

    assert (result.purged, result.held, result.batches) == (5, 2, 1)
    for entry_id in ids["old"]:
        assert await status_of(app, entry_id) == 404
    for entry_id in ids["held"] + ids["young"]:
        assert await status_of(app, entry_id) == 200
    storage = await app.storage()
    for entry_id in ids["old"]:  # every revision gone from storage, not only hidden
        assert await storage.history(TENANT, entry_id) == []
        assert await storage.revision(TENANT, entry_id, 1) is None

    # the purge leaf lists exactly the purged entries, after their tombstones
    (at,) = result.purge_leaves
    leaves = await admin(app, "GET", f"/log/leaves?start={at}&end={at + 1}")
    purge = parse_purge_leaf(leaves["leaves"][0]["leaf"])
    assert purge.ids == tuple(sorted(ids["old"]))
    assert purge.recorded_by == "system:retention"

    # a second sweep finds nothing more; releasing the hold lets the next one purge
    assert (await (await sweeper_of(app)).sweep(TENANT)).purged == 0
    await admin(app, "DELETE", f"/holds/{hold['id']}")
    assert (await (await sweeper_of(app)).sweep(TENANT)).purged == 2


async def test_the_log_and_every_remaining_proof_verify_after_a_purge(app: Service) -> None:
    ids = await history(app)
    await app.query(actor_id="u-1")  # the query index holds them before the purge
    await admin(app, "PUT", "/tenant/retention", json={"days": 5})
    await admin(app, "POST", "/holds", json={"filter": {"tag": "case-7"}, "reason": "case 7"})
    await (await sweeper_of(app)).sweep(TENANT)

    verifier = await app.verifier()
    latest = await verifier.latest_checkpoint()
    assert latest.checkpoint is not None, latest.failures
    for entry_id in ids["held"] + ids["young"]:
        result = await verifier.verify_entry(entry_id, latest.checkpoint)
        assert result.ok, result.failures
    # query proofs over ranges that held purged entries: those are expected absent
    hour = {"since": "2026-11-28T09:00:00Z", "until": "2026-11-28T10:00:00Z"}
    for params in ({"actor_id": "u-1"}, {"actor_id": "u-9"}, hour):
        answer = await verify_query(verifier.service, await app.vkey(), latest.checkpoint, params)
        assert not answer.failures, answer.failures
        shown = {e["id"] for e in answer.entries}
        assert not shown & set(ids["old"])
        if params == {"actor_id": "u-1"}:
            assert shown == {ids["young"][1]}

    audit = await verifier.full_audit(latest.checkpoint)
    assert audit.failures == (), audit.failures
    # what a full audit cannot check after a purge, and says so (docs/query-proofs.md)
    assert audit.unchecked, "the index leaves over purged revisions are reported"
    for item in audit.unchecked:
        assert "purged by retention at leaf" in item.reason, item


async def test_without_a_retention_nothing_is_purged(app: Service) -> None:
    ids = await history(app)
    sweeper = await sweeper_of(app)
    assert await sweeper.tenants() == []
    assert (await sweeper.sweep(TENANT)).purged == 0
    await admin(app, "PUT", "/tenant/retention", json={"days": None})
    assert (await sweeper.sweep(TENANT)).purged == 0
    for entry_id in ids["old"][:-1]:
        assert await status_of(app, entry_id) == 200


async def test_an_interrupted_purge_is_finished_by_the_next_sweep(app: Service) -> None:
    """The commit (tombstones + purge leaf) landed, the deletion did not: the next sweep
    deletes what the purge leaf lists, and nothing held."""
    ids = await history(app)
    await admin(app, "PUT", "/tenant/retention", json={"days": 5})
    sweeper = await sweeper_of(app)
    storage = await app.storage()

    async def crash(tenant: str, entry_ids: Any) -> int:
        raise RuntimeError("killed before the delete")

    with (
        unittest.mock.patch.object(sweeper._store, "purge", crash),
        pytest.raises(RuntimeError),
    ):
        await sweeper.sweep(TENANT)
    for entry_id in ids["old"]:
        assert await status_of(app, entry_id) == 404  # tombstoned
    await admin(app, "POST", "/holds", json={"filter": {"actor_id": "u-1"}, "reason": "late"})
    result = await sweeper.sweep(TENANT)
    # the six it tombstoned, but u-1's (a hold came before the delete), are deleted now;
    # the entry a user had deleted got no tombstone: it is listed again, and purged
    assert (result.finished, result.purged, result.batches) == (5, 6, 1)
    held = ids["old"][1]
    assert await storage.history(TENANT, held) != []
    purged = [i for i in ids["old"] + ids["held"] if i != held]
    for entry_id in purged:
        assert await storage.history(TENANT, entry_id) == []
    size = await storage.size(TENANT)
    leaves = await admin(app, "GET", f"/log/leaves?start=0&end={size}")
    listed = [set(x["leaf"]["ids"]) for x in leaves["leaves"] if x["leaf"]["kind"] == "purge"]
    assert len(listed) == 2, json.dumps(listed)
    assert set(purged) <= listed[0] | listed[1]
    assert held in listed[0]  # listed (tombstoned), but its data kept while held


async def test_held_leftovers_of_an_interrupted_purge_do_not_block_the_others(
    app: Service,
) -> None:
    ids = await history(app)
    await admin(app, "PUT", "/tenant/retention", json={"days": 5})
    sweeper = await sweeper_of(app)

    async def crash(tenant: str, entry_ids: Any) -> int:
        raise RuntimeError("killed before the delete")

    with (
        unittest.mock.patch.object(sweeper._store, "purge", crash),
        pytest.raises(RuntimeError),
    ):
        await sweeper.sweep(TENANT)
    # the first two in the order the sweeper reads them are held now
    leftovers = sorted(ids["old"][:4] + ids["held"])
    storage = await app.storage()
    first_two = [await storage.revision(TENANT, i) for i in leftovers[:2]]
    for entry in first_two:
        hold = {"filter": {"actor_id": entry.actor.id}, "reason": "late"}
        await admin(app, "POST", "/holds", json=hold)
    held_ids = {
        i
        for i in leftovers
        if (await storage.revision(TENANT, i)).actor.id in {e.actor.id for e in first_two}
    }
    small = RetentionSweeper(
        storage.retention(),
        storage,
        await resolved(app.container.committer()),
        storage.legal_holds(),
        await resolved(app.container.index_integrator()),
        await resolved(app.container.cache()),
        app.container.clock(),
        batch=2,
    )
    assert await small.finish(TENANT) == len(leftovers) - len(held_ids)
    for entry_id in leftovers:
        assert (await storage.history(TENANT, entry_id) != []) == (entry_id in held_ids)


@pytest.mark.parametrize("app", ["memory", "sqlite"], indirect=True)
async def test_a_purge_checks_the_holds_in_the_same_step_as_its_delete(app: Service) -> None:
    """Where storage can (memory, SQLite), a hold placed after the sweeper's last check
    still saves its entries: the delete itself leaves them out."""
    ids = await history(app)
    await admin(app, "POST", "/holds", json={"filter": {"tag": "case-7"}, "reason": "late"})
    storage = await app.storage()
    assert await storage.retention().purge(TENANT, ids["held"] + ids["old"][:1]) == 1
    for entry_id in ids["held"]:
        assert await storage.history(TENANT, entry_id) != []
    assert await storage.history(TENANT, ids["old"][0]) == []
