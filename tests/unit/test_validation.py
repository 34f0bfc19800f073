"""validate_entry: the rules of "Entry, as sent" (DESIGN.md), one test per rule."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit_trail.core import Actor, EntryDraft, Outcome, Target, ValidationFailed, validate_entry
from tests.unit.strategies import identifiers, valid_payloads


def refused(payload: object) -> dict[str, str]:
    """The field -> message map of the ValidationFailed that ``payload`` raises."""
    with pytest.raises(ValidationFailed) as caught:
        validate_entry(payload)
    fields = [e.field for e in caught.value.errors]
    assert len(fields) == len(set(fields)), f"a field is named twice: {fields}"
    return {e.field: e.message for e in caught.value.errors}


def nested(levels: int, leaf: object = 1) -> dict[str, Any]:
    """Metadata ``levels`` objects deep, counting the metadata object itself."""
    value: Any = leaf
    for _ in range(levels - 1):
        value = {"a": value}
    return {"a": value}


# --- the whole entry ---


def test_the_design_example_is_accepted_as_sent() -> None:
    draft = validate_entry(
        {
            "action": "document.update",
            "outcome": "success",
            "actor": {"id": "u-42", "type": "user", "name": "Ada"},
            "target": {"type": "document", "id": "d-7", "name": "Q3 report"},
            "occurred_at": "2026-11-28T09:30:00.123Z",
            "tags": ["ui"],
            "metadata": {"field": "title", "old": "a", "new": "b"},
        }
    )
    assert draft == EntryDraft(
        action="document.update",
        outcome=Outcome.SUCCESS,
        actor=Actor(id="u-42", type="user", name="Ada"),
        target=Target(type="document", id="d-7", name="Q3 report"),
        occurred_at=datetime(2026, 11, 28, 9, 30, 0, 123000, tzinfo=UTC),
        tags=("ui",),
        metadata={"field": "title", "old": "a", "new": "b"},
    )


def test_only_action_is_required_and_the_rest_defaults() -> None:
    assert validate_entry({"action": "login"}) == EntryDraft(
        action="login", outcome=Outcome.SUCCESS, actor=None, target=None, occurred_at=None
    )


def test_optional_fields_given_as_null_take_their_defaults() -> None:
    draft = validate_entry(
        {
            "action": "a",
            "actor": None,
            "target": None,
            "occurred_at": None,
            "tags": None,
            "metadata": None,
        }
    )
    assert draft == EntryDraft(action="a")


@pytest.mark.parametrize("payload", [[], "entry", 42, None, [{"action": "a"}]])
def test_an_entry_that_is_not_an_object_is_refused(payload: object) -> None:
    assert set(refused(payload)) == {""}


def test_every_error_is_reported_at_once() -> None:
    errors = refused({"action": "no spaces", "outcome": "great", "metadata": {"$where": "1"}})
    assert set(errors) == {"action", "outcome", "metadata.$where"}


def test_errors_from_every_part_of_the_entry_are_collected() -> None:
    errors = refused(
        {
            "outcome": 1,
            "actor": {"type": ""},
            "target": {"name": "x"},
            "occurred_at": "2026-01-01T00:00:00",
            "tags": ["ok", ""],
            "metadata": {"n": float("nan")},
            "colour": "red",
        }
    )
    assert set(errors) == {
        "action",
        "outcome",
        "actor.id",
        "actor.type",
        "target.type",
        "target.id",
        "occurred_at",
        "tags[1]",
        "metadata.n",
        "colour",
    }


# --- unknown fields ---


@pytest.mark.parametrize("name", ["id", "tenant", "revision", "recorded_at", "source", "Action"])
def test_unknown_top_level_fields_are_refused_not_dropped(name: str) -> None:
    assert refused({"action": "a", name: "x"}) == {name: "unknown field"}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"action": "a", "actor": {"id": "u", "email": "u@x"}}, "actor.email"),
        ({"action": "a", "target": {"type": "t", "id": "1", "url": "/"}}, "target.url"),
    ],
)
def test_unknown_nested_fields_are_refused(payload: dict[str, Any], field: str) -> None:
    assert refused(payload) == {field: "unknown field"}


# --- action ---


@pytest.mark.parametrize(
    "action", ["a", "document.update", "A-Z_a:z/0.9", "x" * 200, "user:login/failed"]
)
def test_actions_of_1_to_200_allowed_characters_are_accepted(action: str) -> None:
    assert validate_entry({"action": action}).action == action


@pytest.mark.parametrize(
    "action", ["", "x" * 201, "has space", "star*", "ümlaut", "nul\x00", "$where", None, 7, ["a"]]
)
def test_bad_actions_are_refused(action: object) -> None:
    assert set(refused({"action": action})) == {"action"}


def test_a_missing_action_is_refused() -> None:
    assert refused({"outcome": "success"}) == {"action": "is required"}


# --- outcome ---


@pytest.mark.parametrize("outcome", ["success", "failure", "denied", "error", "unknown"])
def test_each_outcome_is_accepted(outcome: str) -> None:
    assert validate_entry({"action": "a", "outcome": outcome}).outcome == Outcome(outcome)


@pytest.mark.parametrize("outcome", ["SUCCESS", "ok", "", None, 1, True])
def test_other_outcomes_are_refused(outcome: object) -> None:
    errors = refused({"action": "a", "outcome": outcome})
    assert set(errors) == {"outcome"}
    assert "success" in errors["outcome"]


# --- actor and target ---


def test_actor_may_be_omitted() -> None:
    assert validate_entry({"action": "a"}).actor is None


def test_actor_needs_an_id() -> None:
    assert refused({"action": "a", "actor": {"type": "user"}}) == {"actor.id": "is required"}


def test_actor_type_and_name_are_optional() -> None:
    assert validate_entry({"action": "a", "actor": {"id": "u"}}).actor == Actor(id="u")


@pytest.mark.parametrize("actor", ["u-1", ["u-1"], 1])
def test_actor_must_be_an_object(actor: object) -> None:
    assert set(refused({"action": "a", "actor": actor})) == {"actor"}


def test_target_needs_a_type_and_an_id() -> None:
    assert refused({"action": "a", "target": {"name": "n"}}) == {
        "target.type": "is required",
        "target.id": "is required",
    }


@pytest.mark.parametrize(
    "field",
    ["actor.id", "actor.type", "actor.name", "target.type", "target.id", "target.name"],
)
@pytest.mark.parametrize("value", ["", "a\x00b", "x" * 201, 5, ["x"], "\ud800"])
def test_bad_identifiers_and_names_are_refused(field: str, value: object) -> None:
    part, key = field.split(".")
    body: dict[str, Any] = {"actor": {"id": "u"}, "target": {"type": "t", "id": "1"}}[part]
    assert set(refused({"action": "a", part: body | {key: value}})) == {field}


def test_nul_is_refused_in_every_identifier() -> None:
    errors = refused(
        {
            "action": "a\x00",
            "actor": {"id": "u\x00", "type": "t\x00", "name": "\x00"},
            "target": {"type": "\x00d", "id": "d\x00", "name": "n\x00"},
            "tags": ["t\x00"],
        }
    )
    assert set(errors) == {
        "action",
        "actor.id",
        "actor.type",
        "actor.name",
        "target.type",
        "target.id",
        "target.name",
        "tags[0]",
    }


# --- occurred_at ---


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-28T09:30:00",
        "2026-11-28T09:30:00.123",
        "2026-11-28",
        "yesterday",
        "",
        "2026-13-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
    ],
)
def test_occurred_at_without_a_timezone_or_unreadable_is_refused(text: str) -> None:
    assert set(refused({"action": "a", "occurred_at": text})) == {"occurred_at"}


@pytest.mark.parametrize("value", [1764322200, ["2026-11-28T09:30:00Z"], {"t": 1}])
def test_occurred_at_must_be_a_string(value: object) -> None:
    assert set(refused({"action": "a", "occurred_at": value})) == {"occurred_at"}


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-28T09:30:00.123Z",
        "2026-11-28T09:30:00.123999Z",
        "2026-11-28T10:30:00.123456+01:00",
        "2026-11-28T04:00:00.123-05:30",
    ],
)
def test_occurred_at_is_kept_in_utc_to_the_millisecond(text: str) -> None:
    occurred_at = validate_entry({"action": "a", "occurred_at": text}).occurred_at
    assert occurred_at == datetime(2026, 11, 28, 9, 30, 0, 123000, tzinfo=UTC)
    assert occurred_at.tzinfo is UTC


# --- tags ---


def test_tags_must_be_a_list_of_strings() -> None:
    assert set(refused({"action": "a", "tags": "ui"})) == {"tags"}
    assert set(refused({"action": "a", "tags": ["ui", 3, None]})) == {"tags[1]", "tags[2]"}


def test_at_most_50_tags_of_100_characters() -> None:
    assert validate_entry({"action": "a", "tags": ["t"] * 50}).tags == ("t",) * 50
    assert set(refused({"action": "a", "tags": ["t"] * 51})) == {"tags"}
    assert validate_entry({"action": "a", "tags": ["x" * 100]}).tags == ("x" * 100,)
    assert set(refused({"action": "a", "tags": ["x" * 101]})) == {"tags[0]"}


# --- metadata ---


@pytest.mark.parametrize("value", [[], "x", 1, [{"a": 1}]])
def test_metadata_must_be_an_object(value: object) -> None:
    assert set(refused({"action": "a", "metadata": value})) == {"metadata"}


def test_metadata_of_exactly_16_kib_is_accepted_and_one_byte_more_is_not() -> None:
    envelope = len('{"k":""}')
    at_limit = {"k": "x" * (16 * 1024 - envelope)}
    assert validate_entry({"action": "a", "metadata": at_limit}).metadata == at_limit
    assert validate_entry({"action": "a", "metadata": {"k": "x" * 100}}).metadata
    over = {"k": "x" * (16 * 1024 - envelope + 1)}
    assert set(refused({"action": "a", "metadata": over})) == {"metadata"}


def test_metadata_size_counts_utf8_bytes_not_characters() -> None:
    envelope = len('{"k":""}')
    assert validate_entry({"action": "a", "metadata": {"k": "é" * ((16 * 1024 - envelope) // 2)}})
    over = {"k": "é" * ((16 * 1024 - envelope) // 2 + 1)}  # fewer than 16 Ki characters
    assert set(refused({"action": "a", "metadata": over})) == {"metadata"}


def test_metadata_8_levels_deep_is_accepted_and_9_is_not() -> None:
    eight = nested(8)
    assert validate_entry({"action": "a", "metadata": eight}).metadata == eight
    errors = refused({"action": "a", "metadata": nested(9)})
    assert set(errors) == {"metadata" + ".a" * 8}


def test_lists_count_as_levels_too() -> None:
    seven_lists: Any = 1
    for _ in range(7):
        seven_lists = [seven_lists]
    assert validate_entry({"action": "a", "metadata": {"l": seven_lists}})
    assert set(refused({"action": "a", "metadata": {"l": [seven_lists]}})) == {
        "metadata.l" + "[0]" * 7
    }


def test_scalars_inside_the_deepest_level_are_fine() -> None:
    assert validate_entry({"action": "a", "metadata": nested(8, leaf="deep")})


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("$where", "start with '$'"),
        ("$", "start with '$'"),
        ("a.b", "contain '.'"),
        (".", "contain '.'"),
        ("nul\x00", "NUL"),
        ("", "empty"),
    ],
)
@pytest.mark.parametrize(
    ("wrap", "path"),
    [
        (lambda m: m, "metadata"),
        (lambda m: {"outer": m}, "metadata.outer"),
        (lambda m: {"l": [1, {"x": [m]}]}, "metadata.l[1].x[0]"),
    ],
)
def test_forbidden_metadata_keys_are_refused_at_any_depth(
    key: str, message: str, wrap: Callable[[dict[str, Any]], dict[str, Any]], path: str
) -> None:
    errors = refused({"action": "a", "metadata": wrap({key: 1})})
    assert list(errors) == [f"{path}.{key}"]
    assert message in errors[f"{path}.{key}"]


def test_dollar_and_dots_are_fine_elsewhere_in_keys_and_in_values() -> None:
    metadata = {"price$": "$1.50", "a$b": "$where: a.b", "list": ["$ne", "."]}
    assert validate_entry({"action": "a", "metadata": metadata}).metadata == metadata


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers_are_refused(number: float) -> None:
    assert set(refused({"action": "a", "metadata": {"x": [0, {"n": number}]}})) == {
        "metadata.x[1].n"
    }


@pytest.mark.parametrize(
    "number", [2**53 - 1, -(2**53 - 1), 0, 0.5, 1e15, 2.0**53 - 1, 1.5e-308, -0.0, True]
)
def test_numbers_that_fit_are_accepted(number: float) -> None:
    assert validate_entry({"action": "a", "metadata": {"n": number}}).metadata == {"n": number}


@pytest.mark.parametrize("number", [2**53, -(2**53), 2**63, 10**30, 1e19, 1.5e308, -1e300])
def test_integers_beyond_64_bits_are_refused(number: float) -> None:
    # 1e19 is an integer to JSON Schema, whatever the number's JSON spelling
    assert set(refused({"action": "a", "metadata": {"n": number}})) == {"metadata.n"}


def test_values_json_cannot_hold_are_refused() -> None:
    assert set(refused({"action": "a", "metadata": {"s": {1, 2}, "b": b"x"}})) == {
        "metadata.s",
        "metadata.b",
    }


def test_lone_surrogates_from_json_escapes_are_refused_not_crashing() -> None:
    payload = json.loads(
        '{"action": "a", "metadata": {"v": "\\ud800", "\\udc00k": 1}, "tags": ["\\ud83d"]}'
    )
    errors = refused(payload)
    assert set(errors) == {"metadata.v", "metadata.\\udc00k", "tags[0]"}
    for field in errors:  # the error itself must be encodable
        field.encode("utf-8")


# --- properties ---


@given(valid_payloads)
def test_generated_valid_payloads_are_accepted(payload: dict[str, Any]) -> None:
    draft = validate_entry(payload)
    assert draft.action == payload["action"]
    assert draft.outcome == Outcome(payload.get("outcome") or "success")
    assert draft.tags == tuple(payload.get("tags") or ())
    assert draft.metadata == (payload.get("metadata") or {})


@given(valid_payloads)
def test_what_is_accepted_round_trips_through_json(payload: dict[str, Any]) -> None:
    draft = validate_entry(payload)
    again = validate_entry(json.loads(json.dumps(payload)))
    assert again == draft


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    """A change to a payload: put ``value`` at ``path`` (``part`` or ``part.key``)."""

    def change(payload: dict[str, Any]) -> None:
        part, _, key = path.partition(".")
        if not key:
            payload[part] = value
            return
        defaults = {"actor": {"id": "u"}, "target": {"type": "t", "id": "1"}, "metadata": {}}
        current = payload.get(part)
        payload[part] = {**(current or defaults[part]), key: value}

    return change


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def change(payload: dict[str, Any]) -> None:
        part, _, key = path.partition(".")
        if not key:
            payload.pop(part, None)
        else:
            payload[part] = {
                k: v for k, v in (payload.get(part) or {"type": "t", "id": "1"}).items() if k != key
            }

    return change


def _bad_tag(payload: dict[str, Any]) -> None:
    payload["tags"] = [*(payload.get("tags") or []), ""]


INVALID_CHANGES: list[tuple[Callable[[dict[str, Any]], str], Callable[[dict[str, Any]], None]]] = [
    *((lambda p: "action", _set("action", v)) for v in ["", "a b", "x" * 201, 5, None]),
    (lambda p: "action", _drop("action")),
    *((lambda p: "outcome", _set("outcome", v)) for v in ["ok", "", 1, None]),
    (lambda p: "actor", _set("actor", "u-1")),
    *((lambda p: "actor.id", _set("actor.id", v)) for v in ["", 5, "a\x00", "x" * 201, None]),
    (lambda p: "actor.type", _set("actor.type", "")),
    (lambda p: "actor.name", _set("actor.name", 1)),
    (lambda p: "actor.role", _set("actor.role", "admin")),
    (lambda p: "target", _set("target", [])),
    (lambda p: "target.id", _drop("target.id")),
    (lambda p: "target.type", _set("target.type", "")),
    *(
        (lambda p: "occurred_at", _set("occurred_at", v))
        for v in ["2026-01-01T00:00:00", "now", 0, "9999-12-31T23:00:00-02:00"]
    ),
    (lambda p: "tags", _set("tags", "ui")),
    (lambda p: "tags", _set("tags", ["t"] * 51)),
    (lambda p: f"tags[{len(p.get('tags') or [])}]", _bad_tag),
    (lambda p: "metadata", _set("metadata", ["x"])),
    (lambda p: "metadata.$ne", _set("metadata.$ne", 1)),
    (lambda p: "metadata.a.b", _set("metadata.a.b", 1)),
    (lambda p: "metadata.n", _set("metadata.n", float("inf"))),
    (lambda p: "metadata.n", _set("metadata.n", 2**64)),
    (lambda p: "metadata.big", _set("metadata.big", 2**64)),
    (lambda p: "metadata", _set("metadata", {"k": "x" * 20_000})),
    (lambda p: "tenant", _set("tenant", "other")),
    (lambda p: "id", _set("id", "01J0000000000000000000000")),
]


@given(valid_payloads, st.sampled_from(INVALID_CHANGES))
def test_one_invalid_field_is_refused_naming_that_field(
    payload: dict[str, Any],
    change: tuple[Callable[[dict[str, Any]], str], Callable[[dict[str, Any]], None]],
) -> None:
    name_field, apply = change
    field = name_field(payload)
    apply(payload)
    assert set(refused(payload)) == {field}


@given(identifiers, identifiers)
def test_identifiers_are_kept_exactly(actor_id: str, tag: str) -> None:
    draft = validate_entry({"action": "a", "actor": {"id": actor_id}, "tags": [tag]})
    assert draft.actor == Actor(id=actor_id)
    assert draft.tags == (tag,)


@pytest.mark.parametrize(
    ("path", "field", "named"),
    [
        ("entries[3]", "actor.id", "entries[3].actor.id"),
        ("entries[3]", "", "entries[3]"),
        ("entries[3]", "tags[0]", "entries[3].tags[0]"),
        ("entries", "[2].actor.id", "entries[2].actor.id"),
        ("", "action", "action"),
    ],
)
def test_errors_are_named_from_an_enclosing_path(path: str, field: str, named: str) -> None:
    failure = ValidationFailed.single(field, "is wrong").within(path)
    assert [(e.field, e.message) for e in failure.errors] == [(named, "is wrong")]
