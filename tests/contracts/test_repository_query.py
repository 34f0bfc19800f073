"""EntryRepository contract: query filters, sort orders and page limits."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest

from audit_trail.core.model import Actor, Entry, Outcome, Target
from audit_trail.core.ports import EntryRepository
from audit_trail.core.query import EntryFilters, QuerySpec, SortOrder
from tests.contracts.builders import make_entry, moment

Catalogue = Mapping[str, Entry]

USER_1 = Actor(id="u1", type="user", name="Ada")
USER_2 = Actor(id="u2", type="user")
SERVICE = Actor(id="svc-1", type="service")
UNTYPED = Actor(id="u3")
DOC_1 = Target(type="document", id="d1")
DOC_2 = Target(type="document", id="d2", name="Two")
FOLDER_1 = Target(type="folder", id="d1")


def _catalogue_entries() -> dict[str, Entry]:
    def entry(millis: int, action: str, actor: Actor, **fields: Any) -> Entry:
        return make_entry(
            action=action, actor=actor, occurred_at=moment(millis), **{"target": None, **fields}
        )

    return {
        "login": entry(0, "user.login", USER_1, tags=("ui",)),
        "logout": entry(1000, "user.logout", USER_1, tags=("ui", "web")),
        "login_fail": entry(2000, "user.login", USER_2, outcome=Outcome.FAILURE, tags=()),
        "admin_create": entry(3000, "user_admin.create", SERVICE, target=DOC_1, tags=("api",)),
        "lookalike": entry(
            4000, "userXlogin", USER_2, target=DOC_2, outcome=Outcome.DENIED, tags=("api", "ui")
        ),
        "underscore_lookalike": entry(
            5000, "userAadmin.create", SERVICE, target=FOLDER_1, outcome=Outcome.ERROR, tags=()
        ),
        "doc_update": entry(6000, "document.update", USER_1, target=DOC_1, tags=("web",)),
        "doc_update_same_ms": entry(
            6000, "document.update", UNTYPED, target=DOC_2, outcome=Outcome.UNKNOWN, tags=()
        ),
    }


@pytest.fixture
async def catalogue(repository: EntryRepository) -> Catalogue:
    """Eight entries of tenant t1 (and a look-alike in t2 that must never show)."""
    entries = _catalogue_entries()
    await repository.append_many(list(entries.values()))
    await repository.append(make_entry("t2", action="user.login", actor=USER_1, tags=("ui",)))
    return entries


def ordered(entries: list[Entry], sort: SortOrder) -> list[str]:
    keyed = sorted(entries, key=lambda e: (e.occurred_at, e.id))
    if sort is SortOrder.NEWEST_FIRST:
        keyed.reverse()
    return [e.id for e in keyed]


ALL = [
    "login",
    "logout",
    "login_fail",
    "admin_create",
    "lookalike",
    "underscore_lookalike",
    "doc_update",
    "doc_update_same_ms",
]

FILTER_CASES: dict[str, tuple[EntryFilters, list[str]]] = {
    "none": (EntryFilters(), ALL),
    "actor_id": (EntryFilters(actor_id="u1"), ["login", "logout", "doc_update"]),
    "actor_type": (EntryFilters(actor_type="service"), ["admin_create", "underscore_lookalike"]),
    "action": (EntryFilters(action="user.login"), ["login", "login_fail"]),
    "action-dot-is-literal": (
        EntryFilters(action_prefix="user."),
        ["login", "logout", "login_fail"],
    ),
    "action-underscore-is-literal": (EntryFilters(action_prefix="user_"), ["admin_create"]),
    "action-percent-is-literal": (EntryFilters(action_prefix="%"), []),
    "action-prefix-short": (
        EntryFilters(action_prefix="user"),
        ["login", "logout", "login_fail", "admin_create", "lookalike", "underscore_lookalike"],
    ),
    "action-prefix-whole-value": (
        EntryFilters(action_prefix="user.login"),
        ["login", "login_fail"],
    ),
    "action-prefix-regex-chars": (EntryFilters(action_prefix="user.*"), []),
    "target_type": (
        EntryFilters(target_type="document"),
        ["admin_create", "lookalike", "doc_update", "doc_update_same_ms"],
    ),
    "target_id": (
        EntryFilters(target_id="d1"),
        ["admin_create", "underscore_lookalike", "doc_update"],
    ),
    "target": (
        EntryFilters(target_type="document", target_id="d1"),
        ["admin_create", "doc_update"],
    ),
    "outcome-failure": (EntryFilters(outcome=Outcome.FAILURE), ["login_fail"]),
    "outcome-success": (
        EntryFilters(outcome=Outcome.SUCCESS),
        ["login", "logout", "admin_create", "doc_update"],
    ),
    "tag": (EntryFilters(tag="ui"), ["login", "logout", "lookalike"]),
    "tag-other": (EntryFilters(tag="web"), ["logout", "doc_update"]),
    "tag-unknown": (EntryFilters(tag="nope"), []),
    "actor_id+tag": (EntryFilters(actor_id="u1", tag="ui"), ["login", "logout"]),
    "actor_id+prefix": (
        EntryFilters(actor_id="u2", action_prefix="user"),
        ["login_fail", "lookalike"],
    ),
    "action+outcome": (
        EntryFilters(action="document.update", outcome=Outcome.SUCCESS),
        ["doc_update"],
    ),
    "tag+actor_type": (EntryFilters(tag="api", actor_type="service"), ["admin_create"]),
    "actor_id+since": (EntryFilters(actor_id="u1", since=moment(1000)), ["logout", "doc_update"]),
    "tag+since+until": (
        EntryFilters(tag="ui", since=moment(1000), until=moment(4000)),
        ["logout", "lookalike"],
    ),
    "prefix+target_id": (
        EntryFilters(action_prefix="document", target_id="d2"),
        ["doc_update_same_ms"],
    ),
    "everything": (
        EntryFilters(
            actor_id="u1",
            actor_type="user",
            action="document.update",
            action_prefix="doc",
            target_type="document",
            target_id="d1",
            outcome=Outcome.SUCCESS,
            tag="web",
            since=moment(6000),
            until=moment(6000),
        ),
        ["doc_update"],
    ),
    "contradiction": (EntryFilters(actor_id="u1", actor_type="service"), []),
    "unknown-actor": (EntryFilters(actor_id="nobody"), []),
}


@pytest.mark.parametrize("sort", list(SortOrder))
@pytest.mark.parametrize("case", sorted(FILTER_CASES))
async def test_filters_select_exactly_the_matching_entries(
    repository: EntryRepository, catalogue: Catalogue, case: str, sort: SortOrder
) -> None:
    filters, expected = FILTER_CASES[case]

    page = await repository.query("t1", QuerySpec(filters=filters, sort=sort, limit=100))

    assert [e.id for e in page.items] == ordered([catalogue[n] for n in expected], sort)
    assert not page.has_more


async def test_query_returns_whole_entries(
    repository: EntryRepository, catalogue: Catalogue
) -> None:
    page = await repository.query("t1", QuerySpec(filters=EntryFilters(action="userXlogin")))

    assert page.items == [catalogue["lookalike"]]


@pytest.fixture
async def three_milliseconds(repository: EntryRepository) -> list[Entry]:
    entries = [make_entry(occurred_at=moment(ms)) for ms in (0, 1, 2)]
    await repository.append_many(entries)
    return entries


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        (1, None, [1, 2]),
        (None, 1, [0, 1]),
        (1, 1, [1]),
        (0, 2, [0, 1, 2]),
        (3, None, []),
    ],
    ids=["since", "until", "both-at-one-ms", "both-at-the-ends", "after-all"],
)
async def test_since_and_until_include_their_exact_millisecond(
    repository: EntryRepository,
    three_milliseconds: list[Entry],
    since: int | None,
    until: int | None,
    expected: list[int],
) -> None:
    filters = EntryFilters(
        since=None if since is None else moment(since),
        until=None if until is None else moment(until),
    )

    page = await repository.query("t1", QuerySpec(filters=filters, sort=SortOrder.OLDEST_FIRST))

    assert [e.id for e in page.items] == [three_milliseconds[ms].id for ms in expected]


async def test_newest_first_is_the_default_and_ties_break_on_id(
    repository: EntryRepository,
) -> None:
    tied = [make_entry(id=f"id-{c}", occurred_at=moment(5)) for c in "bca"]
    earlier = make_entry(id="id-z", occurred_at=moment(4))
    later = make_entry(id="id-0", occurred_at=moment(6))
    await repository.append_many([*tied, earlier, later])

    page = await repository.query("t1", QuerySpec())

    assert [e.id for e in page.items] == ["id-0", "id-c", "id-b", "id-a", "id-z"]


async def test_oldest_first_orders_by_time_then_id(repository: EntryRepository) -> None:
    tied = [make_entry(id=f"id-{c}", occurred_at=moment(5)) for c in "bca"]
    earlier = make_entry(id="id-z", occurred_at=moment(4))
    later = make_entry(id="id-0", occurred_at=moment(6))
    await repository.append_many([*tied, earlier, later])

    page = await repository.query("t1", QuerySpec(sort=SortOrder.OLDEST_FIRST))

    assert [e.id for e in page.items] == ["id-z", "id-a", "id-b", "id-c", "id-0"]


async def test_sort_is_by_instant_across_years(repository: EntryRepository) -> None:
    entries = [
        make_entry(occurred_at=moment(0) + timedelta(days=days)) for days in (400, -3650, 0, 1)
    ]
    await repository.append_many(entries)

    page = await repository.query("t1", QuerySpec(sort=SortOrder.OLDEST_FIRST))

    assert [e.id for e in page.items] == [entries[i].id for i in (1, 2, 3, 0)]


@pytest.mark.parametrize(("limit", "has_more"), [(1, True), (7, True), (8, False), (50, False)])
async def test_limit_caps_the_page_and_has_more_tells_if_more_match(
    repository: EntryRepository, catalogue: Catalogue, limit: int, has_more: bool
) -> None:
    page = await repository.query("t1", QuerySpec(limit=limit))

    assert len(page.items) == min(limit, len(catalogue))
    assert page.has_more is has_more
    assert [e.id for e in page.items] == ordered(list(catalogue.values()), SortOrder.NEWEST_FIRST)[
        :limit
    ]


async def test_an_empty_tenant_has_an_empty_page(repository: EntryRepository) -> None:
    page = await repository.query("nobody", QuerySpec())

    assert list(page.items) == []
    assert not page.has_more
