"""CursorCodec: opaque cursors that name a position and only work where they were issued."""

from __future__ import annotations

import string
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit_trail.core import CursorCodec, Position, ValidationFailed, parse_query
from tests.unit.strategies import utc_millis

SECRET = b"s" * 32
codec = CursorCodec(SECRET)
SCOPE = parse_query({"tag": ["ui"]}).scope()
positions = st.builds(Position, utc_millis, st.text(st.characters(codec="utf-8"), max_size=40))
AT = Position(datetime(2026, 11, 28, 9, 30, 0, 123000, tzinfo=UTC), "01JDKX8Z6Q0000000000000000")


def refused(cursor: str, *, tenant: str = "acme", scope: str = SCOPE) -> None:
    with pytest.raises(ValidationFailed) as caught:
        codec.decode(cursor, tenant=tenant, scope=scope)
    assert [e.field for e in caught.value.errors] == ["cursor"]


@given(positions)
def test_a_cursor_names_its_position(position: Position) -> None:
    cursor = codec.encode(position, tenant="acme", scope=SCOPE)
    assert codec.decode(cursor, tenant="acme", scope=SCOPE) == position


@given(positions)
def test_cursors_are_url_safe_text(position: Position) -> None:
    cursor = codec.encode(position, tenant="acme", scope=SCOPE)
    assert set(cursor) <= set(string.ascii_letters + string.digits + "-_.")


@given(positions, st.data())
def test_a_cursor_with_any_character_changed_is_refused(
    position: Position, data: st.DataObject
) -> None:
    cursor = codec.encode(position, tenant="acme", scope=SCOPE)
    index = data.draw(st.integers(0, len(cursor) - 1))
    replacement = data.draw(st.characters(codec="utf-8").filter(lambda c: c != cursor[index]))
    refused(cursor[:index] + replacement + cursor[index + 1 :])


def test_every_single_character_change_of_one_cursor_is_refused() -> None:
    cursor = codec.encode(AT, tenant="acme", scope=SCOPE)
    alphabet = string.ascii_letters + string.digits + "-_.+/=! \n"
    for index, original in enumerate(cursor):
        for replacement in alphabet.replace(original, ""):
            refused(cursor[:index] + replacement + cursor[index + 1 :])


@pytest.mark.parametrize("junk", ["!", "\n", " ", "=", "+", "/", "."])
def test_a_cursor_with_a_stray_character_inserted_is_refused(junk: str) -> None:
    cursor = codec.encode(AT, tenant="acme", scope=SCOPE)
    for index in range(len(cursor) + 1):
        refused(cursor[:index] + junk + cursor[index:])


def test_a_truncated_cursor_is_refused() -> None:
    cursor = codec.encode(AT, tenant="acme", scope=SCOPE)
    for end in range(len(cursor)):
        refused(cursor[:end])


@pytest.mark.parametrize("cursor", ["", ".", "..", "a.b.c", "not a cursor", "é.é", "\x00"])
def test_garbage_is_refused(cursor: str) -> None:
    refused(cursor)


def test_a_cursor_from_another_tenant_is_refused() -> None:
    refused(codec.encode(AT, tenant="acme", scope=SCOPE), tenant="globex")


def test_a_cursor_from_another_query_is_refused() -> None:
    other_filters = parse_query({"tag": ["ux"]}).scope()
    other_sort = parse_query({"tag": ["ui"], "sort": ["occurred_at"]}).scope()
    for scope in (other_filters, other_sort):
        refused(codec.encode(AT, tenant="acme", scope=scope))


def test_the_page_size_may_change_between_pages() -> None:
    cursor = codec.encode(AT, tenant="acme", scope=parse_query({"tag": ["ui"]}).scope())
    scope = parse_query({"tag": ["ui"], "limit": ["7"]}).scope()
    assert codec.decode(cursor, tenant="acme", scope=scope) == AT


def test_a_cursor_signed_with_another_secret_is_refused() -> None:
    refused(CursorCodec(b"t" * 32).encode(AT, tenant="acme", scope=SCOPE))


@pytest.mark.parametrize("secret", [b"", b"short", b"x" * 15])
def test_a_short_secret_is_refused(secret: bytes) -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        CursorCodec(secret)


def test_a_16_byte_secret_is_enough() -> None:
    short = CursorCodec(b"x" * 16)
    assert short.decode(short.encode(AT, tenant="t", scope="s"), tenant="t", scope="s") == AT
