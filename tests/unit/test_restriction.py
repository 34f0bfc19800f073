"""Restriction: what a restricted reader sees, and how its queries are narrowed; the
viewer token use case and adapter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit_trail.adapters.auth.viewer_tokens import ViewerTokens, is_viewer_token
from audit_trail.adapters.clock import FixedClock
from audit_trail.core import (
    Actor,
    Entry,
    EntryFilters,
    Forbidden,
    Outcome,
    Principal,
    Target,
    Unauthenticated,
    ValidationFailed,
)
from audit_trail.core.checks import ErrorCollector
from audit_trail.core.restriction import UNRESTRICTED, Restriction, parse_restriction
from audit_trail.core.usecases.viewer_tokens import (
    MintViewerToken,
    MintViewerTokenCommand,
    parse_viewer_token_body,
)

NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
IDS = st.sampled_from(["a", "b", "c"])


def _entry(actor: str, target: tuple[str, str] | None) -> Entry:
    return Entry(
        id="e-1",
        tenant="acme",
        revision=1,
        action="doc.read",
        outcome=Outcome.SUCCESS,
        actor=Actor(actor),
        target=None if target is None else Target(*target),
        occurred_at=NOW,
        recorded_at=NOW,
        recorded_by="u-1",
    )


restrictions = st.one_of(
    st.just(UNRESTRICTED),
    IDS.map(Restriction),
    st.tuples(IDS, IDS).map(lambda t: Restriction(target_type=t[0], target_id=t[1])),
)
filters = st.builds(
    EntryFilters,
    actor_id=st.none() | IDS,
    target_type=st.none() | IDS,
    target_id=st.none() | IDS,
)
entries = st.builds(_entry, IDS, st.none() | st.tuples(IDS, IDS))


@given(restrictions, filters, entries)
def test_a_narrowed_query_matches_what_both_the_query_and_the_restriction_allow(
    restriction: Restriction, query: EntryFilters, entry: Entry
) -> None:
    narrowed = restriction.narrow(query)
    both = query.matches(entry) and restriction.allows(entry)
    if narrowed is None:
        assert not both
    else:
        assert narrowed.matches(entry) == both


def test_the_default_restricts_nothing() -> None:
    assert UNRESTRICTED.unrestricted
    assert UNRESTRICTED.allows(_entry("a", None))
    assert UNRESTRICTED.narrow(EntryFilters(actor_id="x")) == EntryFilters(actor_id="x")
    assert UNRESTRICTED.key() == ""


def test_an_actor_and_a_target_at_once_or_half_a_target_is_not_a_restriction() -> None:
    with pytest.raises(ValueError, match="not both"):
        Restriction("a", "document", "d-1")
    with pytest.raises(ValueError, match="both its type and its id"):
        Restriction(target_type="document")


def test_distinct_restrictions_have_distinct_keys() -> None:
    keys = {
        Restriction("a:b").key(),
        Restriction(target_type="a", target_id="b").key(),
        Restriction(target_type="a:b", target_id="c").key(),
        Restriction(target_type="a", target_id="b:c").key(),
    }
    assert len(keys) == 4


@pytest.mark.parametrize(
    "restriction", [UNRESTRICTED, Restriction("u-1"), Restriction(None, "doc", "d-1")]
)
def test_the_json_form_reads_back(restriction: Restriction) -> None:
    errors = ErrorCollector()
    assert parse_restriction(restriction.as_json(), errors) == restriction
    assert errors.items == []


def test_the_body_gives_the_lifetime_and_the_restriction() -> None:
    assert parse_viewer_token_body({}) == (300, UNRESTRICTED)
    assert parse_viewer_token_body({"ttl_seconds": 3600, "actor_id": "u"}) == (
        3600,
        Restriction("u"),
    )
    with pytest.raises(ValidationFailed):
        parse_viewer_token_body({"ttl_seconds": True})
    with pytest.raises(ValidationFailed):
        parse_viewer_token_body([])


async def test_minted_tokens_verify_to_a_restricted_reader_until_they_expire() -> None:
    tokens = ViewerTokens(b"k" * 32)
    clock = FixedClock(datetime.now(UTC))
    mint = MintViewerToken(tokens, clock)
    admin = Principal("u-1", "acme", frozenset({"audit:admin"}))
    minted = await mint.execute(MintViewerTokenCommand(admin, Restriction("u-7"), 60))
    assert is_viewer_token(minted.token)
    reader = tokens.verify(minted.token)
    assert reader == Principal("viewer:u-1", "acme", frozenset({"audit:read"}), Restriction("u-7"))
    with pytest.raises(Unauthenticated):
        ViewerTokens(b"o" * 32).verify(minted.token)
    clock.advance(timedelta(hours=-1))
    old = await mint.execute(MintViewerTokenCommand(admin, UNRESTRICTED, 60))
    with pytest.raises(Unauthenticated, match="expired"):
        tokens.verify(old.token)


async def test_a_viewer_token_is_accepted_from_its_issue_to_its_expiry_only() -> None:
    """The window a token cache may keep a viewer token's answer for."""
    tokens = ViewerTokens(b"k" * 32)
    issued = datetime.now(UTC).replace(microsecond=0)
    mint = MintViewerToken(tokens, FixedClock(issued))
    admin = Principal("u-1", "acme", frozenset({"audit:admin"}))
    minted = await mint.execute(MintViewerTokenCommand(admin, UNRESTRICTED, 60))
    verified = tokens.verify_token(minted.token)
    assert (verified.valid_from, verified.expires_at) == (
        issued.timestamp(),
        issued.timestamp() + 60,
    )


async def test_only_an_unrestricted_admin_mints_and_for_an_hour_at_most() -> None:
    mint = MintViewerToken(ViewerTokens(b"k" * 32), FixedClock(NOW))
    admin = Principal("u-1", "acme", frozenset({"audit:admin"}))
    with pytest.raises(ValidationFailed):
        await mint.execute(MintViewerTokenCommand(admin, UNRESTRICTED, 3601))
    with pytest.raises(Forbidden):
        await mint.execute(
            MintViewerTokenCommand(Principal("u", "acme", frozenset({"audit:read"})), UNRESTRICTED)
        )
    restricted = Principal("u", "acme", frozenset({"audit:admin"}), Restriction("u"))
    with pytest.raises(Forbidden):
        await mint.execute(MintViewerTokenCommand(restricted, UNRESTRICTED))
