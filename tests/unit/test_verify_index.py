"""The full audit's derivation check of the query index, against in-process apps: an
honest index derives from the log; a map rewritten consistently (query proofs still
verify) or a forged index leaf is caught, naming the index leaf; a revision this
reader cannot read leaves the index leaves after it not checked, and says so."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx

from audit_trail.core.index.integrate import TenantMap
from audit_trail.core.index.keys import ALL_TIME, IndexKey, IndexKind
from audit_trail.core.index.leaf import index_leaf, parse_index_leaf
from audit_trail.core.index.map import MapValue
from audit_trail.core.index.map_update import update_map
from audit_trail.core.index.postings import unpack_posting
from audit_trail.core.integrity import CompactRange, leaf_hash
from audit_trail.core.ports.index import IndexHead, PostingHead
from audit_trail.core.ports.log import LogRecord
from audit_trail.core.query import parse_query
from audit_trail.entrypoints import verify_cli
from audit_trail.entrypoints.cli import build_parser
from audit_trail.verify import AuditResult
from audit_trail.verify.query import check_query_proof
from tests.unit.verify_support import Service, Services

TENANT = "acme"


def actor(actor_id: str) -> dict[str, str]:
    return {"id": actor_id, "type": "user", "name": "Ada"}


async def honest_history(service: Service) -> dict[str, str]:
    """Records, amendments of every indexed field, deletions, an entry without a
    target, late entries; returns some ids."""
    first = await service.record(actor=actor("u-1"), occurred_at="2026-11-28T09:30:00.123Z")
    await service.record(actor=actor("u-2"), target=None)
    await service.amend(first["id"], actor=actor("u-2"), action="document.read")
    late = await service.record(actor=actor("u-3"), occurred_at="2020-01-01T00:00:00.000Z")
    await service.amend(
        late["id"], target={"type": "folder", "id": "f-1"}, occurred_at="2021-06-01T12:00:00Z"
    )
    doomed = await service.record(actor=actor("u-1"))
    await service.amend(doomed["id"], action="document.delete")
    await service.delete(doomed["id"])
    await service.delete(late["id"])
    await service.record(actor=actor("u-4"), occurred_at="2019-03-05T14:07:09.250Z")
    return {"first": first["id"], "doomed": doomed["id"], "late": late["id"]}


async def full_audit(service: Service) -> AuditResult:
    verifier = await service.verifier()
    latest = await verifier.latest_checkpoint()
    assert latest.checkpoint is not None, latest.failures
    return await verifier.full_audit(latest.checkpoint)


def subjects(failures: Any) -> list[str]:
    return [str(f) for f in failures]


async def test_an_honest_index_derives_from_the_log(service: Service) -> None:
    await honest_history(service)
    answer = await service.query(actor_id="u-1")  # integrates the index, once
    assert answer["covers"] == 10
    audit = await full_audit(service)
    assert audit.ok, subjects(audit.failures) + subjects(audit.unchecked)
    assert audit.index_leaves == 1
    assert audit.unchecked == ()


async def test_an_index_integrated_on_every_write_derives_from_the_log(
    services: Services,
) -> None:
    service = await services.start(query_index_on_write=True)
    await honest_history(service)
    audit = await full_audit(service)
    assert audit.ok, subjects(audit.failures) + subjects(audit.unchecked)
    assert audit.index_leaves == 10  # one per write


async def test_a_log_without_index_leaves_has_nothing_to_derive(service: Service) -> None:
    await service.record()
    audit = await full_audit(service)
    assert audit.ok, subjects(audit.failures)
    assert audit.index_leaves == 0


async def commit_index_leaf(
    service: Service, covers: int, root: bytes, key: bytes | None = None
) -> int:
    """Append to the log an index leaf the service's integrator never made (what
    someone with write access to the database can do: the service signs its next
    checkpoint over it); under the tenant's index key unless ``key`` is given."""
    storage = await service.storage()
    key = key or await storage.query_index().index_key(TENANT)
    raw = index_leaf(TENANT, covers, root, key).to_bytes()
    (position,) = await storage.commit(TENANT, [[LogRecord(raw, leaf_hash(raw))]])
    assert isinstance(position, int)
    return position


async def test_a_forged_index_leaf_is_named(service: Service) -> None:
    await service.record(actor=actor("u-1"))
    await service.record(actor=actor("u-2"))
    answer = await service.query(actor_id="u-1")
    honest = answer["index"]["leaf_index"]
    # claims the map of both entries is already the map of the first leaf alone
    forged = await commit_index_leaf(service, 1, parse_index_leaf(answer["index"]["leaf"]).map_root)
    audit = await full_audit(service)
    assert [f.subject for f in audit.failures] == [f"index leaf {forged}"], subjects(audit.failures)
    assert "over the log's first 1 leaves" in audit.failures[0].reason
    assert honest != forged


async def test_an_index_leaf_under_another_index_key_is_named(service: Service) -> None:
    await service.record(actor=actor("u-1"))
    leaf = parse_index_leaf((await service.query(actor_id="u-1"))["index"]["leaf"])
    forged = await commit_index_leaf(service, leaf.covers, leaf.map_root, key=bytes(32))
    audit = await full_audit(service)
    assert subjects(audit.failures) == [
        f"index leaf {forged}: commits another index key than the one query proofs hand out"
    ]


async def hide_from_actor_bucket(service: Service, actor_id: str, entry_id: str) -> int:
    """Edit the database: drop ``entry_id``'s postings from ``actor_id``'s all-time
    posting log, set the map to the shorter log's size and root, and commit the new
    root in a signed index leaf, so that query proofs verify without the entry.
    Returns the forged index leaf's position."""
    storage = await service.storage()
    index = storage.query_index()
    head = await index.head(TENANT)
    key = await index.index_key(TENANT)
    map_key = IndexKey(IndexKind.ACTOR, actor_id, ALL_TIME).map_key(key)
    state = index._tenants[TENANT]  # the stored tables
    kept = [raw for raw in state.postings[map_key] if parse_posting_bytes(raw)["id"] != entry_id]
    assert len(kept) < len(state.postings[map_key])
    log = CompactRange.empty()
    log.append([unpack_posting(raw).hash() for raw in kept])
    state.postings[map_key] = kept
    state.posting_heads[map_key] = PostingHead(log.size, log.hashes)
    update = await update_map(
        TenantMap(index, TENANT), head.map_root, {map_key: MapValue(log.size, log.root())}
    )
    for node_id, node in update.nodes.items():
        if node is None:
            state.map_nodes.pop(node_id, None)
        else:
            state.map_nodes[node_id] = node
    position = await commit_index_leaf(service, head.covers, update.root)
    state.head = IndexHead(position + 1, update.root, position)
    return position


def parse_posting_bytes(raw: bytes) -> dict[str, Any]:
    return unpack_posting(raw).as_json()


async def test_a_posting_dropped_and_the_map_rewritten_to_match_is_named(
    service: Service,
) -> None:
    await service.record(actor=actor("u-1"))
    hidden = await service.record(actor=actor("u-2"), action="secret.read")
    shown = await service.record(actor=actor("u-2"))
    await service.query(actor_id="u-2")
    forged = await hide_from_actor_bucket(service, "u-2", hidden["id"])

    # a query proof alone cannot tell: it verifies, and the entry is not in it
    answer = await service.query(actor_id="u-2")
    assert answer["index"]["leaf_index"] == forged
    filters = parse_query({"actor_id": ["u-2"]}).filters
    result = check_query_proof(answer, await service.vkey(), filters)
    assert result.ok, subjects(result.failures)
    assert [e["id"] for e in result.entries] == [shown["id"]]

    # the full audit derives the map again from the log, and names the index leaf
    audit = await full_audit(service)
    assert [f.subject for f in audit.failures] == [f"index leaf {forged}"], subjects(audit.failures)
    assert "their revisions derive" in audit.failures[0].reason
    assert audit.unchecked == ()


async def test_a_revision_hidden_from_the_reader_leaves_later_index_leaves_unchecked(
    services: Services,
) -> None:
    service = await services.start(query_index_on_write=True)
    await service.record(actor=actor("u-1"))  # leaf 0, its index leaf 1
    secret = await service.record(actor=actor("u-secret"))  # leaf 2, its index leaf 3
    before, after = 1, 3

    def hide(request: httpx.Request, proof: dict[str, Any]) -> dict[str, Any]:
        if proof["entry"]["id"] == secret["id"]:  # as to a reader who may not see the actor
            del proof["salts"]["actor.id"]
        return proof

    service.transport.edits["/proof"] = hide
    audit = await full_audit(service)
    assert audit.failures == (), subjects(audit.failures)
    assert not audit.ok
    assert [u.subject for u in audit.unchecked] == [f"index leaf {after}"]
    assert "shows actor.id to this reader only as digests" in audit.unchecked[0].reason
    assert audit.index_leaves == 2  # the one before the hidden revision is checked
    assert before < after


async def test_a_revision_the_service_no_longer_serves_leaves_later_index_leaves_unchecked(
    service: Service,
) -> None:
    gone = await service.record(actor=actor("u-1"))
    await service.delete(gone["id"])
    after = (await service.query(actor_id="u-1"))["index"]["leaf_index"]

    def refuse(request: httpx.Request, proof: dict[str, Any]) -> Any:
        if gone["id"] in request.url.path:  # as if deleted entries were purged
            return httpx.Response(404, json={"title": "Not Found", "status": 404})
        return proof

    service.transport.edits["/proof"] = refuse
    audit = await full_audit(service)
    assert audit.failures == (), subjects(audit.failures)
    assert [u.subject for u in audit.unchecked] == [f"index leaf {after}"]
    assert f"serves no proof of entry {gone['id']} revision 1" in audit.unchecked[0].reason


async def test_index_leaves_past_the_audited_checkpoint_are_not_checked(
    service: Service,
) -> None:
    await service.record(actor=actor("u-1"))
    await service.query(actor_id="u-1")
    verifier = await service.verifier()
    latest = await verifier.latest_checkpoint()
    assert latest.checkpoint is not None
    await service.record(actor=actor("u-2"))
    await commit_index_leaf(service, 0, bytes(32))  # wrong, but after the audited tree
    audit = await verifier.full_audit(latest.checkpoint)
    assert audit.ok, subjects(audit.failures)
    assert audit.index_leaves == 1


async def run_verify_full(service: Service, state: Path) -> tuple[int, str]:
    token = service.token()
    command = ["verify", "--url", "http://api", "--token", token, "--state", str(state), "--full"]
    args = build_parser().parse_args(command)
    out, err = io.StringIO(), io.StringIO()
    code = await verify_cli.run_verify(
        args, transport=service.transport, out=out, err=err, settle_seconds=0
    )
    return code, out.getvalue()


async def test_verify_full_names_the_forged_index_leaf(service: Service, tmp_path: Path) -> None:
    await service.record(actor=actor("u-1"))
    hidden = await service.record(actor=actor("u-2"))
    await service.query(actor_id="u-2")
    code, out = await run_verify_full(service, tmp_path / "state.json")
    assert (code, out.splitlines()[-1].split(";")[-1]) == (
        0,
        " full audit: 3 leaves, 2 live entries, 1 of 1 index leaves derived",
    ), out
    forged = await hide_from_actor_bucket(service, "u-2", hidden["id"])
    code, out = await run_verify_full(service, tmp_path / "state.json")
    assert code == 1
    assert [line.split(":")[0] for line in out.splitlines()] == [f"FAIL index leaf {forged}"]


async def test_verify_full_says_what_it_could_not_check(services: Services, tmp_path: Path) -> None:
    service = await services.start(query_index_on_write=True)
    secret = await service.record(actor=actor("u-secret"))  # leaf 0, its index leaf 1

    def hide(request: httpx.Request, proof: dict[str, Any]) -> dict[str, Any]:
        if proof["entry"]["id"] == secret["id"]:
            del proof["salts"]["actor.id"]
        return proof

    service.transport.edits["/proof"] = hide
    code, out = await run_verify_full(service, tmp_path / "state.json")
    assert code == verify_cli.INCOMPLETE, out
    lines = out.splitlines()
    assert lines[0].startswith("UNCHECKED index leaf 1: ")
    assert lines[-1].startswith("not verified in full: ")
    assert lines[-1].endswith("0 of 1 index leaves derived")
