"""Every query proof the API hands out is accepted by a verifier written from
docs/query-proofs.md alone (tests/independent_query_verifier.py), on every app and
backend, with the index built on read and on write; and the answers it accepts hold
exactly what the plain query returns."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from audit_trail.core.query import parse_query
from audit_trail.verify.query import check_query_pages
from tests import independent_query_verifier as independent
from tests.api.client import Api, entry


@pytest.fixture
async def api(indexed_api: Api) -> Api:
    return indexed_api


async def answer(api: Api, query: dict[str, str]) -> Any:
    response = await api.call("GET", "/entries", params={**query, "proof": "1"})
    assert response.status_code == 200, response.text
    return response.json()


async def walk(api: Api, query: dict[str, str], limit: int) -> list[Any]:
    """Every page of the answer, ``limit`` postings each, following next_cursor."""
    pages = [await answer(api, {**query, "limit": str(limit)})]
    while (cursor := pages[-1]["next_cursor"]) is not None:
        pages.append(await answer(api, {**query, "limit": str(limit), "cursor": cursor}))
    return pages


def at(day: int, time: str) -> str:
    return f"2026-11-{day:02d}T{time}Z"


D1 = {"type": "document", "id": "d-1"}
D2 = {"type": "document", "id": "d-2"}
U1, U2, U3 = ({"id": f"u-{n}", "type": "user"} for n in (1, 2, 3))
RECORDS: dict[str, dict[str, Any]] = {
    "moved-actor": {"actor": U1, "target": D1, "occurred_at": at(28, "09:00:00.000")},
    "other": {
        "actor": {"id": "u-2", "type": "service"},
        "target": D2,
        "occurred_at": at(28, "10:00:00.000"),
    },
    "moved-time": {
        "actor": U1,
        "action": "document.read",
        "target": D1,
        "outcome": "failure",
        "occurred_at": at(28, "11:15:00.000"),
    },
    "moved-target": {
        "actor": U1,
        "target": D2,
        "tags": ["api"],
        "occurred_at": at(28, "09:45:00.000"),
    },
    "away-and-back": {"actor": U1, "target": D1, "occurred_at": at(28, "08:05:00.000")},
    "doomed": {"actor": U1, "target": D1, "occurred_at": at(28, "09:10:00.000")},
    "untargeted": {
        "actor": U2,
        "target": None,
        "outcome": "denied",
        "occurred_at": at(28, "09:20:00.000"),
    },
}
AMENDMENTS: list[tuple[str, dict[str, Any]]] = [  # what each amendment changes
    ("moved-actor", {"actor": U3}),
    ("moved-time", {"action": "document.share", "occurred_at": at(29, "07:00:00.000")}),
    ("moved-target", {"target": D1}),
    ("away-and-back", {"actor": U2}),
    ("away-and-back", {"actor": U1}),
]


async def history(api: Api) -> dict[str, str]:
    """Records, amendments that move an entry to another actor, action, target or time
    (and one away and back again), a deletion and a late entry; the ids by name."""
    ids = {name: (await api.record(entry(**fields)))["id"] for name, fields in RECORDS.items()}
    for name, changes in AMENDMENTS:
        body = entry(**{**RECORDS[name], **changes})
        response = await api.call("PUT", f"/entries/{ids[name]}", json=body)
        assert response.status_code == 200, response.text
    assert (await api.call("DELETE", f"/entries/{ids['doomed']}")).status_code == 204
    late = entry(actor=U1, target=D2, occurred_at=at(1, "08:00:00.000"))
    ids["late"] = (await api.record(late))["id"]
    return ids


QUERIES: list[dict[str, str]] = [
    {"actor_id": "u-1"},
    {"actor_id": "u-1", "since": at(28, "00:00:00"), "until": at(29, "23:59:59.999")},
    {"actor_id": "u-1", "since": at(28, "09:00:00"), "until": at(28, "09:59:59")},
    {"actor_id": "u-1", "since": at(28, "09:00:00")},  # half a range: the `all` bucket
    {"actor_id": "u-3", "since": at(1, "00:00:00"), "until": at(30, "00:00:00")},
    {"actor_id": "u-1", "since": "2026-01-01T00:00:00Z", "until": at(30, "00:00:00")},
    {"actor_id": "u-1", "outcome": "failure"},
    {"actor_id": "u-1", "action": "document.*", "tag": "api"},
    {"actor_id": "u-2", "sort": "occurred_at"},
    {"actor_id": "nobody"},
    {"target_type": "document", "target_id": "d-1"},
    {
        "target_type": "document",
        "target_id": "d-2",
        "since": at(1, "00:00:00"),
        "until": at(28, "23:00:00"),
    },
    {"target_type": "document", "target_id": "d-1", "actor_type": "user", "outcome": "success"},
    {"action": "document.update"},
    {"action": "document.share", "since": at(29, "06:00:00"), "until": at(29, "08:00:00")},
    {"action": "document.read"},
    {"since": at(28, "08:00:00"), "until": at(28, "11:59:59")},
    {"since": at(28, "09:05:00"), "until": at(28, "09:30:00")},
    {
        "since": "2026-11-28T10:05:00+01:00",
        "until": "2026-11-28T10:30:00+01:00",
        "outcome": "denied",
    },
    {"since": at(28, "08:00:00"), "until": at(28, "12:00:00"), "tag": "api", "sort": "occurred_at"},
    {"since": "1970-01-01T00:00:00Z", "until": "1970-01-01T00:59:59Z"},
]


async def test_every_query_proof_verifies_independently_to_the_plain_answer(api: Api) -> None:
    ids = await history(api)
    key = await api.vkey()
    for query in QUERIES:
        plain = [item["id"] for item in await api.items("/entries", params=query)]
        verified = independent.verify_query_proof(await answer(api, query), key, query)
        assert verified == plain, query
    names = {entry_id: name for name, entry_id in ids.items()}

    async def named(query: dict[str, str]) -> list[str]:
        return [
            names[i] for i in independent.verify_query_proof(await answer(api, query), key, query)
        ]

    assert await named({"actor_id": "u-1"}) == [
        "moved-time",
        "moved-target",
        "away-and-back",
        "late",
    ]
    assert await named({"actor_id": "u-3"}) == ["moved-actor"]
    assert await named({"target_type": "document", "target_id": "d-2"}) == ["other", "late"]
    assert await named({"action": "document.share"}) == ["moved-time"]
    assert await named({"action": "document.read"}) == []


async def test_the_plan_is_the_verifiers_own(api: Api) -> None:
    await history(api)
    query = {"actor_id": "u-1", "since": at(27, "12:00:00"), "until": at(29, "00:00:00")}
    body = await answer(api, query)
    assert [(b["kind"], b["value"], b["bucket"]) for b in body["buckets"]] == [
        ("actor", "u-1", "2026-11-27"),
        ("actor", "u-1", "2026-11-28"),
        ("actor", "u-1", "2026-11-29"),
    ]
    assert [b.bucket for b in independent.plan(query)] == [b["bucket"] for b in body["buckets"]]
    body["buckets"].pop(0)  # an empty bucket left out is still a bucket left out
    with pytest.raises(independent.Invalid, match="are not the plan's"):
        independent.verify_query_proof(body, await api.vkey(), query)


PLAN_EDGES: list[dict[str, str]] = [
    {"since": "2026-11-28T00:30:00Z", "until": "2026-11-30T15:10:00Z"},  # 64 hours touched
    {"since": "2026-11-28T00:30:00Z", "until": "2026-11-30T16:10:00Z"},  # 65: refused
    {"since": "2026-11-28T00:00:00Z", "until": "2026-11-30T16:00:00Z"},  # 65, 64 h apart
    {"since": "2026-11-28T10:30:00+02:00", "until": "2026-11-28T11:00:00+02:00"},
    {"since": "2026-11-28T00:00:00Z"},  # a bare range needs both bounds
    {"action": "document.update", "since": "2026-11-28T00:30:00Z", "until": "2026-11-30T15:10:00Z"},
    {"action": "document.update", "since": "2026-11-28T00:30:00Z", "until": "2026-11-30T16:10:00Z"},
    {"actor_id": "u-1", "since": "2026-10-01T00:00:00Z", "until": "2026-12-03T23:00:00Z"},
    {"actor_id": "u-1", "since": "2026-10-01T00:00:00Z", "until": "2026-12-04T00:00:00Z"},
    {"actor_id": "u-1", "until": "2026-11-28T00:00:00Z"},
    {"target_type": "document", "action": "document.update"},  # through the action
    {"target_type": "document"},  # nothing to prove it through
    {"action": "document.*"},
]


async def test_the_plan_agrees_with_the_service_at_its_edges(api: Api) -> None:
    await api.record()
    for query in PLAN_EDGES:
        response = await api.call("GET", "/entries", params={**query, "proof": "1"})
        if response.status_code == 422:
            with pytest.raises(independent.Invalid, match="nothing proves this query"):
                independent.plan(query)
            continue
        assert response.status_code == 200, response.text
        served = [(b["kind"], b["value"], b["bucket"]) for b in response.json()["buckets"]]
        assert served == [(b.kind, b.value, b.bucket) for b in independent.plan(query)], query


ATTACKED = [
    {"actor_id": "u-1"},
    {
        "target_type": "document",
        "target_id": "d-1",
        "since": at(28, "00:00:00"),
        "until": at(29, "23:00:00"),
    },
    {"since": at(28, "08:00:00"), "until": at(28, "11:59:59")},
]


@pytest.mark.parametrize("query", ATTACKED, ids=["actor", "target-range", "time-range"])
async def test_an_entry_dropped_from_the_answer_is_missing(api: Api, query: dict[str, str]) -> None:
    await history(api)
    body = await answer(api, query)
    independent.verify_query_proof(copy.deepcopy(body), await api.vkey(), query)
    for n in range(len(body["entries"])):
        attacked = copy.deepcopy(body)
        dropped = attacked["entries"].pop(n)["entry"]["id"]
        with pytest.raises(independent.Invalid, match=f"missing entry {dropped}"):
            independent.verify_query_proof(attacked, await api.vkey(), query)


@pytest.mark.parametrize("query", ATTACKED, ids=["actor", "target-range", "time-range"])
async def test_an_entry_served_with_another_actor_is_forged(
    api: Api, query: dict[str, str]
) -> None:
    await history(api)
    body = await answer(api, query)
    assert body["entries"]
    for n in range(len(body["entries"])):
        attacked = copy.deepcopy(body)
        attacked["entries"][n]["entry"]["actor"]["id"] = "u-9"
        with pytest.raises(independent.Invalid, match="forged"):
            independent.verify_query_proof(attacked, await api.vkey(), query)


async def test_an_older_revision_served_is_stale_and_a_stray_one_extra(api: Api) -> None:
    ids = await history(api)
    query = {"actor_id": "u-1"}
    body = await answer(api, query)
    key = await api.vkey()
    proof = (
        await api.call("GET", f"/entries/{ids['moved-target']}/proof", params={"revision": 1})
    ).json()
    older = {
        "entry": proof["entry"],
        "salts": proof["salts"],
        "digests": {},
        "prev": proof["leaf"]["prev"],
    }
    attacked = copy.deepcopy(body)
    (n,) = [
        n for n, item in enumerate(body["entries"]) if item["entry"]["id"] == ids["moved-target"]
    ]
    attacked["entries"][n] = older
    with pytest.raises(independent.Invalid, match=f"stale entry {ids['moved-target']}"):
        independent.verify_query_proof(attacked, key, query)

    stray = (await answer(api, {"actor_id": "u-3"}))["entries"]
    attacked = copy.deepcopy(body)
    attacked["entries"].extend(stray)
    with pytest.raises(independent.Invalid, match=f"extra entries \\['{ids['moved-actor']}'\\]"):
        independent.verify_query_proof(attacked, key, query)


async def test_a_proof_with_another_index_key_or_map_fails(api: Api) -> None:
    await history(api)
    query = {"actor_id": "u-1"}
    body = await answer(api, query)
    key = await api.vkey()
    attacked = copy.deepcopy(body)
    attacked["index"]["key"] = "A" * 43 + "="
    with pytest.raises(independent.Invalid, match="not the one the index leaf commits"):
        independent.verify_query_proof(attacked, key, query)
    attacked = copy.deepcopy(body)
    attacked["buckets"][0]["map"]["leaf"] = None  # "this bucket is empty"
    with pytest.raises(independent.Invalid, match="map proof does not lead"):
        independent.verify_query_proof(attacked, key, query)
    attacked = copy.deepcopy(body)
    attacked["buckets"][0]["postings"].pop()
    with pytest.raises(independent.Invalid, match="postings given for"):
        independent.verify_query_proof(attacked, key, query)


async def test_a_reader_who_does_not_see_the_ip_verifies_it_by_its_digest(api: Api) -> None:
    await history(api)
    key = await api.vkey()
    query = {"actor_id": "u-1", "outcome": "success"}
    response = await api.call(
        "GET", "/entries", params={**query, "proof": "1"}, scopes=["audit:read"]
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["entries"]
    assert all("ip" not in item["entry"].get("source", {}) for item in body["entries"])
    assert all("source.ip" in item["digests"] for item in body["entries"])
    plain = await api.items("/entries", params=query, scopes=["audit:read"])
    assert independent.verify_query_proof(body, key, query) == [item["id"] for item in plain]


async def test_entries_of_one_instant_come_in_the_order_of_their_ids(api: Api) -> None:
    ids = [(await api.record(entry(actor=U1)))["id"] for _ in range(3)]
    key = await api.vkey()
    for sort, expected in (("occurred_at", sorted(ids)), ("-occurred_at", sorted(ids)[::-1])):
        query = {"actor_id": "u-1", "sort": sort}
        assert [item["id"] for item in await api.items("/entries", params=query)] == expected
        assert independent.verify_query_proof(await answer(api, query), key, query) == expected


async def test_a_walk_of_small_pages_verifies_to_the_one_page_answer(api: Api) -> None:
    await history(api)
    key = await api.vkey()
    sorted_query = {"actor_id": "u-1", "sort": "occurred_at"}
    for query, limit in zip([*ATTACKED, sorted_query], (1, 2, 1, 3), strict=True):
        whole = await answer(api, {**query, "limit": "1000"})
        assert whole["next_cursor"] is None
        expected = independent.verify_query_proof(whole, key, query)
        request = parse_query({name: [value] for name, value in query.items()})
        pages = await walk(api, query, limit)
        assert len(pages) > 1, query
        assert independent.verify_query_pages(pages, key, query) == expected, query
        ours = check_query_pages(pages, key, request.filters, request.sort)
        assert [e["id"] for e in ours.entries] == expected, ours.failures


async def test_a_broken_walk_fails_independently(api: Api) -> None:
    await history(api)
    key = await api.vkey()
    query = {"actor_id": "u-1"}
    pages = await walk(api, query, 2)
    assert len(pages) >= 4
    ended = copy.deepcopy(pages[:2])
    ended[-1]["next_cursor"] = None
    repinned = copy.deepcopy(pages)
    repinned[1]["tree_size"] += 1
    for broken, why in (
        (pages[:-1], "cut short"),
        (ended, "the walk ends at .* cut short"),
        ([pages[0], *pages[2:]], "a range skipped"),
        ([*pages[:2], pages[1], *pages[2:]], "a range skipped, repeated"),
        ([pages[0], pages[2], pages[1], *pages[3:]], "a range skipped"),
        (pages[1:], "page 1 gives no map proof"),
        (repinned, "page 2: its tree_size is not page 1's"),
    ):
        with pytest.raises(independent.Invalid, match=why):
            independent.verify_query_pages(broken, key, query)
