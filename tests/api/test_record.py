"""POST /entries: what is stored, what is refused, and how."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.client import Api, entry, error_fields, problem
from tests.api.conftest import MAX_BODY_BYTES


async def test_recording_answers_201_with_the_entry_location_and_etag(api: Api) -> None:
    response = await api.call("POST", "/entries", json=entry(), tenant="acme")
    assert response.status_code == 201
    stored = response.json()
    assert response.headers["location"] == f"/apiv3/audit_trail/entries/{stored['id']}"
    assert response.headers["etag"] == '"1"'
    assert stored["tenant"] == "acme"
    assert stored["revision"] == 1
    assert stored["action"] == "document.update"
    assert stored["actor"] == {"id": "u-42", "type": "user", "name": "Ada"}
    assert stored["target"] == {"type": "document", "id": "d-7", "name": "Q3 report"}
    assert stored["metadata"] == {"field": "title", "old": "a", "new": "b"}
    assert stored["occurred_at"] == "2026-11-28T09:30:00.123Z"
    assert stored["recorded_at"].endswith("Z")


async def test_the_location_serves_the_entry(api: Api) -> None:
    response = await api.call("POST", "/entries", json=entry())
    again = await api.http.get(
        response.headers["location"], headers={"authorization": f"Bearer {api.tokens.token()}"}
    )
    assert again.status_code == 200
    assert again.json() == response.json()


async def test_head_on_an_entry_gives_its_etag_without_a_body(api: Api) -> None:
    recorded = await api.record()
    response = await api.call("HEAD", f"/entries/{recorded['id']}")
    assert response.status_code == 200
    assert response.headers["etag"] == '"1"'
    assert response.content == b""
    unknown = await api.call("HEAD", "/entries/unknown-id")
    assert unknown.status_code == 404
    assert unknown.content == b""


async def test_omitted_fields_get_their_defaults(api: Api) -> None:
    stored = await api.record({"action": "login"}, token=api.tokens.token(subject="u-9"))
    assert stored["actor"] == {"id": "u-9"}
    assert stored["outcome"] == "success"
    assert stored["tags"] == []
    assert stored["metadata"] == {}
    assert stored["occurred_at"].endswith("Z")
    assert "target" not in stored


async def test_a_subject_that_fits_an_actor_id_stands_in_for_the_actor(api: Api) -> None:
    subject = "s" * 200
    stored = await api.record({"action": "login"}, token=api.tokens.token(subject=subject))
    assert stored["actor"] == {"id": subject}


@pytest.mark.parametrize("subject", ["s" * 201, "u\x00-9"], ids=["too long", "NUL"])
async def test_a_subject_that_is_no_actor_id_cannot_stand_in_for_the_actor(
    api: Api, subject: str
) -> None:
    token = api.tokens.token(subject=subject)
    one = await api.call("POST", "/entries", json={"action": "login"}, token=token)
    assert error_fields(one) == {"actor.id"}
    batch = {"entries": [{"action": "login", "actor": {"id": "u-9"}}, {"action": "login"}]}
    refused = await api.call("POST", "/entries/batch", json=batch, token=token)
    assert error_fields(refused) == {"entries[1].actor.id"}
    named = await api.record({"action": "login", "actor": {"id": "u-9"}}, token=token)
    assert [e["id"] for e in await api.items("/entries")] == [named["id"]]


async def test_times_are_kept_in_utc_to_the_millisecond(api: Api) -> None:
    stored = await api.record(entry(occurred_at="2026-11-28T10:30:00.123987+01:00"))
    assert stored["occurred_at"] == "2026-11-28T09:30:00.123Z"


async def test_ids_are_unique_and_url_safe(api: Api) -> None:
    ids = [(await api.record())["id"] for _ in range(5)]
    assert len(set(ids)) == 5
    assert all(i.replace("-", "").replace("_", "").isalnum() for i in ids)


INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("missing action", entry(action=None), "action"),
    ("bad action", entry(action="rm -rf /"), "action"),
    ("bad outcome", entry(outcome="maybe"), "outcome"),
    ("actor without id", entry(actor={"type": "user"}), "actor.id"),
    ("actor id with NUL", entry(actor={"id": "u\u00001"}), "actor.id"),
    ("naive time", entry(occurred_at="2026-11-28T09:30:00"), "occurred_at"),
    ("tags not a list", entry(tags="ui"), "tags"),
    ("tag not a string", entry(tags=["ui", 7]), "tags[1]"),
    ("target without id", entry(target={"type": "document"}), "target.id"),
    ("unknown field", entry(colour="red"), "colour"),
    ("server field", entry(tenant="other"), "tenant"),
    ("unknown actor field", entry(actor={"id": "u", "email": "x@y"}), "actor.email"),
    ("$where in metadata", entry(metadata={"$where": "sleep(1000)"}), "metadata.$where"),
    ("operator in metadata", entry(metadata={"a": {"$gt": ""}}), "metadata.a.$gt"),
    ("dotted key", entry(metadata={"a.b": 1}), "metadata.a.b"),
    ("NUL in a key", entry(metadata={"a\u0000": 1}), "metadata.a\u0000"),
    ("metadata not an object", entry(metadata=[1, 2]), "metadata"),
    (
        "metadata too deep",
        entry(metadata={"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {}}}}}}}}}),
        "metadata.a.b.c.d.e.f.g.h",
    ),
    ("body not an object", [entry()], ""),  # type: ignore[list-item]
]


@pytest.mark.parametrize(
    ("body", "field"), [(b, f) for _, b, f in INVALID], ids=[i for i, _, _ in INVALID]
)
async def test_invalid_entries_are_422_naming_the_field(
    api: Api, body: dict[str, Any], field: str
) -> None:
    response = await api.call("POST", "/entries", json=body)
    assert field in error_fields(response)
    assert await api.items("/entries") == []


async def test_every_offending_field_is_named_at_once(api: Api) -> None:
    body = entry(action="", outcome="maybe", extra=1)
    response = await api.call("POST", "/entries", json=body)
    assert error_fields(response) == {"action", "outcome", "extra"}


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "application/audit+json"]
)
async def test_json_media_types_are_accepted(api: Api, content_type: str) -> None:
    response = await api.call(
        "POST", "/entries", content=b'{"action": "x"}', headers={"content-type": content_type}
    )
    assert response.status_code == 201


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", None])
async def test_other_media_types_are_415(api: Api, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await api.call("POST", "/entries", content=b'{"action": "x"}', headers=headers)
    problem(response, 415)


@pytest.mark.parametrize(
    "body", [b'{"action": ', b"{'action': 'x'}", b'{"action": "\xff"}', b"", b"[" * 10]
)
async def test_malformed_json_is_400(api: Api, body: bytes) -> None:
    headers = {"content-type": "application/json"}
    problem(await api.call("POST", "/entries", content=body, headers=headers), 400)


async def test_a_body_over_the_limit_is_413_and_not_stored(api: Api) -> None:
    padding = "x" * MAX_BODY_BYTES
    response = await api.call("POST", "/entries", json=entry(metadata={"pad": padding}))
    problem(response, 413)
    assert await api.items("/entries") == []


async def test_an_announced_length_over_the_limit_is_413(api: Api) -> None:
    headers = {"content-type": "application/json", "content-length": str(MAX_BODY_BYTES + 1)}
    body = b'{"action": "x"}'.ljust(MAX_BODY_BYTES + 1)
    problem(await api.call("POST", "/entries", content=body, headers=headers), 413)


async def test_a_body_at_the_limit_is_read(api: Api) -> None:
    body = b'{"action": "x"}'.ljust(MAX_BODY_BYTES)
    headers = {"content-type": "application/json"}
    response = await api.call("POST", "/entries", content=body, headers=headers)
    assert response.status_code == 201
