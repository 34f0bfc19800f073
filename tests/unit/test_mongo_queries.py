"""The MongoDB filters of a QuerySpec: values only ever sit under operators we chose."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from audit_trail.adapters.storage.mongo_documents import PAGE_FIELDS
from audit_trail.adapters.storage.mongo_queries import build_filter, find_arguments, prefix_range
from audit_trail.core.model import Outcome
from audit_trail.core.query import EntryFilters, Position, QuerySpec, SortOrder

ACTION_ALPHABET = "ABCXYZabcxyz0189_.:/-"
OPERATORS = {"$eq", "$gte", "$lte", "$gt", "$lt", "$or"}

actions = st.text(alphabet=ACTION_ALPHABET, min_size=1, max_size=12)
values = st.text(max_size=30).filter(lambda s: "\x00" not in s) | st.sampled_from(
    ['{"$gt": ""}', "$where", "$ne", "$regex", ".*", "this.x == 1"]
)
moments = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))


def keys(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from keys(value)
    elif isinstance(node, list):
        for item in node:
            yield from keys(item)


def leaves(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        for value in node.values():
            yield from leaves(value)
    elif isinstance(node, list):
        for item in node:
            yield from leaves(item)
    else:
        yield node


@given(prefix=actions, action=actions)
def test_the_prefix_range_holds_exactly_the_actions_that_start_with_the_prefix(
    prefix: str, action: str
) -> None:
    bounds = prefix_range(prefix)
    low, high = bounds["$gte"].encode(), bounds["$lt"].encode()

    # MongoDB compares strings by their UTF-8 bytes
    assert (low <= action.encode() < high) == action.startswith(prefix)


@given(
    tenant=values,
    actor_id=values,
    actor_type=values,
    target_type=values,
    target_id=values,
    tag=values,
    action=actions,
)
def test_every_value_is_an_operand_of_an_operator_the_adapter_chose(
    *,
    tenant: str,
    actor_id: str,
    actor_type: str,
    target_type: str,
    target_id: str,
    tag: str,
    action: str,
) -> None:
    filters = EntryFilters(
        actor_id=actor_id,
        actor_type=actor_type,
        action=action,
        action_prefix=action[:1],
        target_type=target_type,
        target_id=target_id,
        outcome=Outcome.DENIED,
        tag=tag,
    )

    query = build_filter(tenant, filters, None, newest_first=True)

    operators = {key for key in keys(query) if key.startswith("$")}
    assert operators <= OPERATORS
    assert set(query) == {
        "tenant",
        "live",
        "actor_id",
        "actor_type",
        "action",
        "target_type",
        "target_id",
        "outcome",
        "tags",
    }
    assert query["tenant"] == {"$eq": tenant}
    assert query["actor_id"] == {"$eq": actor_id}
    assert query["tags"] == {"$eq": tag}
    assert query["action"]["$eq"] == action
    assert query["live"] is True
    assert all(not isinstance(leaf, dict) for leaf in leaves(query))


@given(since=moments, until=moments, after_at=moments, newest_first=st.booleans())
def test_a_cursor_bounds_the_time_range_on_its_side(
    since: datetime, until: datetime, after_at: datetime, newest_first: bool
) -> None:
    filters = EntryFilters(since=since, until=until)

    query = build_filter("t", filters, Position(after_at, "01ID"), newest_first=newest_first)

    if newest_first:
        assert query["occurred_at"] == {"$gte": since, "$lte": min(until, after_at)}
        assert query["$or"] == [{"occurred_at": {"$lt": after_at}}, {"id": {"$lt": "01ID"}}]
    else:
        assert query["occurred_at"] == {"$gte": max(since, after_at), "$lte": until}
        assert query["$or"] == [{"occurred_at": {"$gt": after_at}}, {"id": {"$gt": "01ID"}}]


def test_find_asks_for_one_more_than_the_page_in_sort_order_without_the_evidence() -> None:
    newest = find_arguments("t", QuerySpec(limit=20))
    oldest = find_arguments("t", QuerySpec(sort=SortOrder.OLDEST_FIRST, limit=1000))

    assert newest.as_kwargs() == {
        "filter": {"tenant": {"$eq": "t"}, "live": True},
        "projection": {"_id": 0, **dict.fromkeys(PAGE_FIELDS, 1)},
        "sort": [("occurred_at", -1), ("id", -1)],
        "limit": 21,
    }
    assert oldest.sort == [("occurred_at", 1), ("id", 1)]
    assert oldest.limit == 1001
