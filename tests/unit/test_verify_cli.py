"""``audit-trail verify`` and ``audit-trail log-key`` against in-process apps."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit_trail.adapters.signing import Ed25519NoteSigner
from audit_trail.entrypoints import verify_cli
from audit_trail.entrypoints.cli import build_parser, main
from audit_trail.verify.evidence import signed_checkpoint
from audit_trail.verify.query import verify_query
from tests.unit.verify_support import ORIGIN, Service, Services


class Run:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    @property
    def failures(self) -> list[str]:
        return [line for line in self.out.splitlines() if line.startswith("FAIL ")]


async def verify(service: Service, state: Path, *extra: str) -> Run:
    args = build_parser().parse_args(
        ["verify", "--url", "http://api", "--token", service.token(), "--state", str(state), *extra]
    )
    out, err = io.StringIO(), io.StringIO()
    code = await verify_cli.run_verify(
        args, transport=service.transport, out=out, err=err, settle_seconds=0
    )
    return Run(code, out.getvalue(), err.getvalue())


async def test_first_run_trusts_loudly_and_saves_what_it_verified(
    service: Service, tmp_path: Path
) -> None:
    recorded = await service.record()
    state = tmp_path / "state" / "verify.json"
    run = await verify(service, state, "--entry", recorded["id"], "--full")
    assert run.code == 0, run.out
    assert "TRUST ON FIRST USE" in run.err
    assert await service.vkey() in run.err
    assert run.out.splitlines() == [
        f"verified: checkpoint {ORIGIN}/acme tree size 1; entry {recorded['id']}: 1 revision(s); "
        "full audit: 1 leaves, 1 live entries"
    ]
    assert "leaves: 1/1" in run.err  # not a terminal: plain progress lines
    saved = json.loads(state.read_text())
    assert saved["keys"] == {"http://api": await service.vkey()}
    assert saved["checkpoints"][f"{ORIGIN}/acme"]["size"] == 1
    assert os.stat(state).st_mode & 0o777 == 0o600

    await service.record()
    again = await verify(service, state)
    assert again.code == 0, again.out
    assert "TRUST ON FIRST USE" not in again.err
    assert again.out.strip().endswith("tree size 2, consistent with size 1")


async def test_a_tampered_entry_is_one_failure_line_and_exit_1(
    service: Service, tmp_path: Path
) -> None:
    recorded = await service.record()

    def change(request: httpx.Request, body: dict[str, Any]) -> dict[str, Any]:
        if "entry" in body:
            body["entry"]["action"] = "nothing.happened"
        return body

    service.transport.edits["/proof"] = change
    run = await verify(service, tmp_path / "state.json", "--entry", recorded["id"])
    assert run.code == 1
    assert run.failures == [
        f"FAIL entry {recorded['id']} revision 1: the leaf does not commit the entry as served: "
        "fields.action"
    ]


async def test_a_rollback_after_a_saved_checkpoint_fails(
    services: Services, tmp_path: Path
) -> None:
    honest, rolled_back = await services.start(), await services.start()
    for _ in range(3):
        await honest.record()
    await rolled_back.record()
    state = tmp_path / "state.json"
    assert (await verify(honest, state)).code == 0
    run = await verify(rolled_back, state)
    assert run.code == 1
    assert run.failures == [
        "FAIL tree size 1: the log shrank from the 3 leaves of a checkpoint verified before "
        "(a rollback, or a fork of the log)"
    ]
    assert json.loads(state.read_text())["checkpoints"][f"{ORIGIN}/acme"]["size"] == 3


async def test_a_vkey_that_did_not_sign_fails_and_a_malformed_one_is_a_usage_error(
    service: Service, tmp_path: Path
) -> None:
    await service.record()
    name = (await service.vkey()).split("+", 1)[0]
    other = Ed25519NoteSigner(name, Ed25519PrivateKey.generate()).vkey
    run = await verify(service, tmp_path / "state.json", "--vkey", other)
    assert run.code == 1
    assert [line.split(":")[0] for line in run.failures] == ["FAIL key", "FAIL checkpoint"]
    assert not (tmp_path / "state.json").exists()
    bad = await verify(service, tmp_path / "state.json", "--vkey", "not-a-vkey")
    assert (bad.code, bad.err.strip()) == (
        2,
        "audit-trail: a verifier key is <name>+<key id>+<key>",
    )


async def test_log_key_prints_the_key_the_service_serves(
    service: Service,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in list(os.environ):
        if name.startswith("AUDIT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AUDIT_LOG_SIGNING_KEY_FILE", str(tmp_path / "log-signing-key"))
    monkeypatch.setenv("AUDIT_LOG_ORIGIN", ORIGIN)
    assert main(["log-key"]) == 0
    assert capsys.readouterr().out == await service.vkey() + "\n"

    code = await verify_cli._fetch_log_key("http://api", transport=service.transport)
    assert (code, capsys.readouterr().out) == (0, await service.vkey() + "\n")


async def test_verify_query_prints_the_proven_entries_and_names_a_hidden_one(
    service: Service, tmp_path: Path
) -> None:
    kept = await service.record(actor={"id": "u-42"})
    hidden = await service.record(actor={"id": "u-42"})
    await service.record(actor={"id": "u-7"})
    state = tmp_path / "verify.json"
    run = await verify(service, state, "query", "--actor-id", "u-42", "--format", "ndjson")
    assert run.code == 0, run.out
    printed = [json.loads(line) for line in run.out.splitlines() if line.startswith("{")]
    assert {entry["id"] for entry in printed} == {kept["id"], hidden["id"]}
    assert run.out.splitlines()[-1].endswith("query: 2 entries, complete as of log size 3")

    def hide(request: httpx.Request, body: Any) -> Any:
        if "proof" in request.url.params:
            body["entries"] = [e for e in body["entries"] if e["entry"]["id"] != hidden["id"]]
        return body

    service.transport.edits["/entries"] = hide
    run = await verify(service, state, "query", "--actor-id", "u-42")
    assert run.code == 1
    assert run.failures == [f"FAIL entry {hidden['id']}: missing: revision 1 is current"]


async def test_verify_query_refuses_a_query_it_cannot_prove(
    service: Service, tmp_path: Path
) -> None:
    await service.record()
    run = await verify(service, tmp_path / "verify.json", "query", "--action", "document.*")
    assert run.code == 1
    assert len(run.failures) == 1
    assert "actor_id, target_type with target_id" in run.failures[0]


async def test_verify_query_follows_every_page_and_names_a_walk_cut_short(
    service: Service,
) -> None:
    ids = sorted([(await service.record(actor={"id": "u-42"}))["id"] for _ in range(3)])
    client, vkey = service.reader(), await service.vkey()
    trusted = signed_checkpoint(await client.checkpoint(), vkey)
    asked: list[str | None] = []

    def count(request: httpx.Request, body: Any) -> Any:
        if "proof" in request.url.params:
            asked.append(request.url.params.get("cursor"))
        return body

    service.transport.edits["/entries"] = count
    params = {"actor_id": "u-42", "limit": "1"}
    result = await verify_query(client, vkey, trusted, params)
    assert result.failures == ()
    assert sorted(entry["id"] for entry in result.entries) == ids
    assert len(asked) == 3
    assert asked[0] is None
    assert all(asked[1:])

    def cut(request: httpx.Request, body: Any) -> Any:
        if request.url.params.get("cursor"):
            body["next_cursor"] = None  # "this page is the last"
        return body

    service.transport.edits["/entries"] = cut
    result = await verify_query(client, vkey, trusted, params)
    assert [str(f) for f in result.failures] == [
        "bucket actor 'u-42' all: the walk ends at 2 of its 3 postings"
    ]
