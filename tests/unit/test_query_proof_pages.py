"""Paged query proofs over the in-memory storage: honest walks, at any page size, verify
to exactly what the query finds, pinned to page 1 whatever is written meanwhile; and
every way of breaking a walk (a page dropped, repeated or reordered, a range skipped
or overlapping, a walk cut short, a page pinned elsewhere) fails."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit_trail.core import Actor
from audit_trail.core.errors import ValidationFailed
from audit_trail.core.query import EntryFilters
from audit_trail.verify.query import QueryResult, check_query_pages, check_query_proof

from .test_query_proofs import SIGNER, START, World, history, operations, queries

Pages = list[dict[str, Any]]


def verdict(pages: Pages, filters: EntryFilters) -> QueryResult:
    return check_query_pages(pages, SIGNER.vkey, filters)


def postings(page: dict[str, Any]) -> int:
    return sum(len(part["postings"]) for part in page["buckets"])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations, queries, st.sampled_from([1, 2, 3, 7]))
async def test_an_honest_walk_verifies_to_exactly_what_the_query_finds(
    ops: list[tuple[str, str, str, float, str | None, int]], filters: EntryFilters, limit: int
) -> None:
    world = await history(ops)
    pages = await world.walk(filters, limit)
    result = verdict(pages, filters)
    assert result.failures == ()
    assert [entry["id"] for entry in result.entries] == await world.expected(filters)
    whole = await world.prove(filters)
    assert whole["next_cursor"] is None
    assert sum(map(postings, pages)) == postings(whole)
    for page in pages:
        assert postings(page) <= limit
        assert len(page["entries"]) <= postings(page)
        assert page["checkpoint"] == pages[0]["checkpoint"]
        assert page["index"] == pages[0]["index"]
    assert all(postings(page) == limit for page in pages[:-1])
    assert all("map" in part for part in pages[0]["buckets"])
    assert not any("map" in part for page in pages[1:] for part in page["buckets"])
    if len(pages) > 1:  # page 1 alone is not the answer
        assert not check_query_proof(pages[0], SIGNER.vkey, filters).ok


def broken_walks(pages: Pages) -> list[tuple[str, Pages]]:
    walks: list[tuple[str, Pages]] = []
    for n in range(len(pages)):
        walks.append((f"page {n + 1} dropped", pages[:n] + pages[n + 1 :]))
        walks.append((f"page {n + 1} repeated", pages[: n + 1] + pages[n:]))
        if n:
            walks.append((f"cut short before page {n + 1}", pages[:n]))
            ended = copy.deepcopy(pages[:n])
            ended[-1]["next_cursor"] = None
            walks.append((f"page {n} says it is the last", ended))
            swapped = [*pages[: n - 1], pages[n], pages[n - 1], *pages[n + 1 :]]
            walks.append((f"pages {n} and {n + 1} swapped", swapped))
            overlapping = copy.deepcopy(pages)
            first = overlapping[n]["buckets"][0]
            if first["start"] > 0:  # it continues a bucket of the page before
                before = next(
                    p
                    for p in reversed(pages[n - 1]["buckets"])
                    if (p["kind"], p["value"], p["bucket"])
                    == (first["kind"], first["value"], first["bucket"])
                )
                first["start"] -= 1
                first["postings"].insert(0, copy.deepcopy(before["postings"][-1]))
                walks.append((f"page {n + 1} overlaps page {n}", overlapping))
        for b, part in enumerate(pages[n]["buckets"]):
            if part["postings"]:
                skipping = copy.deepcopy(pages)
                del skipping[n]["buckets"][b]["postings"][0]
                skipping[n]["buckets"][b]["start"] += 1
                walks.append((f"page {n + 1} skips a posting of part {b}", skipping))
    return walks


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations, queries, st.sampled_from([1, 2, 3]))
async def test_every_broken_walk_fails(
    ops: list[tuple[str, str, str, float, str | None, int]], filters: EntryFilters, limit: int
) -> None:
    world = await history(ops)
    pages = await world.walk(filters, limit)
    for name, broken in broken_walks(pages):
        assert not verdict(broken, filters).ok, name


def walk_failures(pages: Pages, filters: EntryFilters) -> list[str]:
    return [str(failure) for failure in verdict(pages, filters).failures]


async def pinned_world() -> tuple[World, EntryFilters]:
    world = World()
    await world.commit([world.record("u-1", "doc.read", hours, "d-1") for hours in range(6)])
    return world, EntryFilters(actor_id="u-1")


async def test_a_walk_proves_page_ones_state_whatever_is_written_meanwhile() -> None:
    world, filters = await pinned_world()
    expected = await world.expected(filters)
    page = await world.prove(filters, limit=2)
    pages = [page]
    live = sorted(world.current.values(), key=lambda e: e.id)
    later = START.replace(day=2)
    await world.commit(
        [
            world.record("u-1", "doc.write", 1, "d-2"),  # recorded meanwhile
            live[-1].next_revision(later, "writer", actor=Actor(id="u-2")),  # moved away
            live[0].next_revision(later, "writer", deleted=True),  # deleted
        ]
    )
    while pages[-1]["next_cursor"] is not None:
        pages.append(await world.prove(filters, 2, pages[-1]["next_cursor"]))
    result = verdict(pages, filters)
    assert result.failures == ()
    assert [entry["id"] for entry in result.entries] == expected
    fresh = await world.walk(filters, 2)
    assert fresh[0]["tree_size"] > page["tree_size"]
    assert [e["id"] for e in verdict(fresh, filters).entries] == await world.expected(filters)
    spliced = [pages[0], fresh[1], *pages[2:]]
    assert walk_failures(spliced, filters) == [
        "page 2: is pinned to another checkpoint or index leaf"
    ]


async def test_a_walk_that_ends_early_names_the_bucket_it_left_unfinished() -> None:
    world, filters = await pinned_world()
    pages = await world.walk(filters, 4)
    assert len(pages) == 2
    ended = copy.deepcopy(pages[:1])
    ended[0]["next_cursor"] = None
    assert walk_failures(ended, filters) == [
        "bucket actor 'u-1' all: the walk ends at 4 of its 6 postings"
    ]
    assert walk_failures(pages[:1], filters) == [
        "walk: page 1 names a next page, which is missing",
        "bucket actor 'u-1' all: the walk ends at 4 of its 6 postings",
    ]
    assert walk_failures([pages[0], pages[1], pages[1]], filters) == [
        "page 3: follows page 2, whose next_cursor is null"
    ]
    assert walk_failures([pages[1]], filters) == [
        "bucket actor 'u-1' all: page 1 gives no map proof of it"
    ]


async def test_a_cursor_of_another_query_or_an_altered_one_is_refused() -> None:
    world, filters = await pinned_world()
    cursor = (await world.prove(filters, limit=2))["next_cursor"]
    assert cursor is not None
    for other, text, why in (
        (EntryFilters(actor_id="u-2"), cursor, "was issued for another query"),
        (filters, cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB"), "is not a cursor"),
        (filters, "not-a-cursor", "is not a cursor"),
    ):
        with pytest.raises(ValidationFailed, match=why):
            await world.prove(other, 2, text)
