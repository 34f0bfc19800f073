"""parse_query and the canonical form of a query (the cache key)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit_trail.core import (
    EntryFilters,
    Outcome,
    QueryRequest,
    SortOrder,
    ValidationFailed,
    parse_query,
)
from tests.unit.strategies import as_multi, offsets, query_params, utc_millis


def parse(**params: str) -> QueryRequest:
    return parse_query(as_multi(params))


def refused(params: dict[str, list[str]]) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        parse_query(params)
    return {e.field: e.message for e in caught.value.errors}


def params_of(canonical: str) -> dict[str, list[str]]:
    """The canonical form read back as query parameters (undoing its escapes)."""

    def unescape(text: str) -> str:
        return re.sub(r"%(25|26|3D)", lambda m: {"25": "%", "26": "&", "3D": "="}[m[1]], text)

    pairs = (pair.split("=", 1) for pair in canonical.split("&"))
    return {name: [unescape(value)] for name, value in pairs}


# --- parameters ---


def test_no_parameters_means_the_newest_50_entries() -> None:
    assert parse_query({}) == QueryRequest(
        filters=EntryFilters(), sort=SortOrder.NEWEST_FIRST, limit=50, cursor=None
    )


@pytest.mark.parametrize("name", ["actor_id", "actor_type", "target_type", "target_id", "tag"])
def test_text_filters_are_kept_as_given(name: str) -> None:
    expected: dict[str, Any] = {name: "Ada Lovelace/42"}
    assert parse(**expected).filters == EntryFilters(**expected)


@pytest.mark.parametrize("name", ["actor_id", "actor_type", "target_type", "target_id", "tag"])
@pytest.mark.parametrize("value", ["", "x" * 201, "a\x00b", "\udcff"])
def test_bad_text_filters_are_refused(name: str, value: str) -> None:
    assert set(refused({name: [value]})) == {name}


def test_an_action_matches_exactly() -> None:
    assert parse(action="document.update").filters == EntryFilters(action="document.update")


def test_an_action_ending_in_a_star_is_a_prefix() -> None:
    assert parse(action="document.*").filters == EntryFilters(action_prefix="document.")


@pytest.mark.parametrize("action", ["", "*", "a**", "*.update", "doc*.x", "has space", "$where"])
def test_bad_actions_are_refused(action: str) -> None:
    assert set(refused({"action": [action]})) == {"action"}


@pytest.mark.parametrize("outcome", list(Outcome))
def test_outcome_filter(outcome: Outcome) -> None:
    assert parse(outcome=outcome.value).filters.outcome is outcome


def test_an_unknown_outcome_is_refused() -> None:
    assert set(refused({"outcome": ["fine"]})) == {"outcome"}


def test_since_and_until_are_read_as_utc_milliseconds() -> None:
    request = parse(since="2026-11-28T10:30:00.123456+01:00", until="2026-11-28T09:30:00.124Z")
    assert request.filters.since == datetime(2026, 11, 28, 9, 30, 0, 123000, tzinfo=UTC)
    assert request.filters.until == datetime(2026, 11, 28, 9, 30, 0, 124000, tzinfo=UTC)


def test_since_may_equal_until() -> None:
    request = parse(since="2026-01-01T00:00:00Z", until="2026-01-01T01:00:00+01:00")
    assert request.filters.since == request.filters.until


def test_since_after_until_is_refused() -> None:
    assert set(
        refused(as_multi({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}))
    ) == {"until"}


@pytest.mark.parametrize("name", ["since", "until"])
@pytest.mark.parametrize("value", ["2026-01-01T00:00:00", "2026-01-01", "yesterday", "", "1e9"])
def test_times_need_a_timezone_and_iso_8601(name: str, value: str) -> None:
    assert set(refused({name: [value]})) == {name}


@pytest.mark.parametrize("sort", ["-occurred_at", "occurred_at"])
def test_sort(sort: str) -> None:
    assert parse(sort=sort).sort == SortOrder(sort)


@pytest.mark.parametrize("sort", ["recorded_at", "-id", "", "occurred_at desc", "{'$natural': 1}"])
def test_other_sorts_are_refused(sort: str) -> None:
    assert set(refused({"sort": [sort]})) == {"sort"}


@pytest.mark.parametrize(
    ("raw", "limit"), [("1", 1), ("50", 50), ("1000", 1000), ("007", 7), ("0000001000", 1000)]
)
def test_limits_from_1_to_1000_are_accepted(raw: str, limit: int) -> None:
    assert parse(limit=raw).limit == limit


@pytest.mark.parametrize(
    "raw", ["0", "1001", "-1", "+5", "1.5", "1e3", "", " 5", "\u0665", "ten", "9" * 5000]
)
def test_other_limits_are_refused(raw: str) -> None:
    assert refused({"limit": [raw]}) == {"limit": "must be an integer from 1 to 1000"}


def test_a_cursor_is_taken_as_opaque_text() -> None:
    assert parse(cursor="abc.def").cursor == "abc.def"


@pytest.mark.parametrize("cursor", ["", "c" * 513])
def test_empty_or_huge_cursors_are_refused(cursor: str) -> None:
    assert set(refused({"cursor": [cursor]})) == {"cursor"}


@pytest.mark.parametrize("name", ["actor", "Actor_id", "limit ", "offset", "page", "q", "$where"])
def test_unknown_parameters_are_refused_by_name(name: str) -> None:
    assert refused({name: ["1"]}) == {name: "unknown query parameter"}


def test_repeated_parameters_are_refused() -> None:
    assert set(refused({"tag": ["a", "b"], "limit": ["5", "5"]})) == {"tag", "limit"}
    assert set(refused({"tag": []})) == {"tag"}


def test_every_problem_is_reported_at_once() -> None:
    errors = refused({"limit": ["0"], "sort": ["x"], "colour": ["red"], "outcome": ["meh"]})
    assert set(errors) == {"limit", "sort", "colour", "outcome"}


# --- values are data, never operators ---


@pytest.mark.parametrize("value", ['{"$gt": ""}', "$where", "{'$ne': null}", "this.a == 1", ".*"])
def test_operator_looking_values_stay_literal_strings(value: str) -> None:
    request = parse(actor_id=value, tag=value, target_id=value)
    assert request.filters == EntryFilters(actor_id=value, target_id=value, tag=value)


@pytest.mark.parametrize(
    "name", ["actor_id[$ne]", "actor_id[$regex]", "$where", "actor_id.$gt", "tag[]"]
)
def test_operator_looking_parameter_names_are_unknown(name: str) -> None:
    assert set(refused({name: ["x"]})) == {name}


@pytest.mark.parametrize(
    ("name", "value"),
    [("outcome", '{"$ne": "success"}'), ("action", "$where"), ("action", "^a|b"), ("limit", "{}")],
)
def test_operator_looking_values_of_typed_parameters_are_refused(name: str, value: str) -> None:
    assert set(refused({name: [value]})) == {name}


def test_a_regex_looking_action_prefix_is_a_literal_prefix() -> None:
    assert parse(action=".*").filters == EntryFilters(action_prefix=".")


# --- canonical form ---


def test_canonical_form_lists_set_parameters_sorted_by_name() -> None:
    request = parse(tag="ui", action="doc.*", since="2026-11-28T10:30:00+01:00", limit="10")
    assert request.canonical() == (
        "action=doc.*&limit=10&since=2026-11-28T09:30:00.000Z&sort=-occurred_at&tag=ui"
    )


def test_defaults_are_written_out_so_an_explicit_default_is_the_same_query() -> None:
    assert parse().canonical() == parse(sort="-occurred_at", limit="50").canonical()


def test_values_cannot_forge_other_parameters() -> None:
    forged = parse(actor_id="x&tag=y")
    honest = parse(actor_id="x", tag="y")
    assert forged.canonical() != honest.canonical()
    assert params_of(forged.canonical())["actor_id"] == ["x&tag=y"]


def test_scope_ignores_page_size_and_cursor_but_not_filters_or_sort() -> None:
    base = parse(tag="ui")
    assert parse(tag="ui", limit="5", cursor="c").scope() == base.scope()
    assert parse(tag="ux").scope() != base.scope()
    assert parse(tag="ui", sort="occurred_at").scope() != base.scope()


@given(query_params)
def test_canonical_form_is_idempotent(params: dict[str, str]) -> None:
    request = parse_query(as_multi(params))
    again = parse_query(params_of(request.canonical()))
    assert again == request
    assert again.canonical() == request.canonical()


@given(st.data())
def test_canonical_form_ignores_parameter_order(data: st.DataObject) -> None:
    params = data.draw(query_params)
    names = data.draw(st.permutations(list(params)))
    shuffled = {name: params[name] for name in names}
    assert parse_query(as_multi(shuffled)).canonical() == parse_query(as_multi(params)).canonical()


@given(utc_millis, st.lists(offsets, min_size=2, max_size=4), st.integers(0, 999))
def test_one_instant_written_in_any_offset_gives_one_canonical_form(
    instant: datetime, zones: list[timezone], micros: int
) -> None:
    forms = set()
    for zone in zones:
        try:
            local = (instant + timedelta(microseconds=micros)).astimezone(zone)
        except OverflowError:
            continue  # the local time would fall outside years 1-9999
        text = local.isoformat()
        forms.add(parse(since=text, until=text).canonical())
    assert len(forms) <= 1


# Small alphabets so that equal queries are drawn often, written differently.
_similar_params = st.fixed_dictionaries(
    {},
    optional={
        "actor_id": st.sampled_from(["a", "b", "a&tag=b", "tag=b"]),
        "tag": st.sampled_from(["a", "b"]),
        "action": st.sampled_from(["a", "a*", "b.*", "b."]),
        "outcome": st.sampled_from(["success", "failure"]),
        "since": st.sampled_from(
            ["2026-01-01T00:00:00Z", "2026-01-01T01:00:00+01:00", "2026-01-01T00:00:00.001Z"]
        ),
        "sort": st.sampled_from(["-occurred_at", "occurred_at"]),
        "limit": st.sampled_from(["50", "050", "5"]),
        "cursor": st.sampled_from(["c", "c=", "c%3D"]),
    },
)


@given(_similar_params, _similar_params)
def test_distinct_queries_have_distinct_canonical_forms(
    left: dict[str, str], right: dict[str, str]
) -> None:
    a, b = parse_query(as_multi(left)), parse_query(as_multi(right))
    assert (a == b) == (a.canonical() == b.canonical())


@given(query_params, query_params)
def test_canonical_forms_agree_exactly_when_queries_do(
    left: dict[str, str], right: dict[str, str]
) -> None:
    a, b = parse_query(as_multi(left)), parse_query(as_multi(right))
    assert (a == b) == (a.canonical() == b.canonical())
